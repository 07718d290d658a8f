"""Command line: python -m edgefleet_lab [--lab NAME] VERB …"""

import argparse
import os
import sys

from edgefleet_lab import faults, fleet, image, inventory, mirror, podman, preflight, ssh
from edgefleet_lab.state import Lab


def cmd_image(lab: Lab, ns) -> int:
    preflight.check("image")
    image.build()
    return 0


def cmd_up(lab: Lab, ns) -> int:
    preflight.check("up")
    if not image.image_exists():
        preflight.check("image")
    counts = {"servers": ns.servers, "agents": ns.agents, "gpu_agents": ns.gpu_agents, "lbs": ns.lbs}
    fleet.up(lab, counts)
    return 0


def cmd_down(lab: Lab, ns) -> int:
    fleet.down(lab)
    return 0


def cmd_status(lab: Lab, ns) -> int:
    if not lab.load():
        print(f"lab {lab.name} is down")
        return 0
    rows = fleet.status(lab)
    state = lab.load()
    print(f"lab {lab.name}  network {state['network']} {state['subnet']}  image {state['image']}")
    print(f"{'HOST':10} {'ROLE':7} {'IP':15} {'STATE':10} NETWORK")
    for r in rows:
        print(f"{r['host']:10} {r['role']:7} {r['ip']:15} {r['state']:10} {r['network']}")
    return 0


def cmd_inventory(lab: Lab, ns) -> int:
    path = inventory.write(lab, lab.require_state(), ns.output or lab.inventory)
    print(path)
    return 0


def cmd_ssh_config(lab: Lab, ns) -> int:
    state = lab.require_state()
    print(ssh.config(lab, {n: h["ip"] for n, h in state["hosts"].items()}), end="")
    return 0


def cmd_mirror(lab: Lab, ns) -> int:
    if ns.action == "publish":
        if not ns.dir:
            raise SystemExit("mirror publish needs a DIR")
        files = mirror.publish(lab, ns.dir)
        print(f"published {len(files)} files into {lab.mirror_dir}")
        state = lab.load()
        if state:
            print(f"served at http://{state['hosts']['mirror']['ip']}/")
        return 0
    state = lab.require_state()
    mirror.set_running(lab, state["hosts"]["mirror"]["ip"], ns.action == "start")
    print(f"mirror {'started' if ns.action == 'start' else 'stopped'}")
    return 0


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lab", default=argparse.SUPPRESS, help="lab name (env EDGEFLEET_LAB, default edgefleet)")
    p = argparse.ArgumentParser(prog="edgefleet_lab", description="edgefleet podman fleet lab", parents=[common])
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def add(name, func, help):
        sp = sub.add_parser(name, help=help, parents=[common])
        sp.set_defaults(func=func)
        return sp

    add("image", cmd_image, "build the host image unless its recipe tag exists")
    sp = add("up", cmd_up, "create/adjust the lab (unset counts keep the lab's current value, else the default)")
    sp.add_argument("--servers", type=int)
    sp.add_argument("--agents", type=int)
    sp.add_argument("--gpu-agents", type=int)
    sp.add_argument("--lbs", type=int)
    add("down", cmd_down, "remove every host, the network and the lab state")
    add("status", cmd_status, "table of hosts, IPs and states")
    sp = add("inventory", cmd_inventory, "write the Ansible inventory (default .lab/<lab>/inventory.yml)")
    sp.add_argument("--output")
    add("ssh-config", cmd_ssh_config, "print an ssh_config for the lab hosts")
    sp = add("mirror", cmd_mirror, "mirror publish DIR | mirror stop | mirror start")
    sp.add_argument("action", choices=["publish", "stop", "start"])
    sp.add_argument("dir", nargs="?")
    for name, spec in faults.VERBS.items():
        sp = add(name, spec["func"], spec["help"])
        for flags, kwargs in spec["args"]:
            sp.add_argument(*flags, **kwargs)
    return p


def main(argv=None) -> int:
    ns = parser().parse_args(argv)
    lab = Lab(getattr(ns, "lab", None) or os.environ.get("EDGEFLEET_LAB", "edgefleet"))
    try:
        return ns.func(lab, ns) or 0
    except (podman.PodmanError, TimeoutError, ValueError) as exc:
        print(f"edgefleet_lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
