"""Local contract tests of the runtime core: real `k3s server` / `k3s agent` processes on loopback addresses.

The processes are the stand-in from the source tree (K3SRT_ETC_DIR keeps /etc/rancher untouched, a stand-in-only
switch), or the executable named by EDGEFLEET_K3S_BIN (tests/runtime/k3sbin.py; then run as root on a disposable
host: a real k3s writes /etc/rancher/node and /etc/rancher/k3s)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import k3sbin  # noqa: E402
from core_helpers import RUNTIME, TOKEN, free_port, kubeconfig_line  # noqa: E402, F401 - shared with the tests

sys.path.insert(0, RUNTIME)


class Node:
    """One runtime process; its etc dir, data dir and log live under a per-test tmp dir."""

    def __init__(self, root, name: str, command: str, config: str, env: dict | None = None):
        self.root = root / name
        self.etc = self.root / "etc"
        self.data = self.root / "data"
        (self.etc / "k3s").mkdir(parents=True)
        self.config = self.etc / "k3s" / "config.yaml"
        self.config.write_text(config)
        os.chmod(self.config, 0o600)
        self.log_path = self.root / "k3s.log"
        self.env = {
            **os.environ,
            "K3SRT_ETC_DIR": str(self.etc),
            "K3S_CONFIG_FILE": str(self.config),
            "PYTHONPATH": RUNTIME,
            **(env or {}),
        }
        self.env.pop("NOTIFY_SOCKET", None)
        self.command = command
        self.proc = None

    @property
    def node_password_path(self):
        """Where this node's /etc/rancher/node/password is (the stand-in honours K3SRT_ETC_DIR, k3s does not)."""
        confined = self.etc / "node" / "password"
        return str(confined) if not k3sbin.is_real() or confined.exists() else "/etc/rancher/node/password"

    def start(self, *args: str, binary: list[str] | None = None):
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [*(binary or k3sbin.command()), self.command, "--data-dir", str(self.data), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=RUNTIME,
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def count(self, text: str) -> int:
        return self.log().count(text)

    def wait_log(self, text: str, timeout: float = 30.0, times: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count(text) >= times:
                return
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"{self.command} exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {text!r}:\n{self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(autouse=True)
def _standin_only(request):
    k3sbin.skip_standin(request)


@pytest.fixture
def nodes(tmp_path):
    started: list[Node] = []

    def make(name, command, config, env=None) -> Node:
        node = Node(tmp_path, name, command, config, env)
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop()


@pytest.fixture
def server(nodes):
    port = free_port()
    config = f'token: "{TOKEN}"\nnode-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n'
    node = nodes("s1", "server", config)
    node.config.write_text(config + kubeconfig_line(node.etc))
    node.port = port
    node.url = f"https://127.0.0.1:{port}"
    node.start().wait_log("k3s is up and running")
    return node
