"""Fault verbs on single hosts. Each verb registers itself in VERBS; the CLI builds its subcommands from it,
so a new fault (partition, slow link …) is one decorated function here."""

import argparse
import subprocess
import sys

from edgefleet_lab import fleet, hosts, podman, ssh
from edgefleet_lab.state import Lab

VERBS = {}


def verb(name: str, help: str, args: tuple = ()):
    """Register FUNC(lab, ns) as CLI verb NAME; ARGS are (flags, kwargs) tuples for argparse."""

    def register(func):
        VERBS[name] = {"func": func, "help": help, "args": args}
        return func

    return register


HOST_ARG = (("host",), {"help": "host name, e.g. server-1"})


@verb("stop", "power a host off (podman stop; --kill for an abrupt stop)",
      (HOST_ARG, (("--kill",), {"action": "store_true", "help": "SIGKILL instead of a clean shutdown"})))  # fmt: skip
def stop(lab: Lab, ns) -> int:
    host, _ip = fleet.host_entry(lab, ns.host)
    name = lab.container(host.name)
    if ns.kill:
        podman.run("kill", name, check=False)
    podman.run("stop", "--time", "10", name)
    print(f"{host.name} stopped")
    return 0


@verb("start", "power a stopped host on and wait until SSH answers", (HOST_ARG,))
def start(lab: Lab, ns) -> int:
    host, ip = fleet.host_entry(lab, ns.host)
    state = lab.require_state()
    hosts.bring_up(lab, host, ip, state["image"])
    return 0


@verb("rebuild", "replace hosts by fresh ones from the image (same name, IP and MAC; nothing of the old disk kept)",
      ((("hosts",), {"nargs": "+", "help": "host names, e.g. server-1 server-2"}),))  # fmt: skip
def rebuild(lab: Lab, ns) -> int:
    entries = [fleet.host_entry(lab, name) for name in ns.hosts]
    state = lab.require_state()
    hosts.remove(lab, [host.name for host, _ip in entries])
    for host, ip in entries:
        hosts.bring_up(lab, host, ip, state["image"])
    print(f"rebuilt {', '.join(host.name for host, _ip in entries)}")
    return 0


@verb("isolate", "cut a host off the lab network (podman network disconnect)", (HOST_ARG,))
def isolate(lab: Lab, ns) -> int:
    host, _ip = fleet.host_entry(lab, ns.host)
    if fleet.host_status(lab, host.name)["network"] == "isolated":
        print(f"{host.name} is already isolated")
        return 0
    podman.run("network", "disconnect", lab.network, lab.container(host.name))
    print(f"{host.name} isolated")
    return 0


@verb("heal", "reconnect an isolated host with its own address", (HOST_ARG,))
def heal(lab: Lab, ns) -> int:
    host, ip = fleet.host_entry(lab, ns.host)
    if fleet.host_status(lab, host.name)["network"] == "connected":
        print(f"{host.name} is already connected")
        return 0
    hosts.connect(lab, host, ip)
    if fleet.host_status(lab, host.name)["state"] == "running":
        ssh.wait(lab, ip, timeout=30)
    print(f"{host.name} reconnected as {ip}")
    return 0


@verb("exec", "run a command in a host (stdin is /dev/null): exec HOST -- CMD …",
      (HOST_ARG, (("cmd",), {"nargs": argparse.REMAINDER, "help": "command and arguments (after --)"})))  # fmt: skip
def exec_(lab: Lab, ns) -> int:
    host, _ip = fleet.host_entry(lab, ns.host)
    cmd = ns.cmd[1:] if ns.cmd and ns.cmd[0] == "--" else ns.cmd
    if not cmd:
        raise SystemExit("exec: no command given (exec HOST -- CMD …)")
    proc = subprocess.run(
        ["podman", "exec", lab.container(host.name), *cmd], stdin=subprocess.DEVNULL, env=podman.env(), check=False
    )
    sys.stdout.flush()
    return proc.returncode


PARTITION_TAG = "edgefleet-partition"


PEERS_ARG = (("--from",), {"dest": "peers", "nargs": "+", "required": True, "help": "peer host names"})


@verb("partition", "drop traffic between a host and the given peers (iptables in HOST; the link stays up)",
      (HOST_ARG, PEERS_ARG))  # fmt: skip
def partition(lab: Lab, ns) -> int:
    host, _ip = fleet.host_entry(lab, ns.host)
    rules = []
    for peer in ns.peers:
        _peer, peer_ip = fleet.host_entry(lab, peer)
        for chain, flag in (("INPUT", "-s"), ("OUTPUT", "-d")):
            rules.append(f"iptables -w -I {chain} {flag} {peer_ip} -m comment --comment {PARTITION_TAG} -j DROP")
    podman.run("exec", lab.container(host.name), "sh", "-ec", " && ".join(rules))
    print(f"{host.name} partitioned from {', '.join(ns.peers)}")
    return 0


@verb("unpartition", "remove every partition rule `partition` put in a host", (HOST_ARG,))
def unpartition(lab: Lab, ns) -> int:
    host, _ip = fleet.host_entry(lab, ns.host)
    script = (
        f"iptables -w -S | grep -- '--comment {PARTITION_TAG}' | sed 's/^-A /-D /' | "
        "while read -r rule; do eval iptables -w $rule; done"
    )
    podman.run("exec", lab.container(host.name), "sh", "-ec", script)
    print(f"{host.name}: partition rules removed")
    return 0
