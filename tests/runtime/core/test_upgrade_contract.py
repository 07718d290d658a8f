"""A node restarted on a newer binary reports that binary's version on its Node.

Binaries: the two releases below from EDGEFLEET_RELEASES=<dir>/<version>/k3s (real k3s releases), else the
stand-in built from the source tree for both versions (tests/k3s_runtime/build.py, as `make releases` does)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import k3sbin
import pytest
from core_helpers import RUNTIME, TOKEN, Admin, free_port, kubeconfig_line
from test_token_contract import UP, server_token, start_agent

OLD, NEW = "v1.36.1+k3s1", "v1.36.2+k3s1"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, list[str]]:
    base = os.environ.get("EDGEFLEET_RELEASES")
    if not base:
        if k3sbin.is_real():
            pytest.skip(f"needs two releases of the binary under test: set EDGEFLEET_RELEASES with {OLD} and {NEW}")
        base = str(tmp_path_factory.mktemp("releases"))
        subprocess.run(
            [sys.executable, os.path.join(RUNTIME, "build.py"), "--out", base, "--only", OLD, NEW],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return {v: [os.path.join(base, v, "k3s")] for v in (OLD, NEW)}


def kubelet_version(admin, name: str, want: str, timeout: float = 40.0) -> str:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        status, node = admin("GET", f"/api/v1/nodes/{name}")
        if status == 200:
            got = node["status"]["nodeInfo"]["kubeletVersion"]
            if got == want:
                return got
        time.sleep(1)
    return got


def test_restarted_agent_and_server_report_their_new_version(nodes, releases):
    """A kubelet sets status.nodeInfo.kubeletVersion to its own version at every start (kubelet node status
    sync, run by k3s's agent: pkg/agent/run.go), and `k3s --version` names the same release
    (pkg/cli/cmds/root.go); servers run a kubelet too unless --disable-agent."""
    port = free_port()
    server = nodes("s1", "server", "")
    server.config.write_text(
        f'token: "{TOKEN}"\nnode-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n'
        + kubeconfig_line(server.etc)
    )
    server.url = f"https://127.0.0.1:{port}"
    server.start(binary=releases[OLD]).wait_log("k3s is up and running", timeout=60)
    agent = start_agent(nodes, server, "a1", server_token(server), binary=releases[OLD])
    agent.wait_log(UP, timeout=60)
    admin = Admin(server.etc / "k3s" / "k3s.yaml")
    assert kubelet_version(admin, "a1", OLD) == OLD

    agent.stop()
    version = subprocess.run([*releases[NEW], "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"k3s version {NEW} ")
    agent.start(binary=releases[NEW]).wait_log(UP, timeout=60, times=2)
    assert kubelet_version(admin, "a1", NEW) == NEW

    server.stop()
    server.start(binary=releases[NEW]).wait_log("k3s is up and running", timeout=60, times=2)
    assert kubelet_version(admin, "s1", NEW) == NEW
