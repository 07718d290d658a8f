"""Local contract tests of the runtime core: real `k3s server` / `k3s agent` processes from the source tree on
loopback addresses, with K3SRT_ETC_DIR keeping /etc/rancher untouched (a test-runtime-only switch)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.abspath(os.path.join(HERE, "..", "..", "k3s_runtime"))
sys.path.insert(0, RUNTIME)

TOKEN = "core-contract-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def start(self, *args: str):
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "k3srt", self.command, "--data-dir", str(self.data), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=RUNTIME,
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
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
    node = nodes("s1", "server", f'token: "{TOKEN}"\nnode-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n')
    node.port = port
    node.url = f"https://127.0.0.1:{port}"
    node.start().wait_log("k3s is up and running")
    return node
