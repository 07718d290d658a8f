"""Discovery (/api, /apis…), /version, health endpoints and a minimal /openapi/v2 document.

kubectl (1.20 and later) validates ``kubectl apply`` input against the OpenAPI v2 document, which it fetches in
protobuf form (gnostic ``openapi_v2.Document``). A document without definitions makes kubectl skip schema
validation for every kind while ``apply`` falls back to its built-in types for strategic merge patches.
"""

from __future__ import annotations

import re

from ..web import Response
from . import resources

_SUB_VERBS = {"status": ["get", "patch", "update"], "finalize": ["update"], "eviction": ["create"]}


def _resource_entries(group: str, version: str) -> list[dict]:
    out = []
    for r in resources.RESOURCES:
        if r.group != group or r.version != version:
            continue
        entry = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(resources.VERBS),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub in r.subresources:
            sub_entry = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": _SUB_VERBS[sub],
            }
            if sub == "eviction":
                sub_entry.update({"group": "policy", "version": "v1", "kind": "Eviction"})
            out.append(sub_entry)
    return out


def resource_list(group: str, version: str) -> dict | None:
    entries = _resource_entries(group, version)
    if not entries:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


def _group(name: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> dict:
    groups = [_group(n, v) for n, v in resources.groups().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict | None:
    versions = resources.groups().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def version_info(version: str) -> dict:
    m = re.match(r"v(\d+)\.(\d+)", version or "")
    major, minor = (m.group(1), m.group(2)) if m else ("1", "0")
    commit, go = "", "go1.26.2"
    try:
        from .. import buildinfo  # written per release by build.py

        commit = getattr(buildinfo, "COMMIT", "")
        go = getattr(buildinfo, "GO_VERSION", go)
    except ImportError:
        pass
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "gitVersion": version,
        "gitCommit": commit,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": go,
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def health(path: str, query: dict) -> Response:
    name = path.strip("/").split("/")[0]
    if "verbose" in query:
        checks = ["ping", "log", "etcd", "informer-sync", "poststarthook/start-apiextensions-controllers"]
        body = "".join(f"[+]{c} ok\n" for c in checks) + f"{name} check passed\n"
        return Response(200, body, "text/plain; charset=utf-8")
    return Response(200, "ok", "text/plain; charset=utf-8")


# --- /openapi/v2 ------------------------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2: strings and embedded messages)."""
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def openapi_v2(accept: str | None, version: str) -> Response:
    if accept and "protobuf" in accept:
        # gnostic openapi_v2.Document: swagger=1, info=2 (Info: title=1, version=2), paths=8
        info = _field(1, b"Kubernetes") + _field(2, version.encode())
        body = _field(1, b"2.0") + _field(2, info) + _field(8, b"")
        return Response(200, body, "application/octet-stream")
    doc = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": version}, "paths": {}, "definitions": {}}
    return Response(200, doc, "application/json")
