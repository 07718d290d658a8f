# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the lab's own tests: every test module brings up its own small lab and always tears it down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB_PATH = REPO / "tests" / "lab"
CONTAINERS_CONF = LAB_PATH / "containers.conf"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(LAB_PATH)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    env.pop("EDGEFLEET_LAB", None)
    return env


def podman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL)


class LabCLI:
    """Runs `python -m edgefleet_lab --lab NAME …` and knows the lab's files."""

    def __init__(self, name: str):
        self.name = name
        self.dir = REPO / ".lab" / name

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "edgefleet_lab", "--lab", self.name, *args],
            capture_output=True,
            text=True,
            env=_env(),
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    @property
    def state(self) -> dict:
        return json.loads((self.dir / "state.json").read_text())

    def ip(self, host: str) -> str:
        return self.state["hosts"][host]["ip"]

    def ssh(self, host_or_ip: str, *cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
        """SSH from this machine with the lab key (ConnectTimeout 3 s)."""
        ip = self.state["hosts"][host_or_ip]["ip"] if host_or_ip in self.state["hosts"] else host_or_ip
        args = ["ssh", "-i", str(self.dir / "id_ed25519"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=3"]
        args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        return subprocess.run(
            [*args, f"root@{ip}", *cmd], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout
        )

    @staticmethod
    def podman(*args: str) -> subprocess.CompletedProcess:
        return podman(*args)

    def exec(self, host: str, *cmd: str) -> subprocess.CompletedProcess:
        return self.run("exec", host, "--", *cmd, check=False)


@pytest.fixture(scope="module")
def lab(request) -> LabCLI:
    """The test module's own lab: `up` with the module's LAB_UP_ARGS, named after the module and this process;
    `down` runs in a finalizer even when `up` fails."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:12].replace("_", "-")
    lab = LabCLI(f"lt-{short}-{os.getpid()}")
    request.addfinalizer(lambda: lab.run("down", check=False))
    lab.run("up", *getattr(request.module, "LAB_UP_ARGS", ("--servers", "1", "--agents", "1")))
    return lab


@pytest.fixture(scope="module")
def unstarted_lab(request) -> LabCLI:
    """A lab name for the module that is not up yet (the test drives up/down itself); always torn down."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:12].replace("_", "-")
    lab = LabCLI(f"lt-{short}-{os.getpid()}")
    request.addfinalizer(lambda: lab.run("down", check=False))
    return lab
