"""The REAL kubectl against KubeAPI behind a local HTTPS front with client-certificate identities.

Runs for every kubectl found (the lab's Debian 1.20 client and any newer one on PATH)."""

from __future__ import annotations

import os
import subprocess
import time

from k3srt.kubeapi import nodes

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

APP = """apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
  labels:
    app: demo
data:
  level: "{level}"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:{tag}
"""


def _pod(name, namespace, node, owner_kind, owner_name):
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner_kind,
                    "name": owner_name,
                    "controller": True,
                    "uid": "0f0f0f0f-0000-4000-8000-000000000000",
                }
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }


def _rows(stdout):
    lines = stdout.strip().splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def test_get_nodes_wide(api, kubectl):
    api.ensure_node("server-1", "10.0.0.20", roles=["control-plane", "etcd"])
    api.ensure_node("agent-1", "10.0.0.100")
    out = kubectl("get", "nodes").stdout
    header, rows = _rows(out)
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [r[:3] for r in rows] == [["agent-1", "Ready", "<none>"], ["server-1", "Ready", "control-plane,etcd"]]
    assert all(r[4] == "v1.36.1+k3s1" for r in rows)
    out = kubectl("get", "nodes", "-o", "wide").stdout
    lines = out.strip().splitlines()
    for col in ("INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"):
        assert col in lines[0]
    assert "10.0.0.20" in lines[2] and "<none>" in lines[2] and "containerd://" in lines[2]
    out = kubectl("get", "node", "server-1", "-o", "jsonpath={.status.nodeInfo.kubeletVersion}").stdout
    assert out == "v1.36.1+k3s1"
    proc = kubectl("get", "node", "missing", check=False)
    assert proc.returncode != 0 and 'nodes "missing" not found' in proc.stderr
    out = kubectl("get", "nodes", "-l", "node-role.kubernetes.io/etcd=true", "-o", "name").stdout
    assert out.split() == ["node/server-1"]


def test_get_runtimeclass_from_manifests(api, kubectl, tmp_path):
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    (mdir / "runtimes.yaml").write_text(RUNTIMES)
    api.deploy_manifests(str(mdir))
    header, rows = _rows(kubectl("get", "runtimeclass").stdout)
    assert header == ["NAME", "HANDLER", "AGE"]
    assert [r[:2] for r in rows] == [["crun", "crun"], ["nvidia", "nvidia"]]
    out = kubectl("get", "addons", "-n", "kube-system", "-o", "name").stdout
    assert out.split() == ["addon.k3s.cattle.io/runtimes"]


def test_apply_create_then_update(kubectl, tmp_path):
    path = tmp_path / "app.yaml"
    path.write_text(APP.format(level="1", replicas=1, tag="1.25"))
    out = kubectl("apply", "-f", str(path)).stdout
    assert out.split("\n")[:3] == [
        "namespace/demo created",
        "configmap/settings created",
        "deployment.apps/web created",
    ]
    out = kubectl("apply", "-f", str(path)).stdout
    assert out.count("unchanged") == 3
    path.write_text(APP.format(level="2", replicas=3, tag="1.27"))
    out = kubectl("apply", "-f", str(path)).stdout
    assert "configmap/settings configured" in out and "deployment.apps/web configured" in out
    assert "namespace/demo unchanged" in out
    assert kubectl("get", "cm", "settings", "-n", "demo", "-o", "jsonpath={.data.level}").stdout == "2"
    jp = "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.generation}"
    assert kubectl("get", "deploy", "web", "-n", "demo", "-o", jp).stdout == "3 nginx:1.27 2"
    header, rows = _rows(kubectl("get", "cm", "-n", "demo", "-l", "app=demo").stdout)
    assert header == ["NAME", "DATA", "AGE"] and rows[0][:2] == ["settings", "1"]
    out = kubectl("delete", "-f", str(path)).stdout
    assert 'configmap "settings" deleted' in out
    assert kubectl("get", "ns", "demo", check=False).returncode != 0


def test_cordon_uncordon(api, kubectl):
    api.ensure_node("agent-1", "10.0.0.100")
    assert kubectl("cordon", "agent-1").stdout.strip() == "node/agent-1 cordoned"
    _, rows = _rows(kubectl("get", "nodes").stdout)
    assert rows[0][1] == "Ready,SchedulingDisabled"
    assert kubectl("get", "node", "agent-1", "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    assert kubectl("uncordon", "agent-1").stdout.strip() == "node/agent-1 uncordoned"
    _, rows = _rows(kubectl("get", "nodes").stdout)
    assert rows[0][1] == "Ready"


def test_drain_evicts_pods_and_ignores_daemonsets(api, client, kubectl):
    api.ensure_node("agent-1", "10.0.0.100")
    api.ensure_node("agent-2", "10.0.0.101")
    ds = {
        "metadata": {"name": "agent-ds"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}}},
    }
    client("POST", "/apis/apps/v1/namespaces/kube-system/daemonsets", ds)
    client("POST", "/api/v1/namespaces/default/pods", _pod("web-1", "default", "agent-1", "ReplicaSet", "web"))
    client("POST", "/api/v1/namespaces/default/pods", _pod("web-2", "default", "agent-2", "ReplicaSet", "web"))
    client(
        "POST", "/api/v1/namespaces/kube-system/pods", _pod("ds-1", "kube-system", "agent-1", "DaemonSet", "agent-ds")
    )
    start = time.monotonic()
    proc = kubectl("drain", "agent-1", "--ignore-daemonsets", "--timeout=60s")
    assert time.monotonic() - start < 30
    text = proc.stdout + proc.stderr
    assert "node/agent-1 cordoned" in text and "pod/web-1 evicted" in text
    assert "kube-system/ds-1" in text  # the warning naming the ignored DaemonSet pod
    out = kubectl("get", "pods", "-A", "-o", "name").stdout.split()
    assert sorted(out) == ["pod/ds-1", "pod/web-2"]
    _, rows = _rows(kubectl("get", "nodes").stdout)
    assert dict((r[0], r[1]) for r in rows) == {"agent-1": "Ready,SchedulingDisabled", "agent-2": "Ready"}


