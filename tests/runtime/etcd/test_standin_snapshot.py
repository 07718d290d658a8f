"""/db/snapshot through handle_db: names, compression, list, delete, retention prune."""

import json
import os
import re
import stat
import time
import zipfile

import pytest
from k3srt import etcd
from k3srt.web import HTTPError, Identity, Request


def post(ctx, body: dict):
    req = Request("POST", "/db/snapshot", {}, {}, json.dumps(body).encode(), Identity("server", ("k3s:server",)), "x")
    resp = etcd.handle_db(ctx, req)
    assert resp.status == 200
    return resp.body


def test_snapshot_save_list_delete_prune(make_node):
    node = make_node("alpha")
    kv = node.start("new")
    kv.put("/registry/a", b"1")
    ctx = node.ctx
    snapdir = os.path.join(ctx.server_dir, "db", "snapshots")
    names = []
    for _ in range(3):
        out = post(ctx, {"operation": "save", "name": ["on-demand"], "retention": 0})
        assert out["deleted"] == []
        (name,) = out["created"]
        assert re.fullmatch(r"on-demand-alpha-\d{10}", name)
        assert abs(int(name.rsplit("-", 1)[1]) - time.time()) < 30
        names.append(name)
        time.sleep(1.05)  # names carry unix seconds
    assert stat.S_IMODE(os.stat(snapdir).st_mode) == 0o700
    assert sorted(os.listdir(snapdir)) == sorted(names)
    assert all(os.path.getsize(os.path.join(snapdir, n)) > 0 for n in names)

    listing = post(ctx, {"operation": "list"})
    assert listing["kind"] == "List" and listing["apiVersion"] == "v1"
    items = listing["items"]
    assert [i["spec"]["snapshotName"] for i in items] == names  # oldest first
    first = items[0]
    assert first["kind"] == "ETCDSnapshotFile" and first["spec"]["nodeName"] == "alpha"
    assert first["spec"]["location"] == "file://" + os.path.join(snapdir, names[0])
    assert first["status"]["size"] == str(os.path.getsize(os.path.join(snapdir, names[0])))
    assert first["status"]["readyToUse"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["status"]["creationTime"])

    # compressed save; a scheduled-style base name is not touched by on-demand pruning
    zipped = post(ctx, {"operation": "save", "name": ["on-demand"], "compress": True, "retention": 0})["created"][0]
    assert zipped.endswith(".zip") and os.path.exists(os.path.join(snapdir, zipped))
    assert not os.path.exists(os.path.join(snapdir, zipped[:-4]))
    with zipfile.ZipFile(os.path.join(snapdir, zipped)) as zf:
        assert zf.namelist() == [zipped[:-4]]
    other = post(ctx, {"operation": "save", "name": ["etcd-snapshot"], "retention": 0})["created"][0]

    out = post(ctx, {"operation": "prune", "name": ["on-demand"], "retention": 2})
    assert out["deleted"] == names[:2]
    assert sorted(os.listdir(snapdir)) == sorted([names[2], zipped, other])

    out = post(ctx, {"operation": "delete", "name": [other, "does-not-exist"]})
    assert out == {"created": [], "deleted": [other]}
    assert sorted(os.listdir(snapdir)) == sorted([names[2], zipped])


def test_save_with_retention_prunes_and_custom_dir(make_node, tmp_path):
    node = make_node("alpha")
    node.start("new")
    custom = tmp_path / "custom"
    with pytest.raises(HTTPError) as err:
        post(node.ctx, {"operation": "save", "name": ["nightly"], "dir": str(custom)})
    assert err.value.status == 500 and "does not exist" in err.value.message
    custom.mkdir()
    created = []
    for _ in range(3):
        out = post(node.ctx, {"operation": "save", "name": ["nightly"], "dir": str(custom), "retention": 2})
        created += out["created"]
        time.sleep(1.05)
    assert sorted(os.listdir(custom)) == sorted(created[1:])
    assert out["deleted"] == [created[0]]


def test_snapshot_method_and_not_started(make_node):
    node = make_node("alpha")
    get = Request("GET", "/db/snapshot", {}, {}, b"", None, "127.0.0.1")
    with pytest.raises(HTTPError) as err:
        etcd.handle_db(node.ctx, get)
    assert err.value.status == 405
    req = Request("POST", "/db/snapshot", {}, {}, b'{"operation":"list"}', None, "127.0.0.1")
    with pytest.raises(HTTPError) as err:
        etcd.handle_db(node.ctx, req)
    assert err.value.status == 500


def test_snapshots_recorded_as_objects(make_node):
    from k3srt.kubeapi import inproc

    node = make_node("alpha")
    kv = node.start("new")  # harness sets ctx.kv like core does
    name = post(node.ctx, {"operation": "save", "name": ["on-demand"], "retention": 0})["created"][0]
    objects = inproc.list_objects(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile")
    assert [o["spec"]["snapshotName"] for o in objects] == [name]
    assert objects[0]["metadata"]["name"].startswith(f"local-{name}-")
    post(node.ctx, {"operation": "delete", "name": [name]})
    assert inproc.list_objects(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile") == []
