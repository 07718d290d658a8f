"""Whole-lab operations: up (idempotent, topology changes), down, status."""

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from edgefleet_lab import hosts, image, inventory, network, podman, ssh
from edgefleet_lab.state import LABEL, Lab
from edgefleet_lab.topology import DEFAULTS, Host
from edgefleet_lab.topology import hosts as plan


def lab_containers(lab: Lab) -> dict[str, dict]:
    """Containers carrying this lab's label: host name -> {'container', 'state'}."""
    out = podman.run("ps", "-a", "--filter", f"label={LABEL}={lab.name}", "--format", "{{.Names}}\t{{.State}}")
    found = {}
    for line in out.splitlines():
        if "\t" in line:
            cname, cstate = line.split("\t", 1)
            found[cname.removeprefix(f"{lab.name}-")] = {"container": cname, "state": cstate}
    return found


def up(lab: Lab, counts: dict, log=print) -> dict:
    started = time.monotonic()
    state = lab.load()
    wanted = {**DEFAULTS, **state.get("topology", {}), **{k: v for k, v in counts.items() if v is not None}}
    desired = plan(wanted)
    ref = image.build(log=log)
    lab.ensure_key()
    lab.mirror_dir.mkdir(parents=True, exist_ok=True)
    prefix = network.ensure(lab, state)
    state.update(lab=lab.name, network=lab.network, prefix=prefix, subnet=f"{prefix}.0/24", image=ref)
    state["topology"] = {k: wanted[k] for k in DEFAULTS}
    state["hosts"] = {h.name: {"role": h.role, "ip": f"{prefix}.{h.octet}"} for h in desired}
    lab.save(state)

    existing = lab_containers(lab)
    extra = sorted(set(existing) - {h.name for h in desired})
    if extra:
        log(f"removing hosts no longer in the topology: {', '.join(extra)}")
        hosts.remove(lab, extra)
    log(f"lab {lab.name}: network {lab.network} {state['subnet']}, {len(desired)} hosts")
    errors = []
    with ThreadPoolExecutor(max_workers=len(desired)) as pool:
        futures = {pool.submit(hosts.bring_up, lab, h, f"{prefix}.{h.octet}", ref, log): h for h in desired}
        for fut, h in futures.items():
            try:
                fut.result()
            except Exception as exc:  # report every host, fail at the end
                errors.append(f"{h.name}: {exc}")
    write_outputs(lab, state)
    if errors:
        raise SystemExit("lab up failed:\n  " + "\n  ".join(errors))
    log(f"lab {lab.name} up in {time.monotonic() - started:.1f} s; inventory {lab.inventory}")
    return state


def write_outputs(lab: Lab, state: dict) -> None:
    inventory.write(lab, state, lab.inventory)
    lab.ssh_config.write_text(ssh.config(lab, {n: h["ip"] for n, h in state["hosts"].items()}))


def down(lab: Lab, log=print) -> None:
    started = time.monotonic()
    names = sorted(lab_containers(lab))
    hosts.remove(lab, names)
    network.remove(lab)
    if lab.dir.exists():
        shutil.rmtree(lab.dir)
    log(f"lab {lab.name} down ({len(names)} containers removed) in {time.monotonic() - started:.1f} s")


def host_status(lab: Lab, name: str) -> dict:
    info = podman.inspect_container(lab.container(name))
    if info is None:
        return {"state": "missing", "network": "-"}
    nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        "state": info["State"]["Status"],
        "network": "connected" if lab.network in nets else "isolated",
    }


def status(lab: Lab) -> list[dict]:
    state = lab.require_state()
    rows = []
    for name, h in state["hosts"].items():
        rows.append({"host": name, "role": h["role"], "ip": h["ip"], **host_status(lab, name)})
    return rows


def host_entry(lab: Lab, name: str) -> tuple[Host, str]:
    """(Host, ip) of NAME in the running lab (accepts `server-1` or `<lab>-server-1`)."""
    state = lab.require_state()
    name = name.removeprefix(f"{lab.name}-")
    if name not in state["hosts"]:
        raise SystemExit(f"lab {lab.name} has no host {name!r} (hosts: {', '.join(state['hosts'])})")
    h = state["hosts"][name]
    octet = int(h["ip"].rsplit(".", 1)[1])
    return Host(name, h["role"], octet), h["ip"]
