"""PATCH: merge patch, strategic merge patch (list merge keys and directives) and JSON patch."""

from __future__ import annotations

from k3srt.kubeapi import patch

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONP = "application/json-patch+json"


def test_merge_patch_replaces_lists_and_deletes_nulls():
    target = {"a": {"b": 1, "c": 2}, "l": [{"name": "x", "v": 1}]}
    out = patch.merge_patch(target, {"a": {"b": None, "d": 3}, "l": [{"name": "y"}]})
    assert out == {"a": {"c": 2, "d": 3}, "l": [{"name": "y"}]}
    assert target["a"] == {"b": 1, "c": 2}


def test_strategic_merge_merges_lists_by_key():
    target = {
        "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}], "taints": []},
        "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]},
    }
    out = patch.strategic_merge(
        target,
        {
            "spec": {"containers": [{"name": "b", "image": "2"}], "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
            "$setElementOrder/conditions": [{"type": "Ready"}],
        },
    )
    assert out["spec"]["containers"] == [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]
    assert out["status"]["conditions"][0] == {"type": "Ready", "status": "Unknown"}
    assert out["status"]["conditions"][1]["type"] == "DiskPressure"
    assert out["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]


def test_strategic_merge_replaces_lists_without_a_merge_key():
    target = {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}, {"key": "b", "effect": "NoSchedule"}]}}
    out = patch.strategic_merge(target, {"spec": {"taints": [{"key": "b", "effect": "NoSchedule"}]}})
    assert out["spec"]["taints"] == [{"key": "b", "effect": "NoSchedule"}]


def test_strategic_merge_directives():
    target = {
        "spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
        "metadata": {"finalizers": ["x", "y"], "labels": {"l": "1"}},
        "data": {"k": "v", "z": "w"},
    }
    out = patch.strategic_merge(
        target,
        {
            "spec": {"containers": [{"name": "a", "$patch": "delete"}]},
            "metadata": {"$deleteFromPrimitiveList/finalizers": ["x"], "labels": {"$patch": "replace", "n": "2"}},
            "data": {"$retainKeys": ["k"], "k": "v2"},
        },
    )
    assert out["spec"]["containers"] == [{"name": "b", "image": "1"}]
    assert out["metadata"]["finalizers"] == ["y"]
    assert out["metadata"]["labels"] == {"n": "2"}
    assert out["data"] == {"k": "v2"}
    assert patch.strategic_merge({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": ["b", "a"]}}) == {
        "metadata": {"finalizers": ["a", "b"]}
    }


def test_json_patch_operations():
    doc = {"metadata": {"labels": {"a/b": "1"}}, "items": [1, 2, 3]}
    out = patch.json_patch(
        doc,
        [
            {"op": "add", "path": "/metadata/labels/c", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/a~1b"},
            {"op": "replace", "path": "/items/0", "value": 9},
            {"op": "add", "path": "/items/-", "value": 4},
            {"op": "copy", "from": "/items/1", "path": "/copied"},
            {"op": "move", "from": "/copied", "path": "/moved"},
            {"op": "test", "path": "/moved", "value": 2},
        ],
    )
    assert out == {"metadata": {"labels": {"c": "2"}}, "items": [9, 2, 3, 4], "moved": 2}


def test_patch_through_the_api(client):
    client("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}, "data": {"x": "1"}})
    path = "/api/v1/namespaces/default/configmaps/a"
    status, obj = client("PATCH", path, {"data": {"y": "2"}}, ctype=MERGE)
    assert status == 200 and obj["data"] == {"x": "1", "y": "2"}
    status, obj = client("PATCH", path, {"metadata": {"labels": {"l": "v"}}}, ctype=SMP)
    assert obj["metadata"]["labels"] == {"l": "v"}
    status, obj = client("PATCH", path, [{"op": "remove", "path": "/data/x"}], ctype=JSONP)
    assert status == 200 and obj["data"] == {"y": "2"}
    status, err = client("PATCH", path, {"metadata": {"resourceVersion": "1"}, "data": {"z": "1"}}, ctype=MERGE)
    assert status == 409 and err["reason"] == "Conflict"
    assert client("PATCH", path, {"data": {}}, ctype="application/apply-patch+yaml")[0] == 415
    assert client("PATCH", path, [{"op": "remove", "path": "/nope"}], ctype=JSONP)[0] == 422
    assert client("PATCH", "/api/v1/namespaces/default/configmaps/none", {"data": {}}, ctype=MERGE)[0] == 404


def test_standin_node_status_patch_only_touches_status(api, client):
    api.ensure_node("n1", "10.0.0.1")
    body = {"spec": {"unschedulable": True}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    status, obj = client("PATCH", "/api/v1/nodes/n1/status", body, ctype=SMP)
    assert status == 200 and "unschedulable" not in obj["spec"]
    ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "False" and len(obj["status"]["conditions"]) == 4
    status, obj = client("PATCH", "/api/v1/nodes/n1", {"spec": {"unschedulable": True}}, ctype=SMP)
    assert obj["spec"]["unschedulable"] is True
