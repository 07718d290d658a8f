"""kill -9 of a `k3s server --cluster-init` takes its etcd down at once (the stand-in or EDGEFLEET_K3S_BIN).

Uses etcd's fixed ports 2379/2380 on 127.0.0.1 (k3s does not move them), so it needs them free; the stand-in
needs Debian's etcd (CI=true: missing etcd fails)."""

from __future__ import annotations

import os
import signal
import socket
import time

import k3sbin
import pytest
from core_helpers import TOKEN, free_port, kubeconfig_line

ETCD_PORTS = (2379, 2380)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_kill_9_of_k3s_leaves_no_etcd_serving(nodes):
    """k3s runs etcd inside its own process (pkg/executor/embed/etcd/etcd.go, embed.StartEtcd), so when the
    k3s process is killed with SIGKILL nothing answers on the etcd client and peer ports any more."""
    if not k3sbin.is_real():
        k3sbin.tool_or_fail("etcd", "the stand-in runs Debian's etcd for --cluster-init")
    busy = [p for p in ETCD_PORTS if listening(p)]
    if busy:
        pytest.fail(f"ports {busy} are in use on this host; this contract needs etcd's fixed ports", pytrace=False)
    port = free_port()
    node = nodes("s1", "server", "")
    node.config.write_text(
        f'token: "{TOKEN}"\nnode-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\ncluster-init: true\n'
        + kubeconfig_line(node.etc)
    )
    node.start().wait_log("k3s is up and running", timeout=120)
    assert all(listening(p) for p in ETCD_PORTS)
    os.kill(node.proc.pid, signal.SIGKILL)
    node.proc.wait(10)
    deadline = time.monotonic() + 2.0
    while any(listening(p) for p in ETCD_PORTS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(listening(p) for p in ETCD_PORTS), "etcd outlived the k3s process"
