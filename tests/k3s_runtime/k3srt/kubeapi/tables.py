"""Server-side printing: ``meta.k8s.io/v1`` Table responses (what ``kubectl get`` asks for), with the columns
Kubernetes' own printers use for the resources the collection looks at."""

from __future__ import annotations

from datetime import datetime, timezone

from .store import parse_time


def wants_table(accept: str | None) -> bool:
    return bool(accept) and "as=Table" in accept


def human_duration(seconds: float) -> str:
    """Kubernetes' short human duration (the AGE column)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y{rest}d" if rest else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: dict) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((datetime.now(timezone.utc) - created).total_seconds())


def _col(name, typ="string", priority=0, fmt="", desc=""):
    return {"name": name, "type": typ, "format": fmt, "description": desc or name, "priority": priority}


def _name(obj):
    return obj["metadata"]["name"]


# --- nodes ------------------------------------------------------------------------------------------------------


def node_status(obj) -> str:
    status = []
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            status = ["Ready" if cond.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if (obj.get("spec") or {}).get("unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(obj) -> str:
    roles = set()
    for key, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.split("/", 1)[1]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return ",".join(sorted(roles)) or "<none>"


def _address(obj, kind):
    for addr in (obj.get("status") or {}).get("addresses") or []:
        if addr.get("type") == kind:
            return addr.get("address", "<none>")
    return "<none>"


def _info(obj, key):
    return ((obj.get("status") or {}).get("nodeInfo") or {}).get(key) or "<unknown>"


# --- pods -------------------------------------------------------------------------------------------------------


def _pod_ready(obj):
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(obj):
    st = obj.get("status") or {}
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return st.get("reason") or st.get("phase") or "Unknown"


def _pod_restarts(obj):
    return sum(int(s.get("restartCount", 0)) for s in (obj.get("status") or {}).get("containerStatuses") or [])


def _ports(obj):
    ports = (obj.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _dig(obj, *path, default=0):
    cur = obj
    for part in path:
        cur = (cur or {}).get(part) if isinstance(cur, dict) else None
    return default if cur is None else cur


def _node_selector(obj):
    selector = _dig(obj, "spec", "template", "spec", "nodeSelector", default={})
    return ",".join(f"{k}={v}" for k, v in selector.items()) or "<none>"


COLUMNS = {
    "nodes": [
        (_col("Name", fmt="name"), _name),
        (_col("Status"), node_status),
        (_col("Roles"), node_roles),
        (_col("Age"), age),
        (_col("Version"), lambda o: _info(o, "kubeletVersion")),
        (_col("Internal-IP", priority=1), lambda o: _address(o, "InternalIP")),
        (_col("External-IP", priority=1), lambda o: _address(o, "ExternalIP")),
        (_col("OS-Image", priority=1), lambda o: _info(o, "osImage")),
        (_col("Kernel-Version", priority=1), lambda o: _info(o, "kernelVersion")),
        (_col("Container-Runtime", priority=1), lambda o: _info(o, "containerRuntimeVersion")),
    ],
    "runtimeclasses": [
        (_col("Name", fmt="name"), _name),
        (_col("Handler"), lambda o: o.get("handler", "")),
        (_col("Age"), age),
    ],
    "pods": [
        (_col("Name", fmt="name"), _name),
        (_col("Ready"), _pod_ready),
        (_col("Status"), _pod_status),
        (_col("Restarts", "integer"), _pod_restarts),
        (_col("Age"), age),
        (_col("IP", priority=1), lambda o: _dig(o, "status", "podIP", default="<none>")),
        (_col("Node", priority=1), lambda o: _dig(o, "spec", "nodeName", default="<none>")),
        (_col("Nominated Node", priority=1), lambda o: _dig(o, "status", "nominatedNodeName", default="<none>")),
        (_col("Readiness Gates", priority=1), lambda o: "<none>"),
    ],
    "namespaces": [
        (_col("Name", fmt="name"), _name),
        (_col("Status"), lambda o: _dig(o, "status", "phase", default="Active")),
        (_col("Age"), age),
    ],
    "configmaps": [
        (_col("Name", fmt="name"), _name),
        (_col("Data", "integer"), lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        (_col("Age"), age),
    ],
    "secrets": [
        (_col("Name", fmt="name"), _name),
        (_col("Type"), lambda o: o.get("type", "Opaque")),
        (_col("Data", "integer"), lambda o: len(o.get("data") or {})),
        (_col("Age"), age),
    ],
    "services": [
        (_col("Name", fmt="name"), _name),
        (_col("Type"), lambda o: _dig(o, "spec", "type", default="ClusterIP")),
        (_col("Cluster-IP"), lambda o: _dig(o, "spec", "clusterIP", default="<none>")),
        (_col("External-IP"), lambda o: "<none>"),
        (_col("Port(s)"), _ports),
        (_col("Age"), age),
    ],
    "daemonsets": [
        (_col("Name", fmt="name"), _name),
        (_col("Desired", "integer"), lambda o: _dig(o, "status", "desiredNumberScheduled")),
        (_col("Current", "integer"), lambda o: _dig(o, "status", "currentNumberScheduled")),
        (_col("Ready", "integer"), lambda o: _dig(o, "status", "numberReady")),
        (_col("Up-to-date", "integer"), lambda o: _dig(o, "status", "updatedNumberScheduled")),
        (_col("Available", "integer"), lambda o: _dig(o, "status", "numberAvailable")),
        (
            _col("Node Selector"),
            lambda o: (
                ",".join(f"{k}={v}" for k, v in (_dig(o, "spec", "template", "spec", "nodeSelector") or {}).items())
                or "<none>"
            ),
        ),
        (_col("Age"), age),
    ],
    "deployments": [
        (_col("Name", fmt="name"), _name),
        (_col("Ready"), lambda o: f"{_dig(o, 'status', 'readyReplicas')}/{_dig(o, 'spec', 'replicas', default=1)}"),
        (_col("Up-to-date", "integer"), lambda o: _dig(o, "status", "updatedReplicas")),
        (_col("Available", "integer"), lambda o: _dig(o, "status", "availableReplicas")),
        (_col("Age"), age),
    ],
    "addons": [
        (_col("Name", fmt="name"), _name),
        (_col("Source"), lambda o: _dig(o, "spec", "source", default="")),
        (_col("Checksum"), lambda o: _dig(o, "spec", "checksum", default="")),
        (_col("Age"), age),
    ],
    "etcdsnapshotfiles": [
        (_col("Name", fmt="name"), _name),
        (_col("SnapshotName"), lambda o: _dig(o, "spec", "snapshotName", default="")),
        (_col("Node"), lambda o: _dig(o, "spec", "nodeName", default="")),
        (_col("Location"), lambda o: _dig(o, "spec", "location", default="")),
        (_col("Size"), lambda o: _dig(o, "status", "size", default="")),
        (_col("CreationTime"), lambda o: _dig(o, "status", "creationTime", default="")),
    ],
    "leases": [
        (_col("Name", fmt="name"), _name),
        (_col("Holder"), lambda o: _dig(o, "spec", "holderIdentity", default="")),
        (_col("Age"), age),
    ],
}
GENERIC = [(_col("Name", fmt="name"), _name), (_col("Age"), age)]


def _row_object(obj: dict, include: str):
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table(res, objects: list[dict], resource_version: str, include_object: str | None = None) -> dict:
    columns = COLUMNS.get(res.plural, GENERIC)
    include = include_object or "Metadata"
    rows = []
    for obj in objects:
        row = {"cells": [fn(obj) for _c, fn in columns]}
        row_obj = _row_object(obj, include)
        if row_obj is not None:
            row["object"] = row_obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [c for c, _fn in columns],
        "rows": rows,
    }
