import os
import stat
from pathlib import Path

import pytest
from harness import wait_for
from k3srt import etcd
from k3srt.kv import Conflict


def test_new_cluster_layout_and_flags(make_node):
    node = make_node("alpha")
    kv = node.start("new")
    ctx = node.ctx
    db = os.path.join(ctx.server_dir, "db")
    name = Path(db, "etcd", "name").read_text().strip()
    assert name.startswith("alpha-") and len(name) == len("alpha-") + 8
    int(name[-8:], 16)
    assert stat.S_IMODE(os.stat(os.path.join(db, "etcd")).st_mode) == 0o700
    assert etcd.has_etcd_data(ctx)
    assert os.path.getsize(os.path.join(db, "etcd.log")) > 0
    args = node.runtime.proc.args
    assert f"--name={name}" in args
    assert "--initial-cluster-state=new" in args
    assert f"--initial-cluster={name}=https://127.0.0.1:{ctx.etcd_peer_port}" in args
    assert "--client-cert-auth=true" in args and "--snapshot-count=10000" in args
    # --etcd-arg overrides the k3s default (5000) instead of adding a second flag
    assert "--election-timeout=1000" in args and "--election-timeout=5000" not in args
    assert kv.revision() >= 1


def test_kv_crud_and_cas(make_node):
    kv = make_node("alpha").start("new")
    r1 = kv.put("/registry/a", b"one", expect_revision=0)
    assert kv.get("/registry/a") == (b"one", r1)
    with pytest.raises(Conflict):
        kv.put("/registry/a", b"again", expect_revision=0)
    r2 = kv.put("/registry/a", "two", expect_revision=r1)
    assert r2 > r1 and kv.get("/registry/a") == (b"two", r2)
    with pytest.raises(Conflict):
        kv.put("/registry/a", b"stale", expect_revision=r1)
    kv.put("/registry/b", b"\x00\xffbin")
    kv.put("/registrz", b"outside")
    listed = kv.list("/registry/")
    assert [k for k, _, _ in listed] == ["/registry/a", "/registry/b"]
    assert listed[1][1] == b"\x00\xffbin"
    assert kv.revision() >= r2 + 2
    with pytest.raises(Conflict):
        kv.delete("/registry/a", expect_revision=r1)
    assert kv.delete("/registry/a", expect_revision=r2) is True
    assert kv.get("/registry/a") is None
    assert kv.delete("/registry/a") is False
    assert kv.delete("/registry/b") is True


def test_restart_existing_keeps_data_and_name(make_node):
    node = make_node("alpha")
    node.start("new").put("/k", b"v")
    name = node.runtime.name
    node.stop_etcd()
    kv = node.start("existing")
    assert node.runtime.name == name
    assert kv.get("/k")[0] == b"v"


def test_supervisor_restarts_dead_etcd(make_node):
    node = make_node("alpha")
    kv = node.start("new")
    old = node.pid()
    node.runtime.proc.kill()
    wait_for(lambda: node.pid() != old and node.runtime.proc.alive(), 15, what="etcd restart")
    wait_for(lambda: kv.put("/after", b"x"), 30, what="etcd serving again")
    assert kv.get("/after")[0] == b"x"


def test_sqlite_migration_on_cluster_init(make_node):
    from k3srt.kv import SqliteKV

    node = make_node("alpha")
    db = os.path.join(node.ctx.server_dir, "db")
    os.makedirs(db, exist_ok=True)
    src = SqliteKV(os.path.join(db, "state.db"))
    src.put("/registry/configmaps/default/x", b"cm")
    src.put("/other/key", b"skip")
    src.close()
    kv = node.start("new")
    assert kv.get("/registry/configmaps/default/x")[0] == b"cm"
    assert kv.get("/other/key") is None
    assert not os.path.exists(os.path.join(db, "state.db"))
    assert os.path.exists(os.path.join(db, "state.db.migrated"))


def test_existing_without_data_refused_and_node_metadata(make_node):
    node = make_node("alpha", node_ip="127.0.0.2")
    with pytest.raises(etcd.EtcdError, match="no existing etcd data"):
        node.start("existing")
    node.start("new")
    labels, annotations = etcd.node_metadata(node.ctx)
    assert labels == {"node-role.kubernetes.io/etcd": "true"}
    assert annotations == {
        "etcd.k3s.cattle.io/node-name": node.runtime.name,
        "etcd.k3s.cattle.io/node-address": "127.0.0.2",
    }


def test_concurrent_cas_increments(make_node):
    import threading

    kv = make_node("alpha").start("new")
    kv.put("/counter", b"0")
    done = []

    def worker():
        for _ in range(10):
            while True:
                value, rev = kv.get("/counter")
                try:
                    kv.put("/counter", str(int(value) + 1).encode(), expect_revision=rev)
                    done.append(1)
                    break
                except Conflict:
                    continue

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(done) == 80
    assert kv.get("/counter")[0] == b"80"
