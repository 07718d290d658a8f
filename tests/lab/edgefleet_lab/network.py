"""The lab network: a podman bridge on a free 10.89.X.0/24."""

from edgefleet_lab import podman
from edgefleet_lab.state import LABEL, Lab, global_lock

PREFIX_BASE = "10.89"


def ensure(lab: Lab, state: dict) -> str:
    """Create the lab network if needed; return the subnet prefix ("10.89.X")."""
    if podman.network_exists(lab.network):
        info = podman.run("network", "inspect", lab.network, "--format", "{{range .Subnets}}{{.Subnet}} {{end}}")
        subnet = info.split()[0]
        return subnet.rsplit(".", 1)[0]
    with global_lock():
        used = podman.used_subnets()
        preferred = [state["prefix"]] if state.get("prefix") else []
        candidates = preferred + [f"{PREFIX_BASE}.{x}" for x in range(1, 255)]
        errors = []
        for prefix in candidates:
            if f"{prefix}.0/24" in used:
                continue
            try:
                podman.run(
                    "network", "create",
                    "--subnet", f"{prefix}.0/24",
                    "--gateway", f"{prefix}.1",
                    "--label", f"{LABEL}={lab.name}",
                    lab.network,
                )  # fmt: skip
                return prefix
            except podman.PodmanError as exc:  # e.g. the subnet is routed on this machine already
                errors.append(str(exc))
                if len(errors) > 5:
                    break
        raise SystemExit("no free 10.89.X.0/24 for the lab network:\n" + "\n".join(errors))


def remove(lab: Lab) -> None:
    if podman.network_exists(lab.network):
        podman.run("network", "rm", "--force", lab.network)
