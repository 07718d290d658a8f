"""A snapshot restored onto a server that never ran (every server lost): the cluster's CA comes back with it.

Runs a `k3s server --cluster-init`, saves a snapshot with `k3s etcd-snapshot save`, stops it and restores the
snapshot into a new, empty data dir with `--cluster-reset --cluster-reset-restore-path` and the old token file, as
playbooks/restore.yml does on rebuilt servers. Uses etcd's fixed ports 2379/2380 on 127.0.0.1; the stand-in needs
Debian's etcd (CI=true: missing etcd fails)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
import urllib.request

import k3sbin
import pytest
from core_helpers import RUNTIME, TOKEN, free_port, kubeconfig_line, wait_exit

ETCD_PORTS = (2379, 2380)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _config(node, port: int, extra: str = "") -> str:
    return f"node-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n" + kubeconfig_line(node.etc) + extra


def test_restore_onto_a_new_server_brings_back_the_cluster_ca(nodes, tmp_path):
    """k3s reconciles the bootstrap data (CA certificates and keys, encrypted with the token) from the restored
    datastore (pkg/cluster/bootstrap.go), so the restored server has the old cluster's CA, and on its next start it
    regenerates every leaf that no longer verifies against its CA (pkg/daemons/control/deps/deps.go, expired())."""
    if not k3sbin.is_real():
        k3sbin.tool_or_fail("etcd", "the stand-in runs Debian's etcd for --cluster-init")
    busy = [p for p in ETCD_PORTS if listening(p)]
    if busy:
        pytest.fail(f"ports {busy} are in use on this host; this contract needs etcd's fixed ports", pytrace=False)

    old_port, new_port = free_port(), free_port()
    old = nodes("old", "server", "")
    old.config.write_text(f'token: "{TOKEN}"\ncluster-init: true\n' + _config(old, old_port))
    old.start().wait_log("k3s is up and running", timeout=120)
    save = subprocess.run(
        [*k3sbin.command(), "etcd-snapshot", "save", "--data-dir", str(old.data), "--name", "drill",
         "--etcd-server", f"https://127.0.0.1:{old_port}"],
        env=old.env, cwd=RUNTIME, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert save.returncode == 0, save.stderr
    (snapshot,) = (old.data / "server" / "db" / "snapshots").iterdir()
    ca = (old.data / "server" / "tls" / "server-ca.crt").read_bytes()
    token_file = tmp_path / "token"
    token_file.write_text((old.data / "server" / "token").read_text())
    token_file.chmod(0o600)
    old.stop()
    deadline = time.monotonic() + 10
    while any(listening(p) for p in ETCD_PORTS) and time.monotonic() < deadline:
        time.sleep(0.1)

    new = nodes("new", "server", "")
    new.config.write_text(_config(new, new_port))
    new.start("--cluster-reset", f"--cluster-reset-restore-path={snapshot}", f"--token-file={token_file}")
    assert wait_exit(new, timeout=180) == 0, new.log()[-3000:]
    assert "Managed etcd cluster membership has been reset" in new.log()
    assert (new.data / "server" / "tls" / "server-ca.crt").read_bytes() == ca, "the restored server has a new CA"

    new.config.write_text(_config(new, new_port, f"token-file: {token_file}\n"))
    new.start().wait_log("k3s is up and running", timeout=120)
    context = ssl.create_default_context(cadata=ca.decode())
    context.check_hostname = False
    with urllib.request.urlopen(f"https://127.0.0.1:{new_port}/ping", context=context, timeout=10) as resp:  # noqa: S310
        assert resp.read() == b"pong"
    assert os.path.exists(new.data / "server" / "token")
