"""Node objects: registration body, heartbeats, the node-lifecycle pass and the lab GPU capacity simulation.

GPU capacity (LAB SIMULATION — there are no GPUs in the lab): a node advertises ``nvidia.com/gpu: <n>`` in
``status.capacity`` and ``status.allocatable`` only while BOTH hold:

* the agent found the nvidia container runtime and says so on its Node: label ``k3srt.test/nvidia-runtime=true``
  and annotation ``k3srt.test/gpu-count=<n>`` (n > 0; the agent reads n from a lab file);
* a DaemonSet whose name contains ``nvidia-device-plugin`` exists in any namespace (what the real NVIDIA device
  plugin would be).

``gpu_pass`` runs with the other controllers and adds or removes the resource; removing the DaemonSet removes the
capacity at the next pass.
"""

from __future__ import annotations

import os
import platform

from ..web import HTTPError
from . import resources
from .store import now_rfc3339, parse_time

NODES = resources.get("nodes")
DAEMONSETS = resources.get("daemonsets", "apps")
GPU_RESOURCE = "nvidia.com/gpu"
GPU_RUNTIME_LABEL = "k3srt.test/nvidia-runtime"
GPU_COUNT_ANNOTATION = "k3srt.test/gpu-count"
NOT_READY_GRACE = 40.0
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def _os_image() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _memory_ki() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1])}Ki"
    except OSError:
        pass
    return "2097152Ki"


def _containerd_version() -> str:
    try:
        from .. import buildinfo

        return getattr(buildinfo, "CONTAINERD_VERSION", None) or f"v{buildinfo.CONTAINERD_MAJOR}.3.2-k3s2"
    except (ImportError, AttributeError):
        return "v2.3.2-k3s2"


def default_capacity() -> dict:
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": _memory_ki(),
        "pods": "110",
        "ephemeral-storage": "20466256Ki",
        "hugepages-2Mi": "0",
    }


def base_labels(name: str, roles: list[str]) -> dict:
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "k3s",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "k3s",
    }
    for role in roles:
        labels[f"node-role.kubernetes.io/{role}"] = "true"
    return labels


def conditions(ready: bool, now: str) -> list[dict]:
    def cond(kind, status, reason, message):
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready_condition(ready, now),
    ]


def ready_condition(ready: bool, now: str | None = None) -> dict:
    now = now or now_rfc3339()
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status" if ready else "container runtime is down",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def node_object(
    name: str,
    ip: str,
    version: str,
    labels: dict | None = None,
    annotations: dict | None = None,
    taints: list | None = None,
    roles: list[str] | None = None,
    capacity: dict | None = None,
) -> dict:
    """The Node a kubelet registers (also what an agent POSTs to /api/v1/nodes)."""
    now = now_rfc3339()
    cap = default_capacity()
    cap.update(capacity or {})
    all_labels = base_labels(name, roles or [])
    all_labels.update(labels or {})
    all_annotations = {
        "k3s.io/hostname": name,
        "k3s.io/internal-ip": ip,
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }
    all_annotations.update(annotations or {})
    spec = {"providerID": f"k3s://{name}"}
    if taints:
        spec["taints"] = list(taints)
    uname = platform.uname()
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels, "annotations": all_annotations},
        "spec": spec,
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "capacity": dict(cap),
            "allocatable": dict(cap),
            "conditions": conditions(True, now),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "",
                "containerRuntimeVersion": f"containerd://{_containerd_version().lstrip('v')}",
                "kernelVersion": uname.release,
                "kubeProxyVersion": version,
                "kubeletVersion": version,
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": _os_image(),
                "systemUUID": "",
            },
        },
    }


def merge_registration(existing: dict, fresh: dict) -> dict:
    """Re-registration of a known node: add/overwrite labels and annotations (never remove), refresh status,
    keep spec (taints are registration-only, cordon state survives)."""
    meta = existing["metadata"]
    meta.setdefault("labels", {}).update(fresh["metadata"].get("labels") or {})
    meta.setdefault("annotations", {}).update(fresh["metadata"].get("annotations") or {})
    status = existing.setdefault("status", {})
    fresh_status = fresh.get("status") or {}
    for key in ("addresses", "nodeInfo", "daemonEndpoints"):
        if key in fresh_status:
            status[key] = fresh_status[key]
    for key in ("capacity", "allocatable"):
        if key in fresh_status:
            gpu = (status.get(key) or {}).get(GPU_RESOURCE)
            status[key] = dict(fresh_status[key])
            if gpu is not None:
                status[key][GPU_RESOURCE] = gpu
    set_ready(existing, True)
    return existing


def set_ready(node: dict, ready: bool, now: str | None = None) -> dict:
    now = now or now_rfc3339()
    status = node.setdefault("status", {})
    conds = status.setdefault("conditions", [])
    new = ready_condition(ready, now)
    for cond in conds:
        if cond.get("type") == "Ready":
            if cond.get("status") == new["status"]:
                new["lastTransitionTime"] = cond.get("lastTransitionTime", now)
            cond.clear()
            cond.update(new)
            break
    else:
        conds.append(new)
    healthy = {c["type"]: c for c in conditions(True, now) if c["type"] != "Ready"}
    for cond in conds:
        kind = cond.get("type")
        if kind in healthy and ready and cond.get("status") == "Unknown":
            cond.update(healthy[kind])  # back from NodeStatusUnknown
        elif kind != "Ready":
            cond["lastHeartbeatTime"] = now
    return node


