"""Per-kind rules applied on create and update: defaults, immutable metadata, status subresource semantics."""

from __future__ import annotations

import copy
import random
import re

from . import errors, resources, workloads
from .nodes import keep_transition_times

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
SERVICE_CIDR_PREFIX = "10.43"


def check_name(res, name: str) -> None:
    if not name or len(name) > 253 or not _NAME_RE.match(name):
        raise errors.invalid(
            res,
            name,
            f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        )


def generate_name(prefix: str) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return prefix + "".join(random.choice(alphabet) for _ in range(5))


def _allocate_cluster_ip(store) -> str:
    used = {(s.get("spec") or {}).get("clusterIP") for s in store.list(resources.get("services"))}
    for _ in range(1000):
        ip = f"{SERVICE_CIDR_PREFIX}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        if ip not in used:
            return ip
    raise errors.HTTPError(500, "InternalError", "no free cluster IP")


def defaults_on_create(res, obj: dict, store) -> None:
    meta = obj["metadata"]
    if res.plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    elif res.plural == "pods":
        obj.setdefault("status", {}).setdefault("phase", "Pending")
        obj.setdefault("spec", {}).setdefault("restartPolicy", "Always")
    elif res.plural == "services":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec.get("clusterIP") != "None":
            spec.setdefault("clusterIP", _allocate_cluster_ip(store))
            spec["clusterIPs"] = [spec["clusterIP"]]
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif res.plural == "secrets":
        obj.setdefault("type", "Opaque")
    elif res.plural in ("daemonsets", "deployments"):
        workloads.defaults_on_create(res, obj)


_IGNORED_FOR_GENERATION = {"metadata", "status", "apiVersion", "kind"}


def _body_without_status(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in _IGNORED_FOR_GENERATION}


def merge_update(res, old: dict, new: dict, sub: str | None) -> dict:
    """The object to store when ``new`` replaces ``old`` (PUT or the result of a PATCH)."""
    old_meta = old["metadata"]
    if sub == "status":
        result = copy.deepcopy(old)
        result["status"] = copy.deepcopy(new.get("status") or {})
        if res.plural in ("nodes", "pods"):
            keep_transition_times(old, result)
        return result
    if sub == "finalize":
        result = copy.deepcopy(old)
        result.setdefault("spec", {})["finalizers"] = list((new.get("spec") or {}).get("finalizers") or [])
        return result
    result = copy.deepcopy(new)
    meta = result.setdefault("metadata", {})
    for keep in ("uid", "creationTimestamp", "name", "namespace", "deletionTimestamp"):
        if keep in old_meta:
            meta[keep] = old_meta[keep]
        else:
            meta.pop(keep, None)
    if "status" in res.subresources:
        if "status" in old:
            result["status"] = copy.deepcopy(old["status"])
        else:
            result.pop("status", None)
    generation = int(old_meta.get("generation", 1))
    if _body_without_status(result) != _body_without_status(old):
        generation += 1
    meta["generation"] = generation
    if res.plural == "namespaces":
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    return result
