"""One lab host: a systemd container on the lab network with a static IP, reachable over SSH with the lab key."""

import socket
import subprocess
import time

from edgefleet_lab import mirror, podman, ssh
from edgefleet_lab.state import LABEL, Lab
from edgefleet_lab.topology import Host

CAPS = "SYS_ADMIN,NET_ADMIN,NET_RAW"
BOOT_TIMEOUT = 90


def mac(ip: str) -> str:
    """A fixed, locally administered MAC per address: neighbours' ARP caches stay right across stop/start/heal."""
    return "02:42:" + ":".join(f"{int(part):02x}" for part in ip.split("."))


def run_args(lab: Lab, host: Host, ip: str, image: str) -> list[str]:
    args = [
        "run", "--detach",
        "--name", lab.container(host.name),
        "--hostname", host.name,
        "--network", lab.network,
        "--ip", ip,
        "--mac-address", mac(ip),
        "--network-alias", host.name,
        "--systemd=always",
        "--label", f"{LABEL}={lab.name}",
        "--label", f"edgefleet.role={host.role}",
        "--label", f"edgefleet.host={host.name}",
    ]  # fmt: skip
    if host.privileged:
        args.append("--privileged")
    else:
        args += ["--cap-add", CAPS]
    if host.role == "mirror":
        args += ["--volume", f"{lab.mirror_dir}:{mirror.SERVE_DIR}:ro"]
    return [*args, image, "/sbin/init"]


def create(lab: Lab, host: Host, ip: str, image: str) -> None:
    podman.run(*run_args(lab, host, ip, image))


def wait_port(ip: str, port: int = 22, timeout: float = BOOT_TIMEOUT) -> None:
    """Wait until IP:PORT accepts TCP connections (cheap: no podman call while the host boots)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{ip}:{port} did not open within {timeout:.0f} s")


def wait_systemd(lab: Lab, ip: str, timeout: float = BOOT_TIMEOUT) -> str:
    """Over SSH, wait until systemd finished booting; return its state (running or degraded)."""
    proc = subprocess.run(
        ssh.command(lab, ip, "systemctl", "is-system-running", "--wait"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    state = proc.stdout.decode().strip()
    if state not in ("running", "degraded"):
        raise TimeoutError(f"{ip}: systemd is {state or 'unreachable'} ({proc.stderr.decode().strip()})")
    return state


def failed_units(lab: Lab, host: Host) -> list[str]:
    out = podman.run(
        "exec", lab.container(host.name), "systemctl", "list-units", "--failed", "--plain", "--no-legend", check=False
    )
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def install_key(lab: Lab, host: Host) -> None:
    podman.run(
        "exec", "-i", lab.container(host.name), "sh", "-c",
        "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys",
        input=lab.pubkey.read_bytes(),
    )  # fmt: skip


def connect(lab: Lab, host: Host, ip: str) -> None:
    podman.run(
        "network", "connect", "--ip", ip, "--mac-address", mac(ip), "--alias", host.name,
        lab.network, lab.container(host.name),
    )  # fmt: skip


def bring_up(lab: Lab, host: Host, ip: str, image: str, log=print) -> float:
    """Create (or start, or reconnect) HOST and wait until SSH with the lab key works; return seconds taken."""
    started = time.monotonic()
    name = lab.container(host.name)
    info = podman.inspect_container(name)
    if info is None:
        create(lab, host, ip, image)
    else:
        if lab.network not in ((info.get("NetworkSettings") or {}).get("Networks") or {}):
            connect(lab, host, ip)
        if not info["State"]["Running"]:
            podman.run("start", name)
    wait_port(ip)
    install_key(lab, host)
    state = wait_systemd(lab, ip)
    if host.role == "mirror":
        mirror.install_service(lab)
        mirror.wait(ip)
    if host.role == "gpu":
        simulate_gpu(lab, host)
    took = time.monotonic() - started
    note = "" if state == "running" else f" (degraded: {', '.join(failed_units(lab, host))})"
    log(f"  {host.name:10} {ip:15} ready in {took:4.1f} s{note}")
    return took


GPU_SIMULATION = """set -e
# LAB GPU SIMULATION (edgefleet lab): no real GPU exists here. A stand-in nvidia-container-runtime in the NVIDIA
# toolkit directory k3s searches, and two placeholder device nodes, so runtime detection sees a GPU host.
mkdir -p /usr/local/nvidia/toolkit
cat > /usr/local/nvidia/toolkit/nvidia-container-runtime <<'EOS'
#!/bin/sh
# edgefleet lab GPU simulation: stands in for the NVIDIA container runtime and delegates to runc.
exec runc "$@"
EOS
chmod 0755 /usr/local/nvidia/toolkit/nvidia-container-runtime
for i in 0 1; do [ -e /dev/nvidia$i ] || mknod -m 0666 /dev/nvidia$i c 195 $i; done
"""


def simulate_gpu(lab: Lab, host: Host) -> None:
    podman.run("exec", "-i", lab.container(host.name), "sh", "-s", input=GPU_SIMULATION.encode())


def remove(lab: Lab, names: list[str]) -> None:
    """Stop and remove the containers of NAMES; podman 4.3 `rm -f` of several systemd containers can race, so
    stop first, then remove, then check and retry."""
    containers = [lab.container(n) for n in names]
    if not containers:
        return
    podman.run("stop", "--time", "5", *containers, check=False, timeout=120)
    for _attempt in range(3):
        podman.run("rm", "--force", "--time", "1", *containers, check=False, timeout=120)
        containers = [c for c in containers if podman.container_exists(c)]
        if not containers:
            return
        time.sleep(1)
    raise podman.PodmanError(f"could not remove {', '.join(containers)}")
