"""Simulated DaemonSet/Deployment status: believable numbers and a finishing ``kubectl rollout status``."""

from __future__ import annotations

DS = "/apis/apps/v1/namespaces/kube-system/daemonsets"


def _ds(name, node_selector=None, tolerations=None):
    spec = {"containers": [{"name": "c", "image": "i"}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def test_standin_daemonset_status_follows_matching_ready_nodes(api, client):
    api.ensure_node(
        "server-1",
        "10.0.0.20",
        roles=["control-plane", "etcd"],
        taints=[{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}],
    )
    api.ensure_node("gpu-1", "10.0.0.200", labels={"k3srt.test/nvidia-runtime": "true"})
    api.ensure_node("agent-1", "10.0.0.100")
    client("POST", DS, _ds("everywhere"))
    client("POST", DS, _ds("tolerant", tolerations=[{"operator": "Exists"}]))
    client("POST", DS, _ds("gpu-only", node_selector={"k3srt.test/nvidia-runtime": "true"}))
    api.heartbeat("agent-1", ready=False)
    api.controllers.node_pass()
    got = {n: client("GET", f"{DS}/{n}")[1]["status"] for n in ("everywhere", "tolerant", "gpu-only")}
    assert (got["everywhere"]["desiredNumberScheduled"], got["everywhere"]["numberReady"]) == (2, 1)
    assert got["everywhere"]["numberUnavailable"] == 1
    assert (got["tolerant"]["desiredNumberScheduled"], got["tolerant"]["numberReady"]) == (3, 2)
    assert (got["gpu-only"]["desiredNumberScheduled"], got["gpu-only"]["numberAvailable"]) == (1, 1)
    assert got["gpu-only"]["observedGeneration"] == 1
    _, ds = client("GET", f"{DS}/gpu-only")
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"


def test_standin_deployment_status(api, client):
    dep = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}},
        },
    }
    client("POST", "/apis/apps/v1/namespaces/default/deployments", dep)
    api.controllers.node_pass()
    _, got = client("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    assert got["status"]["readyReplicas"] == 3 and got["status"]["observedGeneration"] == 1
    rv = got["metadata"]["resourceVersion"]
    api.controllers.node_pass()
    assert client("GET", "/apis/apps/v1/namespaces/default/deployments/web")[1]["metadata"]["resourceVersion"] == rv


def test_standin_rollout_status_with_kubectl(api, client, kubectl):
    api.ensure_node("agent-1", "10.0.0.100")
    client("POST", DS, _ds("nvidia-device-plugin-daemonset"))
    api.start_controllers()
    out = kubectl("rollout", "status", "-n", "kube-system", "ds/nvidia-device-plugin-daemonset", "--timeout=20s").stdout
    assert "successfully rolled out" in out
    header = kubectl("get", "ds", "-n", "kube-system").stdout.splitlines()
    assert header[0].split()[:6] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"]
    assert header[1].split()[:6] == ["nvidia-device-plugin-daemonset", "1", "1", "1", "1", "1"]
