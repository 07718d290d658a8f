# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook from the checkout, and what its output says."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgefleet_testing.paths import ROOT

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


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(_collections_path()),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        CONTAINERS_CONF=str(ROOT / "tests" / "lab" / "containers.conf"),
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    )
    env.update(extra)
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
class Run:
    """A finished ansible-playbook run."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        return recap(self.stdout)

    @property
    def changed(self) -> dict[str, int]:
        return {host: counts["changed"] for host, counts in self.recap.items()}

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def ok(self) -> Run:
        """Assert the run succeeded; return it."""
        assert self.returncode == 0, f"{' '.join(self.args[-3:])} failed (rc {self.returncode}):\n{self.tail()}"
        return self

    def unchanged(self) -> Run:
        """Assert the run succeeded and changed nothing on any host."""
        self.ok()
        assert self.changed and set(self.changed.values()) == {0}, f"changed: {self.changed}\n{self.tail()}"
        return self


def _run(argv: list[str], env: dict[str, str], timeout: float) -> Run:
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
    )
    return Run(argv, proc.returncode, proc.stdout, proc.stderr)


def adhoc(inventory: Path, pattern: str, module: str, args: str, *extra: str, timeout: int = 900) -> Run:
    """Run one module with `ansible PATTERN -m MODULE -a ARGS` against INVENTORY."""
    argv = [str(PLAYBOOK.with_name("ansible")), "-i", str(inventory), pattern, "-m", module, "-a", args, *extra]
    return _run(argv, ansible_env(), timeout)


def playbook(
    inventory: Path,
    name: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: int = 1800,
    stop_at: str | None = None,
) -> Run:
    """Run playbooks/NAME (or a path) against INVENTORY.

    ``stop_at``: kill the run (SIGKILL to its process group, as a lost controller would) as soon as this text
    appears in its output, to test what the next run does after an interruption.
    """
    path = Path(name) if "/" in name else ROOT / "playbooks" / name
    argv = [str(PLAYBOOK), "-i", str(inventory), str(path), *args]
    if stop_at is None:
        return _run(argv, env or ansible_env(), timeout)
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env or ansible_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if stop_at in line or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    return Run(argv, proc.returncode, "".join(lines), "")
