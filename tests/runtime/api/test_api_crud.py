"""CRUD, resourceVersion/optimistic concurrency, selectors, subresources and discovery of KubeAPI on SqliteKV."""

from __future__ import annotations

import json

import pytest
from api_fixtures import make_ctx  # imported at collection time: several test dirs have a conftest

CM = "/api/v1/namespaces/default/configmaps"


def cm(name, labels=None, data=None):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data or {},
    }


def test_default_namespaces_exist(client):
    status, body = client("GET", "/api/v1/namespaces")
    assert status == 200
    names = {i["metadata"]["name"] for i in body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    assert all(i["status"]["phase"] == "Active" for i in body["items"])


def test_standin_objects_live_in_the_kv_under_registry_keys(client, kv):
    status, created = client("POST", CM, cm("a", data={"k": "v"}))
    assert status == 201
    value, rev = kv.get("/registry/configmaps/default/a")
    assert json.loads(value)["data"] == {"k": "v"}
    assert created["metadata"]["resourceVersion"] == str(rev)
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"].endswith("Z")
    client("POST", "/apis/node.k8s.io/v1/runtimeclasses", {"metadata": {"name": "crun"}, "handler": "crun"})
    assert kv.get("/registry/runtimeclasses/crun") is not None


def test_create_get_update_delete(client):
    assert client("POST", CM, cm("a"))[0] == 201
    status, err = client("POST", CM, cm("a"))
    assert (status, err["reason"], err["kind"]) == (409, "AlreadyExists", "Status")
    assert err["message"] == 'configmaps "a" already exists'
    status, got = client("GET", f"{CM}/a")
    assert status == 200 and got["kind"] == "ConfigMap" and got["apiVersion"] == "v1"
    got["data"] = {"x": "1"}
    status, updated = client("PUT", f"{CM}/a", got)
    assert status == 200 and updated["data"] == {"x": "1"}
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    assert updated["metadata"]["uid"] == got["metadata"]["uid"]
    status, deleted = client("DELETE", f"{CM}/a")
    assert status == 200 and deleted["metadata"]["name"] == "a"
    status, err = client("GET", f"{CM}/a")
    assert (status, err["reason"], err["message"]) == (404, "NotFound", 'configmaps "a" not found')


def test_stale_resource_version_conflicts(client):
    _, first = client("POST", CM, cm("a"))
    stale = json.loads(json.dumps(first))
    first["data"] = {"v": "1"}
    assert client("PUT", f"{CM}/a", first)[0] == 200
    stale["data"] = {"v": "2"}
    status, err = client("PUT", f"{CM}/a", stale)
    assert status == 409 and err["reason"] == "Conflict"
    assert "the object has been modified" in err["message"]
    assert client("GET", f"{CM}/a")[1]["data"] == {"v": "1"}
    # an update without resourceVersion is unconditional
    stale["metadata"].pop("resourceVersion")
    assert client("PUT", f"{CM}/a", stale)[0] == 200


def test_namespace_must_exist_and_match(client):
    status, err = client("POST", "/api/v1/namespaces/nope/configmaps", cm("a"))
    assert status == 404 and err["message"] == 'namespaces "nope" not found'
    body = cm("a")
    body["metadata"]["namespace"] = "kube-system"
    assert client("POST", CM, body)[0] == 400


def test_invalid_names_and_generate_name(client):
    assert client("POST", CM, cm("Bad_Name"))[0] == 422
    status, obj = client("POST", CM, {"metadata": {"generateName": "gen-"}})
    assert status == 201 and obj["metadata"]["name"].startswith("gen-") and len(obj["metadata"]["name"]) == 9


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app", {"a", "b"}),
        ("app=web", {"a"}),
        ("app!=web", {"b", "c"}),
        ("!app", {"c"}),
        ("app=web,tier=front", {"a"}),
        ("app in (web,db)", {"a", "b"}),
        ("app notin (web)", {"b", "c"}),
    ],
)
def test_label_selectors(client, selector, expected):
    client("POST", CM, cm("a", {"app": "web", "tier": "front"}))
    client("POST", CM, cm("b", {"app": "db"}))
    client("POST", CM, cm("c", {"other": "x"}))
    _, body = client("GET", CM, query={"labelSelector": selector})
    assert {i["metadata"]["name"] for i in body["items"]} == expected


