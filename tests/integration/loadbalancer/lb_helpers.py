"""Helpers for the load balancer tests: ansible-playbook runs from the checkout, the lab CLI, HTTPS through the VIP."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def ansible_env() -> dict[str, str]:
    """Environment for ansible-playbook: this checkout as the edgefleet.k3s collection (what `make collection` does)."""
    base = ROOT / ".build" / "collections"
    link = base / "ansible_collections" / "edgefleet" / "k3s"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(ROOT)
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(base),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
    )
    return env


def playbook(inventory: Path, name: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run tests/integration/loadbalancer/NAME against INVENTORY."""
    return subprocess.run(
        [str(PLAYBOOK), "-i", str(inventory), str(HERE / name), *args],
        cwd=ROOT,
        env=ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """Host → {ok, changed, unreachable, failed} from the PLAY RECAP."""
    text = stdout.rsplit("PLAY RECAP", 1)[-1]
    pattern = r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
    return {
        m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
        for m in re.findall(pattern, text, re.M)
    }


def flat(text: str) -> str:
    """Join Ansible's wrapped output lines so a message can be searched as one string."""
    return " ".join(text.split())


def lab_cli(lab: str, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "lab"))
    env["CONTAINERS_CONF"] = str(ROOT / "tests" / "lab" / "containers.conf")
    return subprocess.run(
        [sys.executable, "-m", "edgefleet_lab", "--lab", lab, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def inventory_vars(inventory: Path) -> dict:
    data = yaml.safe_load(inventory.read_text())
    return data["all"]["children"]["k3s_cluster"]["vars"]


def https_get(address: str, port: int, path: str, timeout: float = 3.0) -> tuple[int, str]:
    """GET https://ADDRESS:PORT/PATH without certificate verification (the test backends are self-signed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://{address}:{port}{path}", context=ctx, timeout=timeout) as resp:
        return resp.status, resp.read().decode()
