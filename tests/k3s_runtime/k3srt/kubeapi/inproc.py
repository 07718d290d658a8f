"""In-process object access for other runtime parts (e.g. etcd snapshots recording ``ETCDSnapshotFile`` objects)
that hold a KV but no ``KubeAPI``. Same storage layout and rules as the HTTP API; no authorization."""

from __future__ import annotations

import types

from . import errors, resources


def _api(kv):
    from .api import KubeAPI

    return KubeAPI(kv, types.SimpleNamespace(log=lambda msg, level="info": None))


def apply(kv, doc: dict, default_namespace: str = "default") -> dict:
    """Create or update ``doc`` (needs apiVersion, kind, metadata.name); returns the stored object."""
    res = resources.by_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
    if res is None:
        raise errors.bad_request(f"kind {doc.get('apiVersion')}/{doc.get('kind')} is not served")
    return _api(kv).apply_object(res, doc, default_namespace)


def get(kv, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict | None:
    res = resources.by_kind(api_version, kind)
    return _api(kv).store.find(res, namespace, name) if res else None


def list_objects(kv, api_version: str, kind: str, namespace: str | None = None) -> list[dict]:
    res = resources.by_kind(api_version, kind)
    return _api(kv).store.list(res, namespace) if res else []


def delete(kv, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    res = resources.by_kind(api_version, kind)
    if res is None:
        return False
    try:
        _api(kv).store.delete(res, namespace, name)
        return True
    except errors.HTTPError as exc:
        if exc.reason == "NotFound":
            return False
        raise
