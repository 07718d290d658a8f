"""Nodes: registration (in-process and by a kubelet identity over the API), heartbeats, node lifecycle (NotReady
after the grace period, CAS-safe with several servers), deletion hook, and the lab GPU capacity simulation."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from api_fixtures import Client, make_ctx
from k3srt.kubeapi import KubeAPI, nodes
from k3srt.web import Identity

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def _ready(node):
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def test_standin_ensure_node_builds_a_k3s_like_node(api, client):
    api.ensure_node(
        "server-1",
        "10.0.0.20",
        labels={"tier": "a"},
        annotations={"k3s.io/node-args": "[]"},
        taints=[{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}],
        roles=["control-plane", "etcd"],
        capacity={"cpu": "4"},
    )
    _, node = client("GET", "/api/v1/nodes/server-1")
    labels = node["metadata"]["labels"]
    for key, value in {
        "kubernetes.io/hostname": "server-1",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "k3s",
        "node-role.kubernetes.io/control-plane": "true",
        "node-role.kubernetes.io/etcd": "true",
        "tier": "a",
    }.items():
        assert labels[key] == value
    assert node["metadata"]["annotations"]["k3s.io/node-args"] == "[]"
    assert node["spec"]["taints"][0]["key"] == "CriticalAddonsOnly"
    st = node["status"]
    assert {"type": "InternalIP", "address": "10.0.0.20"} in st["addresses"]
    assert {"type": "Hostname", "address": "server-1"} in st["addresses"]
    info = st["nodeInfo"]
    assert info["kubeletVersion"] == "v1.36.1+k3s1" and info["architecture"] == "amd64"
    assert info["operatingSystem"] == "linux" and info["containerRuntimeVersion"].startswith("containerd://")
    assert st["capacity"]["cpu"] == "4" and st["allocatable"]["pods"] == "110"
    assert _ready(node)["status"] == "True"
    # re-registration adds labels, keeps the cordon and does not duplicate anything
    client("PATCH", "/api/v1/nodes/server-1", {"spec": {"unschedulable": True}}, ctype=SMP)
    api.ensure_node("server-1", "10.0.0.21", labels={"extra": "x"}, roles=["control-plane", "etcd"])
    _, node = client("GET", "/api/v1/nodes/server-1")
    assert node["metadata"]["labels"]["tier"] == "a" and node["metadata"]["labels"]["extra"] == "x"
    assert node["spec"]["unschedulable"] is True
    assert {"type": "InternalIP", "address": "10.0.0.21"} in node["status"]["addresses"]


def test_standin_kubelet_identity_registers_and_heartbeats_over_the_api(api):
    kubelet = Client(api, Identity("system:node:agent-1", ("system:nodes", "system:authenticated")))
    body = nodes.node_object("agent-1", "10.0.0.100", "v1.36.1+k3s1", roles=[])
    assert kubelet("POST", "/api/v1/nodes", body)[0] == 201
    assert kubelet("POST", "/api/v1/nodes", body)[1]["reason"] == "AlreadyExists"
    stamp = "2030-01-01T00:00:00Z"
    beat = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": stamp}]}}
    status, node = kubelet("PATCH", "/api/v1/nodes/agent-1/status", beat, ctype=SMP)
    assert status == 200 and _ready(node)["lastHeartbeatTime"] == stamp
    assert _ready(node)["reason"] == "KubeletReady"
    status, node = kubelet("PATCH", "/api/v1/nodes/agent-1/status", beat, ctype=MERGE)
    assert status == 200 and [c["type"] for c in node["status"]["conditions"]] == ["Ready"]
    time.sleep(1.1)
    status, node = kubelet("PATCH", "/api/v1/nodes/agent-1/status", nodes.heartbeat_patch(), ctype=SMP)
    assert status == 200 and _ready(node)["status"] == "True"
    assert _ready(node)["lastTransitionTime"] < _ready(node)["lastHeartbeatTime"]
    assert kubelet("GET", "/api/v1/nodes")[0] == 200
    other = nodes.node_object("agent-2", "10.0.0.101", "v1.36.1+k3s1")
    assert kubelet("POST", "/api/v1/nodes", other)[0] == 403


def test_standin_heartbeat_updates_ready_condition(api, client):
    api.ensure_node("n1", "10.0.0.1")
    first = _ready(client("GET", "/api/v1/nodes/n1")[1])
    time.sleep(1.1)
    assert api.heartbeat("n1") is True
    second = _ready(client("GET", "/api/v1/nodes/n1")[1])
    assert second["lastHeartbeatTime"] > first["lastHeartbeatTime"]
    assert second["lastTransitionTime"] == first["lastTransitionTime"]
    api.heartbeat("n1", ready=False)
    assert _ready(client("GET", "/api/v1/nodes/n1")[1])["status"] == "False"
    assert api.heartbeat("missing") is False


def test_lifecycle_marks_stale_nodes_not_ready_and_recovers():
    old = (datetime.now(timezone.utc) - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    node = nodes.node_object("n1", "10.0.0.1", "v1")
    for cond in node["status"]["conditions"]:
        cond["lastHeartbeatTime"] = old
    now = datetime.now(timezone.utc)
    changed = nodes.lifecycle_update(node, now, 40)
    assert _ready(changed)["status"] == "Unknown" and _ready(changed)["reason"] == "NodeStatusUnknown"
    assert {t["effect"] for t in changed["spec"]["taints"]} == {"NoSchedule", "NoExecute"}
    assert nodes.lifecycle_update(changed, now, 40) is None
    nodes.set_ready(changed, True)
    assert {c["status"] for c in changed["status"]["conditions"]} == {"True", "False"}
    recovered = nodes.lifecycle_update(changed, datetime.now(timezone.utc), 40)
    assert "taints" not in recovered["spec"]
    fresh = nodes.node_object("n2", "10.0.0.2", "v1")
    assert nodes.lifecycle_update(fresh, datetime.now(timezone.utc), 40) is None


def test_standin_controllers_on_three_servers_sharing_one_kv(tmp_path, kv, client):
    apis = [KubeAPI(make_ctx(tmp_path, kv), grace=2.0, node_interval=0.1, manifest_interval=60) for _ in range(3)]
    apis[0].ensure_node("n1", "10.0.0.1")
    apis[1].ensure_node("n2", "10.0.0.2")
    for kube in apis:
        kube.start_controllers()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            apis[0].heartbeat("n2")
            _, listing = client("GET", "/api/v1/nodes")
            states = {n["metadata"]["name"]: _ready(n)["status"] for n in listing["items"]}
            if states.get("n1") == "Unknown":
                break
            time.sleep(0.2)
        accept = "application/json;as=Table;v=v1;g=meta.k8s.io"
        _, table = client("GET", "/api/v1/nodes", accept=accept)
        status = {r["cells"][0]: r["cells"][1] for r in table["rows"]}
        assert status == {"n1": "NotReady", "n2": "Ready"}
        apis[2].heartbeat("n1")
        time.sleep(0.5)
        _, node = client("GET", "/api/v1/nodes/n1")
        assert _ready(node)["status"] == "True" and "taints" not in node["spec"]
    finally:
        for kube in apis:
            kube.stop_controllers()


def test_standin_deleting_an_etcd_node_calls_the_hook_and_removes_its_pods(api, client, ctx):
    api.ensure_node("server-2", "10.0.0.21", roles=["control-plane", "etcd"])
    api.ensure_node("agent-1", "10.0.0.100")
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "agent-1", "containers": [{"name": "c", "image": "i"}]}}
    client("POST", "/api/v1/namespaces/default/pods", pod)
    assert client("DELETE", "/api/v1/nodes/agent-1")[0] == 200
    assert ctx.deleted_nodes == []
    assert client("GET", "/api/v1/namespaces/default/pods/p")[0] == 404
    assert client("DELETE", "/api/v1/nodes/server-2")[0] == 200
    assert ctx.deleted_nodes == ["server-2"]
    assert client("DELETE", "/api/v1/nodes/server-2")[0] == 404


def _gpu(client, name):
    st = client("GET", f"/api/v1/nodes/{name}")[1]["status"]
    return st["capacity"].get("nvidia.com/gpu"), st["allocatable"].get("nvidia.com/gpu")


def test_standin_gpu_capacity_simulation(api, client):
    api.ensure_node(
        "gpu-1", "10.0.0.200", labels={"k3srt.test/nvidia-runtime": "true"}, annotations={"k3srt.test/gpu-count": "2"}
    )
    api.ensure_node("agent-1", "10.0.0.100", annotations={"k3srt.test/gpu-count": "2"})
    api.controllers.node_pass()
    assert _gpu(client, "gpu-1") == (None, None)  # runtime present, but no device plugin yet
    ds = {
        "metadata": {"name": "nvidia-device-plugin-daemonset"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}},
    }
    assert client("POST", "/apis/apps/v1/namespaces/kube-system/daemonsets", ds)[0] == 201
    api.controllers.node_pass()
    assert _gpu(client, "gpu-1") == ("2", "2")
    assert _gpu(client, "agent-1") == (None, None)  # no nvidia runtime label
    api.heartbeat("gpu-1")
    api.ensure_node("gpu-1", "10.0.0.200")  # re-registration keeps the advertised GPUs
    assert _gpu(client, "gpu-1") == ("2", "2")
    client("DELETE", "/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin-daemonset")
    api.controllers.node_pass()
    assert _gpu(client, "gpu-1") == (None, None)


def test_standin_controller_gives_every_node_one_grace_period_after_start(api, client):
    api.ensure_node("n1", "10.0.0.1")
    old = (datetime.now(timezone.utc) - timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": old}]}}
    client("PATCH", "/api/v1/nodes/n1/status", stale, ctype=SMP)
    api.controllers._started = time.monotonic()  # a server that has just (re)started its controllers
    api.controllers.node_pass()
    assert _ready(client("GET", "/api/v1/nodes/n1")[1])["status"] == "True"
    api.controllers._started = time.monotonic() - 10  # grace (2 s in tests) has passed
    api.controllers.node_pass()
    assert _ready(client("GET", "/api/v1/nodes/n1")[1])["status"] == "Unknown"


def test_standin_etcd_remove_annotation_calls_the_hook_once(tmp_path, kv, client):
    ctxs = [make_ctx(tmp_path, kv) for _ in range(3)]
    calls = []
    for ctx in ctxs:
        ctx.on_node_deleted = calls.append
    apis = [KubeAPI(ctx, grace=60) for ctx in ctxs]
    apis[0].ensure_node("server-3", "10.0.0.22", roles=["control-plane", "etcd"])
    apis[0].ensure_node("agent-1", "10.0.0.100")
    for name in ("server-3", "agent-1"):
        client(
            "PATCH",
            f"/api/v1/nodes/{name}",
            {"metadata": {"annotations": {"etcd.k3s.cattle.io/remove": "true"}}},
            ctype=SMP,
        )
    for kube in apis:
        kube.controllers.node_pass()
    assert calls == ["server-3"]
    ann = client("GET", "/api/v1/nodes/server-3")[1]["metadata"]["annotations"]
    assert ann["etcd.k3s.cattle.io/removed-node-name"] == "server-3"
