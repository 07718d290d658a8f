# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The podman fleet lab (tests/lab), driven through its CLI: `python -m edgefleet_lab --lab NAME …`; SSH and podman
with the lab's key and containers.conf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from edgefleet_testing.ansible import Run, playbook
from edgefleet_testing.paths import ROOT, VERSION, build_releases

LAB_PATH = ROOT / "tests" / "lab"
CONTAINERS_CONF = LAB_PATH / "containers.conf"


# "server status" of every server of haproxy's backend k3s_servers, from the admin socket of a load balancer.
HAPROXY_STATES = (
    "import socket\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.connect('/run/haproxy/admin.sock')\n"
    "s.sendall(b'show stat\\n')\n"
    "data = b''\n"
    "while chunk := s.recv(65536):\n"
    "    data += chunk\n"
    "for line in data.decode().splitlines():\n"
    "    f = line.split(',')\n"
    "    if len(f) > 17 and f[0] == 'k3s_servers' and f[1] != 'BACKEND':\n"
    "        print(f[1], f[17])\n"
)


def lab_env() -> dict[str, str]:
    """The lab CLI's environment: its package on PYTHONPATH, the lab's containers.conf unless one is set already
    (what the CLI itself does), and no EDGEFLEET_LAB (the lab is always named with --lab)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(LAB_PATH)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    env.pop("EDGEFLEET_LAB", None)
    return env


class Lab:
    """One lab named NAME: containers NAME-<host>, network NAME-net, state in .lab/NAME/."""

    def __init__(self, name: str):
        self.name = name
        self.dir = ROOT / ".lab" / name

    # -- the CLI ------------------------------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "edgefleet_lab", "--lab", self.name, *args],
            cwd=ROOT,
            env=lab_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"lab {self.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def up(self, servers: int = 1, agents: int = 0, gpu_agents: int = 0, lbs: int = 0, publish: bool = True) -> Path:
        """Bring the lab up with this topology, publish the releases on its mirror, write its inventory."""
        self.cli("down", check=False, timeout=300)  # leftovers of an interrupted run
        topology = ["--servers", str(servers), "--agents", str(agents), "--gpu-agents", str(gpu_agents)]
        self.cli("up", *topology, "--lbs", str(lbs))
        if publish:
            self.cli("mirror", "publish", str(build_releases()))
        self.cli("inventory", "--output", str(self.inventory))
        return self.inventory

    def down(self) -> None:
        self.cli("down", check=False, timeout=300)

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def state(self) -> dict:
        return json.loads((self.dir / "state.json").read_text())

    def ip(self, host: str) -> str:
        return self.state["hosts"][host]["ip"]

    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    def cluster_vars(self) -> dict:
        data = yaml.safe_load(self.inventory.read_text())
        return data["all"]["children"]["k3s_cluster"].get("vars") or {}

    # -- hosts --------------------------------------------------------------------------------------------------------

    def sh(self, host: str, *cmd: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run CMD in HOST (podman exec, not Ansible)."""
        return self.cli("exec", host, "--", *cmd, check=check, timeout=timeout)

    def out(self, host: str, script: str) -> str:
        """stdout of a shell script run in HOST."""
        return self.sh(host, "sh", "-c", script).stdout

    def journal(self, host: str, *units: str) -> str:
        args = [arg for unit in units for arg in ("-u", unit)]
        return self.sh(host, "journalctl", "--no-pager", "-o", "short-iso", *args, check=False).stdout

    def unit(self, host: str, unit: str, *props: str) -> dict[str, str]:
        """systemctl show properties of UNIT on HOST."""
        text = self.sh(host, "systemctl", "show", unit, "--property=" + ",".join(props)).stdout
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def haproxy_backends(self, host: str) -> dict[str, str]:
        """Server → status (UP, DOWN, …) of the k3s_servers backend of the haproxy on HOST."""
        out = self.sh(host, "python3", "-c", HAPROXY_STATES).stdout
        return dict(line.split(None, 1) for line in out.splitlines() if line.strip())

    def ssh(self, host: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
        """CMD over SSH from this machine as root with the lab's key (ConnectTimeout 3 s); HOST is a lab host's name
        or an address."""
        hosts = self.state["hosts"]
        ip = hosts[host]["ip"] if host in hosts else host
        args = ["ssh", "-i", str(self.dir / "id_ed25519"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=3"]
        args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        return subprocess.run(
            [*args, f"root@{ip}", *cmd],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    @staticmethod
    def podman(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """podman ARGS with the lab's containers.conf; STDIN (e.g. a secret) goes on standard input, never the argv."""
        return subprocess.run(
            ["podman", *args],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=lab_env(),
            timeout=timeout,
            check=False,
        )

    # -- playbooks ----------------------------------------------------------------------------------------------------

    def play(self, name: str, *args: str, version: str | None = VERSION, **kwargs) -> Run:
        """Run playbooks/NAME against the lab's inventory (with -e k3s_version=VERSION unless version is None)."""
        extra = ["-e", f"k3s_version={version}"] if version else []
        return playbook(self.inventory, name, *extra, *args, **kwargs)
