# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the role and playbook tests: run ansible-playbook from the checkout against throw-away inventories."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ("prereq", "runtime", "server", "agent", "loadbalancer", "validate")
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def _collections_path() -> Path:
    """Make ansible_collections/edgefleet/k3s point at this checkout (what `make collection` does)."""
    base = ROOT / ".build" / "collections"
    link = base / "ansible_collections" / "edgefleet" / "k3s"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(ROOT)
    return base


def ansible_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(_collections_path()),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    return env


# Hosts that cannot be reached: SSH to 127.0.0.1 port 1 is refused at once. If a playbook got past validation it
# would report these hosts UNREACHABLE, which is what the tests look for.
UNREACHABLE = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "nobody"}


def make_inventory(
    tmp_path: Path,
    servers: int = 3,
    agents: int = 1,
    gpu_agents: int = 0,
    lbs: int = 1,
    cluster_vars: dict | None = None,
    group_vars: dict[str, dict] | None = None,
    host_vars: dict[str, dict] | None = None,
) -> Path:
    """Write an inventory with the lab's group names; every host is unreachable."""

    def hosts(prefix: str, count: int) -> dict:
        return {f"{prefix}-{i}": dict(UNREACHABLE) for i in range(1, count + 1)}

    groups = {
        "k3s_servers": hosts("server", servers),
        "k3s_agents": hosts("agent", agents),
        "k3s_gpu_agents": hosts("gpu", gpu_agents),
        "k3s_loadbalancers": hosts("lb", lbs),
    }
    for host, values in (host_vars or {}).items():
        for members in groups.values():
            if host in members:
                members[host].update(values)
    children = {}
    for name, members in groups.items():
        children[name] = {"hosts": members or {}}
        children[name].update({"vars": (group_vars or {}).get(name, {})} if (group_vars or {}).get(name) else {})
    base_vars = {"k3s_version": "v1.36.1+k3s1", "k3s_release_base_url": "http://192.0.2.2"}
    if lbs:
        base_vars.update(k3s_lb_vip="192.0.2.10", k3s_api_endpoint="192.0.2.10")
    base_vars.update(cluster_vars or {})
    base_vars = {k: v for k, v in base_vars.items() if v is not None}
    inventory = {"k3s_cluster": {"children": children, "vars": base_vars}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def run_playbook(env: dict[str, str], inventory: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PLAYBOOK), "-i", str(inventory), str(ROOT / "playbooks" / playbook), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def flat(text: str) -> str:
    """Join the lines of Ansible's wrapped YAML output so a message can be searched as one string."""
    return " ".join(text.split())


def lab_cli(lab: str, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the lab CLI (tests/lab) for lab LAB."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "lab"))
    env["CONTAINERS_CONF"] = str(ROOT / "tests" / "lab" / "containers.conf")
    proc = subprocess.run(
        [sys.executable, "-m", "edgefleet_lab", "--lab", lab, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"lab {lab} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def changed_counts(stdout: str) -> dict[str, int]:
    """Host → changed count from a PLAY RECAP."""
    recap = stdout.rsplit("PLAY RECAP", 1)[-1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap, re.M)}
