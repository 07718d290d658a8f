# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the scenario tests: a podman lab (tests/lab) driven through its CLI, site.yml run against it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
RELEASES = Path(os.environ.get("EDGEFLEET_RELEASES") or ROOT / ".build" / "releases")
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.M,
)


def _collections_path() -> Path:
    """ansible_collections/edgefleet/k3s → this checkout (what `make collection` does)."""
    base = ROOT / ".build" / "collections"
    link = base / "ansible_collections" / "edgefleet" / "k3s"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(ROOT)
    return base


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(_collections_path()),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        CONTAINERS_CONF=str(ROOT / "tests" / "lab" / "containers.conf"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    return env


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """Host → {ok, changed, unreachable, failed} from the last PLAY RECAP of STDOUT."""
    if "PLAY RECAP" not in stdout:
        return {}
    text = stdout.rsplit("PLAY RECAP", 1)[1]
    return {
        m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")} for m in RECAP_LINE.finditer(text)
    }


def flat(text: str) -> str:
    """One line: Ansible wraps long messages."""
    return " ".join(text.split())


@dataclass
class Lab:
    """A lab named NAME, driven through `python -m edgefleet_lab --lab NAME`."""

    name: str

    @property
    def inventory(self) -> Path:
        return ROOT / ".lab" / self.name / "inventory.yml"

    def cli(self, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "lab"))
        env["CONTAINERS_CONF"] = str(ROOT / "tests" / "lab" / "containers.conf")
        proc = subprocess.run(
            [sys.executable, "-m", "edgefleet_lab", "--lab", self.name, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"lab {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def sh(self, host: str, *cmd: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
        """Run CMD in HOST (podman exec, not Ansible)."""
        return self.cli("exec", host, "--", *cmd, check=check, timeout=timeout)

    def cluster_vars(self) -> dict:
        data = yaml.safe_load(self.inventory.read_text())
        return data["all"]["children"]["k3s_cluster"].get("vars") or {}

    def site(self, *args: str, log: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
        """ansible-playbook playbooks/site.yml against the lab inventory; output also written to LOG."""
        proc = subprocess.run(
            [str(PLAYBOOK), "-i", str(self.inventory), str(ROOT / "playbooks" / "site.yml"), *args],
            cwd=ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if log is not None:
            log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        return proc


def tail(proc: subprocess.CompletedProcess, lines: int = 60) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-lines:])