def heartbeat_patch(ready: bool = True) -> dict:
    """A strategic-merge-patch body for ``PATCH /api/v1/nodes/<name>/status`` (Content-Type
    ``application/strategic-merge-patch+json``): every kubelet condition with a fresh lastHeartbeatTime. The server
    keeps lastTransitionTime of conditions whose status did not change."""
    now = now_rfc3339()
    conds = conditions(True, now)
    conds[-1] = ready_condition(ready, now)
    return {"status": {"conditions": conds}}


def keep_transition_times(old: dict, new: dict) -> None:
    """Conditions whose status is unchanged keep their old lastTransitionTime (status writes from kubelets)."""
    before = {c.get("type"): c for c in (old.get("status") or {}).get("conditions") or []}
    for cond in (new.get("status") or {}).get("conditions") or []:
        prev = before.get(cond.get("type"))
        if prev and prev.get("status") == cond.get("status") and prev.get("lastTransitionTime"):
            cond["lastTransitionTime"] = prev["lastTransitionTime"]


def _ready(node: dict) -> dict | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def lifecycle_update(node: dict, now, grace: float) -> dict | None:
    """The node-lifecycle decision for one node: a changed node, or None when nothing is to be done."""
    cond = _ready(node)
    spec = node.setdefault("spec", {})
    taints = spec.get("taints") or []
    if cond is None:
        return None
    beat = parse_time(cond.get("lastHeartbeatTime"))
    stale = beat is None or (now - beat).total_seconds() > grace
    if stale and cond.get("status") != "Unknown":
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        for c in node["status"]["conditions"]:
            c.update(
                {
                    "status": "Unknown",
                    "reason": "NodeStatusUnknown",
                    "message": "Kubelet stopped posting node status.",
                    "lastTransitionTime": stamp,
                }
            )
        keys = {(t.get("key"), t.get("effect")) for t in taints}
        for effect in ("NoSchedule", "NoExecute"):
            if (UNREACHABLE_TAINT, effect) not in keys:
                taints.append({"key": UNREACHABLE_TAINT, "effect": effect, "timeAdded": stamp})
        spec["taints"] = taints
        return node
    if not stale and cond.get("status") == "True" and any(t.get("key") == UNREACHABLE_TAINT for t in taints):
        spec["taints"] = [t for t in taints if t.get("key") != UNREACHABLE_TAINT]
        if not spec["taints"]:
            spec.pop("taints")
        return node
    return None


def gpu_count(node: dict) -> int:
    meta = node.get("metadata") or {}
    if (meta.get("labels") or {}).get(GPU_RUNTIME_LABEL) != "true":
        return 0
    try:
        return max(0, int((meta.get("annotations") or {}).get(GPU_COUNT_ANNOTATION, "0")))
    except ValueError:
        return 0


def gpu_update(node: dict, plugin_present: bool) -> dict | None:
    count = gpu_count(node) if plugin_present else 0
    status = node.setdefault("status", {})
    changed = False
    for key in ("capacity", "allocatable"):
        current = status.setdefault(key, {})
        if count and current.get(GPU_RESOURCE) != str(count):
            current[GPU_RESOURCE] = str(count)
            changed = True
        elif not count and GPU_RESOURCE in current:
            del current[GPU_RESOURCE]
            changed = True
    return node if changed else None


def device_plugin_present(store) -> bool:
    return any("nvidia-device-plugin" in key.rsplit("/", 1)[-1] for key, _v, _r in store.list_raw(DAEMONSETS))


def each_node(store, fn) -> int:
    """Apply ``fn(node) -> node|None`` to every node with CAS; returns how many nodes changed."""
    changed = 0
    for node in store.list(NODES):
        name = node["metadata"]["name"]
        before = node["metadata"]["resourceVersion"]
        try:
            result = store.mutate(NODES, None, name, fn, retries=3)
        except HTTPError:
            continue  # deleted meanwhile, or another server keeps winning: next pass
        if result is not None and result["metadata"]["resourceVersion"] != before:
            changed += 1
    return changed


ETCD_REMOVE = "etcd.k3s.cattle.io/remove"
ETCD_REMOVED = "etcd.k3s.cattle.io/removed-node-name"


def etcd_removal_pass(store, hook) -> list[str]:
    """Nodes annotated ``etcd.k3s.cattle.io/remove=true``: the server that wins the CAS marking the node with
    ``etcd.k3s.cattle.io/removed-node-name`` calls ``hook(name)`` (removes the etcd member), exactly once."""
    done = []
    if not callable(hook):
        return done
    for node in store.list(NODES):
        meta = node["metadata"]
        ann = meta.get("annotations") or {}
        if ann.get(ETCD_REMOVE) != "true" or ETCD_REMOVED in ann:
            continue
        if (meta.get("labels") or {}).get("node-role.kubernetes.io/etcd") != "true":
            continue
        meta.setdefault("annotations", {})[ETCD_REMOVED] = meta["name"]
        try:
            store.replace(NODES, node, int(meta["resourceVersion"]))
        except HTTPError:
            continue  # another server won (or the node changed): looked at again next pass
        hook(meta["name"])
        done.append(meta["name"])
    return done
