"""KubeAPI on the etcd-backed KV (a real local etcd with client-certificate TLS): three API instances share it,
the way three servers do, and the real kubectl talks to one of them."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from api_fixtures import Client, Kubectl, k3sbin, make_ctx
from api_harness import PKI, HTTPSFront, write_kubeconfig
from k3srt.etcd.client import EtcdClient, EtcdKV
from k3srt.kubeapi import KubeAPI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def etcd_kv(tmp_path):
    # skips are not passes: with CI=true a missing etcd fails (tests/runtime/k3sbin.py)
    binary = k3sbin.tool_or_fail("etcd", "the etcd-backed KV runs Debian's etcd (apt-get install etcd-server)")
    (tmp_path / "etcd-pki").mkdir()
    pki = PKI(str(tmp_path / "etcd-pki"))
    cert, key = pki.issue("etcd-server", "etcd", (), server=True, client=True)
    ccert, ckey = pki.issue("etcd-client", "etcd-client", ())
    client_port, peer_port = _free_port(), _free_port()
    curl, purl = f"https://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    proc = subprocess.Popen(
        [
            binary,
            "--name",
            "t",
            "--data-dir",
            str(tmp_path / "etcd"),
            "--listen-client-urls",
            curl,
            "--advertise-client-urls",
            curl,
            "--listen-peer-urls",
            purl,
            "--initial-advertise-peer-urls",
            purl,
            "--initial-cluster",
            f"t={purl}",
            "--cert-file",
            cert,
            "--key-file",
            key,
            "--trusted-ca-file",
            pki.ca_path,
            "--client-cert-auth",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kv = EtcdKV(EtcdClient([curl], pki.ca_path, ccert, ckey, timeout=5))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                kv.revision()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        yield kv
    finally:
        kv.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_standin_crud_conflict_and_nodes_on_etcd(tmp_path, etcd_kv, kubectl_binary):
    apis = [KubeAPI(make_ctx(tmp_path, etcd_kv), grace=2.0, node_interval=0.2, manifest_interval=60) for _ in range(3)]
    for kube in apis:
        kube.ensure_defaults()
    c0, c1 = Client(apis[0]), Client(apis[1])
    cm_path = "/api/v1/namespaces/default/configmaps"
    status, created = c0("POST", cm_path, {"metadata": {"name": "a"}, "data": {"v": "0"}})
    assert status == 201
    assert etcd_kv.get("/registry/configmaps/default/a")[1] == int(created["metadata"]["resourceVersion"])
    assert c1("POST", cm_path, {"metadata": {"name": "a"}})[1]["reason"] == "AlreadyExists"
    stale = dict(created, data={"v": "stale"})
    assert c1("PUT", f"{cm_path}/a", dict(created, data={"v": "1"}))[0] == 200
    assert c0("PUT", f"{cm_path}/a", stale)[0] == 409
    apis[0].ensure_node("server-1", "10.0.0.20", roles=["control-plane", "etcd"])
    apis[1].ensure_node("server-2", "10.0.0.21", roles=["control-plane", "etcd"])
    for kube in apis:
        kube.start_controllers()
    pki = PKI(str(tmp_path))
    front = HTTPSFront(apis[2], pki).start()
    try:
        cert, key = pki.issue("admin", "system:admin", ("system:masters",))
        write_kubeconfig(str(tmp_path / "kc"), front.url, pki, cert, key)
        kubectl = Kubectl(kubectl_binary, str(tmp_path / "kc"))
        deadline = time.monotonic() + 15
        rows = {}
        while time.monotonic() < deadline:
            apis[1].heartbeat("server-2")
            lines = kubectl("get", "nodes").stdout.strip().splitlines()[1:]
            rows = {line.split()[0]: line.split()[1] for line in lines}
            if rows.get("server-1") == "NotReady":
                break
            time.sleep(0.3)
        assert rows == {"server-1": "NotReady", "server-2": "Ready"}
        assert kubectl("cordon", "server-2").stdout.strip() == "node/server-2 cordoned"
        assert kubectl("delete", "node", "server-1").stdout.strip() == 'node "server-1" deleted'
        assert kubectl("get", "nodes", "-o", "name").stdout.split() == ["node/server-2"]
    finally:
        front.stop()
        for kube in apis:
            kube.stop_controllers()