def test_drain_without_pods_is_quick(api, kubectl):
    api.ensure_node("server-1", "10.0.0.20", roles=["control-plane", "etcd"])
    start = time.monotonic()
    proc = kubectl("drain", "server-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s")
    assert time.monotonic() - start < 10
    assert "node/server-1 drained" in proc.stdout + proc.stderr


def test_delete_node(api, kubectl, ctx):
    api.ensure_node("server-2", "10.0.0.21", roles=["control-plane", "etcd"])
    api.ensure_node("agent-1", "10.0.0.100")
    assert kubectl("delete", "node", "server-2").stdout.strip() == 'node "server-2" deleted'
    assert ctx.deleted_nodes == ["server-2"]
    assert kubectl("get", "nodes", "-o", "name").stdout.split() == ["node/agent-1"]
    proc = kubectl("delete", "node", "server-2", check=False)
    assert proc.returncode != 0 and 'nodes "server-2" not found' in proc.stderr


def test_not_ready_node_shows_in_kubectl(api, kubectl):
    api.ensure_node("agent-1", "10.0.0.100")
    api.ensure_node("agent-2", "10.0.0.101")
    api.start_controllers()  # grace 2 s in these tests
    deadline = time.monotonic() + 10
    status = {}
    while time.monotonic() < deadline:
        api.heartbeat("agent-2")
        _, rows = _rows(kubectl("get", "nodes").stdout)
        status = {r[0]: r[1] for r in rows}
        if status.get("agent-1") == "NotReady":
            break
        time.sleep(0.3)
    assert status == {"agent-1": "NotReady", "agent-2": "Ready"}


def test_kubelet_and_bootstrap_identities_with_kubectl(api, kubectl_as):
    api.ensure_node("agent-1", "10.0.0.100")
    kubelet = kubectl_as("system:node:agent-1", "system:nodes")
    assert kubelet("get", "nodes", "-o", "name").stdout.split() == ["node/agent-1"]
    proc = kubelet("get", "secrets", "-n", "kube-system", check=False)
    assert proc.returncode != 0 and "Forbidden" in proc.stderr
    proc = kubelet("label", "node", "agent-1", "k3srt.test/nvidia-runtime=true")
    assert "labeled" in proc.stdout
    assert nodes.gpu_count(api.store.get(nodes.NODES, None, "agent-1")) == 0  # no gpu-count annotation yet
    bootstrap = kubectl_as("system:bootstrap:abcdef", "system:bootstrappers")
    proc = bootstrap("get", "nodes", check=False)
    assert proc.returncode != 0 and "Forbidden" in proc.stderr


def test_taint_untaint_and_wait(api, kubectl):
    api.ensure_node("agent-1", "10.0.0.100")
    kubectl("taint", "nodes", "agent-1", "gpu=true:NoSchedule")
    kubectl("taint", "nodes", "agent-1", "dedicated=edge:NoExecute")
    jp = "jsonpath={range .spec.taints[*]}{.key}={.value}:{.effect} {end}"
    assert sorted(kubectl("get", "node", "agent-1", "-o", jp).stdout.split()) == [
        "dedicated=edge:NoExecute",
        "gpu=true:NoSchedule",
    ]
    assert "untainted" in kubectl("taint", "nodes", "agent-1", "gpu-").stdout
    assert kubectl("get", "node", "agent-1", "-o", jp).stdout.split() == ["dedicated=edge:NoExecute"]
    out = kubectl("wait", "--for=condition=Ready", "node/agent-1", "--timeout=10s").stdout
    assert out.strip() == "node/agent-1 condition met"
    api.heartbeat("agent-1", ready=False)
    proc = kubectl("wait", "--for=condition=Ready", "node/agent-1", "--timeout=2s", check=False)
    assert proc.returncode != 0


def test_wait_sees_a_change_through_watch(api, kubectl):
    """kubectl wait lists, then watches: the MODIFIED event from the polling watch must reach it."""
    api.ensure_node("agent-1", "10.0.0.100")
    api.heartbeat("agent-1", ready=False)
    env = dict(os.environ, KUBECONFIG=kubectl.kubeconfig, HOME=os.path.dirname(kubectl.kubeconfig))
    cmd = [kubectl.binary, "wait", "--for=condition=Ready", "node/agent-1", "--timeout=20s"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(2)
    assert proc.poll() is None  # still waiting
    api.heartbeat("agent-1", ready=True)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.strip() == "node/agent-1 condition met"


def test_delete_waits_for_namespace_termination(kubectl):
    manifest = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scratch\n---\n"
    manifest += "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\n  namespace: scratch\n"
    assert kubectl("create", "-f", "-", stdin=manifest).stdout.split() == [
        "namespace/scratch",
        "created",
        "configmap/c1",
        "created",
    ]
    start = time.monotonic()
    assert kubectl("delete", "namespace", "scratch").stdout.strip() == 'namespace "scratch" deleted'
    assert time.monotonic() - start < 15
    assert kubectl("get", "namespace", "scratch", check=False).returncode != 0
