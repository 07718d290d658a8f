# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `rtlab` lab (3 servers, 1 agent, 1 LB): created once per module and always destroyed."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import k3sbin  # noqa: E402
from edgefleet_testing import ROOT  # noqa: E402
from lab_helpers import AGENT, LB, SERVERS, VERSION, ClusterSecrets, RuntimeLab, haproxy_config  # noqa: E402

LAB_NAME = "rtlab"

# Skips are not passes: with CI=true a missing podman fails the run (tests/runtime/k3sbin.py).
k3sbin.require_tools("podman", why="the lab contract runs podman containers")


def _binary(tmp_path_factory) -> str:
    """EDGEFLEET_K3S_BIN=<path> (the variable of every contract suite; RTLAB_K3S still works) uses that binary;
    otherwise build the release from the current runtime sources (the same build as `make releases`), so a run never
    tests a stale zipapp."""
    if k3sbin.REAL or os.environ.get("RTLAB_K3S"):
        return k3sbin.REAL or os.environ["RTLAB_K3S"]
    out = tmp_path_factory.mktemp("releases")
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "k3s_runtime" / "build.py"), "--out", str(out), "--only", VERSION],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return str(out / VERSION / "k3s")


def _save_journals(lab: RuntimeLab, dest) -> None:
    for host in (*SERVERS, AGENT):
        try:
            (dest / f"{host}.journal").write_text(lab.journal(host, "k3s", "k3s-agent"))
        except Exception:  # noqa: BLE001, S112 - best effort, the lab may already be broken
            continue


@pytest.fixture(scope="module")
def rtlab(request, tmp_path_factory) -> RuntimeLab:
    lab = RuntimeLab(LAB_NAME)
    logs = tmp_path_factory.mktemp("rtlab-journals")

    def teardown():
        _save_journals(lab, logs)
        lab.down()

    lab.down()  # leftovers of an interrupted run
    request.addfinalizer(teardown)
    binary = _binary(tmp_path_factory)
    lab.cli("up", "--servers", "3", "--agents", "1", "--gpu-agents", "0", "--lbs", "1")
    for host in SERVERS:
        lab.install(host, binary, "server")
    lab.install(AGENT, binary, "agent")
    lab.put_file(LB, "/etc/haproxy/haproxy.cfg", haproxy_config({h: lab.ip(h) for h in SERVERS}), "0644")
    lab.script(LB, "haproxy -c -q -f /etc/haproxy/haproxy.cfg && systemctl enable --now haproxy")
    return lab


@pytest.fixture(scope="module")
def secret() -> ClusterSecrets:
    """The cluster secret of this run (a fresh random password) and what the tests learn along the way."""
    return ClusterSecrets(secrets.token_hex(16))
