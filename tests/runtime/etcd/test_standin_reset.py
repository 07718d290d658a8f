"""--cluster-reset with and without a restore path: data, membership, flag and messages."""

import json
import os
from pathlib import Path

import pytest
from k3srt import etcd
from k3srt.web import Identity, Request

DONE = (
    "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. Backup and delete "
    "${datadir}/server/db on each peer etcd server and rejoin the nodes"
)


def save_snapshot(ctx, compress=False) -> str:
    body = json.dumps({"operation": "save", "name": ["on-demand"], "retention": 0, "compress": compress}).encode()
    req = Request("POST", "/db/snapshot", {}, {}, body, Identity("server", ("k3s:server",)), "x")
    name = etcd.handle_db(ctx, req).body["created"][0]
    return os.path.join(ctx.server_dir, "db", "snapshots", name)


@pytest.mark.parametrize("compress", [False, True])
def test_restore_from_snapshot(make_node, compress):
    node = make_node("alpha")
    kv = node.start("new")
    for i in range(3):
        kv.put(f"/registry/before/{i}", f"v{i}".encode())
    path = save_snapshot(node.ctx, compress)
    kv.put("/registry/after/x", b"later")
    kv.put("/registry/before/0", b"changed")
    old_name = node.runtime.name
    node.stop_etcd()
    ctx = node.ctx
    db = os.path.join(ctx.server_dir, "db")

    assert etcd.cluster_reset(ctx, path) == 0
    assert ("error", f'Shutdown request received: "{DONE}"') in ctx.logs
    assert os.path.exists(os.path.join(db, "reset-flag"))
    assert [d for d in os.listdir(db) if d.startswith("etcd-old-")]
    new_name = Path(db, "etcd", "name").read_text().strip()
    assert new_name != old_name and new_name.startswith("alpha-")
    # the reset ran etcd loopback-only and stopped it again
    assert node.runtime is None or not node.runtime.proc.alive()

    kv = node.start("existing")
    assert not os.path.exists(os.path.join(db, "reset-flag"))  # a normal start removes it
    got = {k: v for k, v, _ in kv.list("/registry/")}
    assert got == {f"/registry/before/{i}": f"v{i}".encode() for i in range(3)}
    (member,) = node.runtime.client.member_list()
    assert member["name"] == new_name


def test_reset_flag_and_path_errors(make_node, tmp_path):
    node = make_node("alpha")
    kv = node.start("new")
    kv.put("/registry/k", b"v")
    node.stop_etcd()
    ctx = node.ctx
    flag = os.path.join(ctx.server_dir, "db", "reset-flag")

    missing = str(tmp_path / "nope")
    assert etcd.cluster_reset(ctx, missing) == 1
    assert ("fatal", f"etcd: snapshot path does not exist: {missing}") in ctx.logs
    assert etcd.cluster_reset(ctx, str(tmp_path)) == 1
    assert ("fatal", f"etcd: snapshot path must be a file, not a directory: {tmp_path}") in ctx.logs
    assert not os.path.exists(flag)

    # membership reset of existing data (force-new-cluster), no restore path
    assert etcd.cluster_reset(ctx, None) == 0
    assert os.path.exists(flag)
    assert ("error", f'Shutdown request received: "{DONE}"') in ctx.logs
    # again without removing the flag: refused
    assert etcd.cluster_reset(ctx, None) == 1
    expected = (
        "Managed etcd cluster membership was previously reset, please remove the cluster-reset flag and start k3s "
        f"normally. If you need to perform another cluster reset, you must first manually delete the file at {flag}"
    )
    assert ("fatal", expected) in ctx.logs
    kv = node.start("existing")
    assert kv.get("/registry/k")[0] == b"v"
    assert not os.path.exists(flag)


def test_reset_shrinks_three_member_cluster(make_node):
    from test_standin_cluster import form_cluster, members

    s1, s2, s3 = form_cluster(make_node)
    s1.kv.put("/registry/k", b"v")
    for n in (s2, s3, s1):
        n.stop_etcd()
    assert etcd.cluster_reset(s1.ctx, None) == 0
    kv = s1.start("existing")
    assert [m["name"] for m in members(s1)] == [s1.runtime.name]
    assert kv.get("/registry/k")[0] == b"v"
    kv.put("/registry/writable", b"yes")  # quorum of one
