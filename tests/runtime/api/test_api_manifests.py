"""Manifests auto-deploy: recursive *.yaml/*.yml/*.json, .skip files, Addon objects with checksums, rescans."""

from __future__ import annotations

import hashlib
import json
import time

RUNTIMES = """apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: nvidia
handler: nvidia
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: crun
handler: crun
"""


def _addon(client, name):
    return client("GET", f"/apis/k3s.cattle.io/v1/namespaces/kube-system/addons/{name}")


def test_standin_deploy_creates_objects_and_addons(api, client, tmp_path):
    mdir = tmp_path / "manifests"
    (mdir / "sub").mkdir(parents=True)
    (mdir / "runtimes.yaml").write_text(RUNTIMES)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}, "data": {"a": "1"}}
    (mdir / "sub" / "cm.json").write_text(json.dumps(cm))
    (mdir / "other.yml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n")
    (mdir / "skipped.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: skipped\n")
    (mdir / "skipped.yaml.skip").write_text("")
    (mdir / "notes.txt").write_text("ignored")
    applied = api.deploy_manifests(str(mdir))
    assert sorted(applied) == ["cm", "other", "runtimes"]
    _, rcs = client("GET", "/apis/node.k8s.io/v1/runtimeclasses")
    assert sorted((r["metadata"]["name"], r["handler"]) for r in rcs["items"]) == [
        ("crun", "crun"),
        ("nvidia", "nvidia"),
    ]
    assert client("GET", "/api/v1/namespaces/kube-system/configmaps/from-json")[1]["data"] == {"a": "1"}
    assert client("GET", "/api/v1/namespaces/extra")[0] == 200
    assert client("GET", "/api/v1/namespaces/skipped")[0] == 404
    status, addon = _addon(client, "runtimes")
    assert status == 200 and addon["kind"] == "Addon" and addon["apiVersion"] == "k3s.cattle.io/v1"
    assert addon["spec"]["checksum"] == hashlib.sha256(RUNTIMES.encode()).hexdigest()
    assert _addon(client, "skipped")[0] == 404


def test_standin_unchanged_files_are_not_reapplied_and_changes_are(api, client, tmp_path):
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    path = mdir / "runtimes.yaml"
    path.write_text(RUNTIMES)
    assert api.deploy_manifests(str(mdir)) == ["runtimes"]
    # a manual edit survives a rescan while the file is unchanged
    client(
        "PATCH", "/apis/node.k8s.io/v1/runtimeclasses/crun", {"handler": "edited"}, ctype="application/merge-patch+json"
    )
    assert api.deploy_manifests(str(mdir)) == []
    assert client("GET", "/apis/node.k8s.io/v1/runtimeclasses/crun")[1]["handler"] == "edited"
    path.write_text(RUNTIMES + "# changed\n")
    assert api.deploy_manifests(str(mdir)) == ["runtimes"]
    assert client("GET", "/apis/node.k8s.io/v1/runtimeclasses/crun")[1]["handler"] == "crun"
    assert _addon(client, "runtimes")[1]["spec"]["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_standin_bad_files_and_unknown_kinds_are_logged_not_fatal(api, ctx, client, tmp_path):
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    (mdir / "broken.yaml").write_text("a: [unclosed\n")
    (mdir / "mixed.yaml").write_text("apiVersion: x.io/v1\nkind: Widget\nmetadata:\n  name: w\n---\n" + RUNTIMES)
    assert api.deploy_manifests(str(mdir)) == ["mixed"]
    assert client("GET", "/apis/node.k8s.io/v1/runtimeclasses/nvidia")[0] == 200
    levels = [level for level, msg in ctx.logs if "broken.yaml" in msg or "Widget" in msg]
    assert levels == ["error", "warning"]


def test_standin_controllers_rescan_the_directory(api, client, tmp_path):
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    api.deploy_manifests(str(mdir))
    api.start_controllers()
    (mdir / "late.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _addon(client, "late")[0] != 200:
        time.sleep(0.1)
    assert _addon(client, "late")[0] == 200
    assert client("GET", "/api/v1/namespaces/kube-system/configmaps/late")[0] == 200


def test_standin_remove_addon_deletes_its_objects(api, client, tmp_path):
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    (mdir / "runtimes.yaml").write_text(RUNTIMES)
    api.deploy_manifests(str(mdir))
    assert api.remove_addon("runtimes") is True
    assert client("GET", "/apis/node.k8s.io/v1/runtimeclasses")[1]["items"] == []
    assert _addon(client, "runtimes")[0] == 404
    assert api.remove_addon("runtimes") is False


def test_standin_inproc_helpers_share_the_storage(kv, client):
    from k3srt.kubeapi import inproc

    snap = {
        "apiVersion": "k3s.cattle.io/v1",
        "kind": "ETCDSnapshotFile",
        "metadata": {"name": "local-on-demand-server-1-1700000000-a1b2c3"},
        "spec": {"snapshotName": "on-demand-server-1-1700000000", "nodeName": "server-1", "location": "file:///x"},
        "status": {"readyToUse": True, "size": "1024"},
    }
    stored = inproc.apply(kv, snap)
    assert kv.get("/registry/etcdsnapshotfiles/local-on-demand-server-1-1700000000-a1b2c3") is not None
    _, listing = client("GET", "/apis/k3s.cattle.io/v1/etcdsnapshotfiles")
    assert [i["metadata"]["uid"] for i in listing["items"]] == [stored["metadata"]["uid"]]
    assert inproc.get(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile", snap["metadata"]["name"])["status"]["size"] == "1024"
    assert len(inproc.list_objects(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile")) == 1
    assert inproc.delete(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile", snap["metadata"]["name"]) is True
    assert inproc.delete(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile", snap["metadata"]["name"]) is False
