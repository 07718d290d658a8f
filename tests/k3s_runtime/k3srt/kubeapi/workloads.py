"""Simulated status for DaemonSets and Deployments (no pods are run): enough for ``kubectl get ds/deploy`` to show
believable numbers and for ``kubectl rollout status`` to finish.

* DaemonSet: desired = nodes matching ``spec.template.spec.nodeSelector`` whose NoSchedule/NoExecute taints the
  template tolerates (the taints Kubernetes adds to DaemonSet pods by itself are ignored); ready/available/updated =
  those of them whose Ready condition is True.
* Deployment: every replica is ready, updated and available; condition Available=True.
"""

from __future__ import annotations

from ..web import HTTPError
from . import resources
from .nodes import NODES

DAEMONSETS = resources.get("daemonsets", "apps")
DEPLOYMENTS = resources.get("deployments", "apps")
AUTO_TOLERATED = {
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
}


def defaults_on_create(res, obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if res is DAEMONSETS:
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}})
        spec.setdefault("revisionHistoryLimit", 10)
    elif res is DEPLOYMENTS:
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate"})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)


def _tolerates(tolerations: list, taint: dict) -> bool:
    for tol in tolerations or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and not tol.get("key"):
            return True
        if tol.get("key") != taint.get("key"):
            continue
        if tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _runs_on(template_spec: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (template_spec.get("nodeSelector") or {}).items()):
        return False
    blocking = [
        t
        for t in (node.get("spec") or {}).get("taints") or []
        if t.get("effect") in ("NoSchedule", "NoExecute") and t.get("key") not in AUTO_TOLERATED
    ]
    return all(_tolerates(template_spec.get("tolerations"), t) for t in blocking)


def _ready(node: dict) -> bool:
    conds = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def daemonset_update(ds: dict, nodes: list[dict]) -> dict | None:
    template_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    targets = [n for n in nodes if _runs_on(template_spec, n)]
    ready = sum(1 for n in targets if _ready(n))
    status = {
        "currentNumberScheduled": len(targets),
        "desiredNumberScheduled": len(targets),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": len(targets),
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    if ready < len(targets):
        status["numberUnavailable"] = len(targets) - ready
    if ds.get("status") == status:
        return None
    ds["status"] = status
    return ds


def deployment_update(dep: dict, now: str) -> dict | None:
    replicas = int((dep.get("spec") or {}).get("replicas", 1))
    generation = dep["metadata"].get("generation", 1)
    old = dep.get("status") or {}
    status = {"observedGeneration": generation}
    if replicas:
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            status[key] = replicas
    if {k: v for k, v in old.items() if k != "conditions"} == status and old.get("conditions"):
        return None
    status["conditions"] = [
        {
            "type": "Available",
            "status": "True",
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
        {
            "type": "Progressing",
            "status": "True",
            "reason": "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{dep["metadata"]["name"]}" has successfully progressed.',
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        },
    ]
    dep["status"] = status
    return dep


def workload_pass(store, now: str) -> None:
    nodes = store.list(NODES)
    passes = ((DAEMONSETS, lambda o: daemonset_update(o, nodes)), (DEPLOYMENTS, lambda o: deployment_update(o, now)))
    for res, fn in passes:
        for obj in store.list(res):
            meta = obj["metadata"]
            try:
                store.mutate(res, meta["namespace"], meta["name"], fn, retries=3)
            except HTTPError:
                continue