def test_field_selectors(client):
    client("POST", CM, cm("a"))
    client("POST", "/api/v1/namespaces/kube-system/configmaps", cm("b"))
    _, body = client("GET", "/api/v1/configmaps", query={"fieldSelector": "metadata.name=b"})
    assert [i["metadata"]["namespace"] for i in body["items"]] == ["kube-system"]
    _, body = client("GET", "/api/v1/configmaps", query={"fieldSelector": "metadata.namespace=default"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["a"]
    for n, node in (("p1", "n1"), ("p2", "n2")):
        pod = {"metadata": {"name": n}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}
        client("POST", "/api/v1/namespaces/default/pods", pod)
    _, body = client("GET", "/api/v1/pods", query={"fieldSelector": "spec.nodeName=n2"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["p2"]
    _, body = client("GET", "/api/v1/pods", query={"fieldSelector": "spec.nodeName!=n2"})
    assert [i["metadata"]["name"] for i in body["items"]] == ["p1"]


def test_standin_list_shape_and_resource_version(client, kv):
    client("POST", CM, cm("a"))
    status, body = client("GET", CM)
    assert status == 200 and body["kind"] == "ConfigMapList" and body["apiVersion"] == "v1"
    assert body["metadata"]["resourceVersion"] == str(kv.revision())


def test_status_subresource_keeps_spec_and_main_resource_keeps_status(client):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    _, created = client("POST", "/api/v1/namespaces/default/pods", pod)
    assert created["status"]["phase"] == "Pending"
    created["status"] = {"phase": "Running"}
    created["spec"]["containers"][0]["image"] = "changed"
    _, after = client("PUT", "/api/v1/namespaces/default/pods/p/status", created)
    assert after["status"]["phase"] == "Running" and after["spec"]["containers"][0]["image"] == "i"
    after["status"] = {"phase": "Failed"}
    after["spec"]["containers"][0]["image"] = "new"
    _, main = client("PUT", "/api/v1/namespaces/default/pods/p", after)
    assert main["status"]["phase"] == "Running" and main["spec"]["containers"][0]["image"] == "new"
    assert main["metadata"]["generation"] == 2


def test_eviction_deletes_the_pod(client):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    client("POST", "/api/v1/namespaces/default/pods", pod)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"}}
    status, body = client("POST", "/api/v1/namespaces/default/pods/p/eviction", eviction)
    assert status == 201 and body["status"] == "Success"
    assert client("GET", "/api/v1/namespaces/default/pods/p")[0] == 404
    assert client("POST", "/api/v1/namespaces/default/pods/p/eviction", eviction)[0] == 404


def test_standin_namespace_delete_removes_its_objects_and_protects_system_namespaces(api, client, kv):
    client("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}})
    client("POST", "/api/v1/namespaces/tmp/configmaps", cm("a"))
    status, ns = client("DELETE", "/api/v1/namespaces/tmp")
    assert status == 200 and ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    assert client("GET", "/api/v1/namespaces/tmp/configmaps/a")[0] == 200  # content goes shortly after
    assert client("POST", "/api/v1/namespaces/tmp/configmaps", cm("b"))[0] == 403
    api.finalize_namespaces()
    assert kv.list("/registry/configmaps/tmp/") == []
    assert client("GET", "/api/v1/namespaces/tmp")[0] == 404
    assert client("DELETE", "/api/v1/namespaces/kube-system")[0] == 403


def test_services_get_a_cluster_ip(client):
    svc = {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    _, body = client("POST", "/api/v1/namespaces/default/services", svc)
    assert body["spec"]["type"] == "ClusterIP" and body["spec"]["clusterIP"].startswith("10.43.")


def test_standin_events_are_accepted_and_not_stored(client, kv):
    event = {"metadata": {"name": "e1"}, "reason": "Started"}
    assert client("POST", "/api/v1/namespaces/default/events", event)[0] == 201
    assert kv.list("/registry/events/") == []
    assert client("GET", "/api/v1/namespaces/default/events")[1]["items"] == []


def test_unknown_paths_and_methods(client):
    assert client("GET", "/api/v1/widgets")[0] == 404
    assert client("GET", "/apis/nope.io/v1")[0] == 404
    assert client("PUT", CM, cm("a"))[0] == 405
    assert client("POST", CM, b"{not json")[0] == 400


def test_discovery_documents(client):
    _, api = client("GET", "/api")
    assert api["versions"] == ["v1"]
    _, core = client("GET", "/api/v1")
    names = {r["name"]: r for r in core["resources"]}
    assert names["nodes"]["namespaced"] is False and "no" in names["nodes"]["shortNames"]
    assert names["pods/eviction"]["kind"] == "Eviction" and names["pods/eviction"]["group"] == "policy"
    assert "nodes/status" in names
    _, groups = client("GET", "/apis")
    by_name = {g["name"]: g for g in groups["groups"]}
    for group in ("node.k8s.io", "apps", "coordination.k8s.io", "k3s.cattle.io", "policy"):
        assert by_name[group]["preferredVersion"]["version"] == "v1"
    _, rc = client("GET", "/apis/node.k8s.io/v1")
    assert [r["name"] for r in rc["resources"]] == ["runtimeclasses"]
    _, version = client("GET", "/version")
    assert version["gitVersion"] == "v1.36.1+k3s1" and (version["major"], version["minor"]) == ("1", "36")
    for path in ("/healthz", "/livez", "/readyz"):
        assert client("GET", path) == (200, "ok")


def test_standin_openapi_v2_protobuf_and_json(api, client):
    status, doc = client("GET", "/openapi/v2")
    assert status == 200 and doc["swagger"] == "2.0"
    status, raw = client("GET", "/openapi/v2", accept="application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
    assert status == 200 and "2.0" in raw and "Kubernetes" in raw


def test_standin_table_output(client, api):
    api.ensure_node("n1", "10.1.0.5", roles=["control-plane", "etcd"])
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    _, table = client("GET", "/api/v1/nodes", accept=accept)
    assert table["kind"] == "Table"
    cols = [c["name"] for c in table["columnDefinitions"]]
    assert cols[:5] == ["Name", "Status", "Roles", "Age", "Version"]
    assert cols[5:] == ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert all(c["priority"] == 1 for c in table["columnDefinitions"][5:])
    row = table["rows"][0]["cells"]
    assert row[:3] == ["n1", "Ready", "control-plane,etcd"] and row[4] == "v1.36.1+k3s1"
    assert row[5] == "10.1.0.5" and row[6] == "<none>" and row[9].startswith("containerd://")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    client("POST", "/apis/node.k8s.io/v1/runtimeclasses", {"metadata": {"name": "nvidia"}, "handler": "nvidia"})
    _, rc = client("GET", "/apis/node.k8s.io/v1/runtimeclasses/nvidia", accept=accept)
    assert [c["name"] for c in rc["columnDefinitions"]] == ["Name", "Handler", "Age"]
    assert rc["rows"][0]["cells"][:2] == ["nvidia", "nvidia"]
    _, leases = client("GET", "/apis/coordination.k8s.io/v1/leases", accept=accept)
    assert leases["rows"] == []


def test_standin_concurrent_writers_through_two_kv_connections_lose_no_update(tmp_path, kv, client):
    """Two servers = two KV connections on one datastore: CAS retries make every increment count."""
    import threading

    from k3srt.kubeapi import KubeAPI, resources
    from k3srt.kv import SqliteKV

    client("POST", CM, cm("counter", data={"n": "0"}))
    other = SqliteKV(str(tmp_path / "state.db"))
    apis = [KubeAPI(make_ctx(tmp_path, kv)), KubeAPI(make_ctx(tmp_path, other))]
    res = resources.get("configmaps")

    def bump(obj):
        obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
        return obj

    def worker(kube):
        for _ in range(25):
            kube.store.mutate(res, "default", "counter", bump, retries=200)

    threads = [threading.Thread(target=worker, args=(apis[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert client("GET", f"{CM}/counter")[1]["data"]["n"] == "100"
