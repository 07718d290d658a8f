"""Objects as JSON in the KV: ``/registry/<plural>/[<namespace>/]<name>``; resourceVersion = the KV mod_revision.

All state lives in the KV (several servers may share one etcd-backed KV), so nothing is cached here.
``resourceVersion`` is never stored in the value: it is filled in from the key's mod_revision on every read.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from ..kv import Conflict
from . import errors

MAX_RETRIES = 20


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _decode(res, value: bytes, rev: int) -> dict:
    obj = json.loads(value)
    obj["apiVersion"] = res.api_version
    obj["kind"] = res.kind
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    return obj


def _encode(obj: dict) -> bytes:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    body = dict(obj)
    body["metadata"] = meta
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class Store:
    """CRUD over a KV. ``kv_source`` is a callable returning the current KV (the server sets ``ctx.kv`` late)."""

    def __init__(self, kv_source):
        self._kv_source = kv_source

    @property
    def kv(self):
        kv = self._kv_source()
        if kv is None:
            raise errors.HTTPError(503, "ServiceUnavailable", "apiserver not ready")
        return kv

    def revision(self) -> int:
        return self.kv.revision()

    def get(self, res, namespace: str | None, name: str) -> dict:
        hit = self.kv.get(res.key(namespace, name))
        if hit is None:
            raise errors.not_found(res, name)
        return _decode(res, hit[0], hit[1])

    def find(self, res, namespace: str | None, name: str) -> dict | None:
        hit = self.kv.get(res.key(namespace, name))
        return _decode(res, hit[0], hit[1]) if hit else None

    def list(self, res, namespace: str | None = None) -> list[dict]:
        return [_decode(res, v, rev) for _k, v, rev in self.kv.list(res.prefix(namespace))]

    def list_raw(self, res, namespace: str | None = None) -> list[tuple[str, bytes, int]]:
        return self.kv.list(res.prefix(namespace))

    def decode(self, res, value: bytes, rev: int) -> dict:
        return _decode(res, value, rev)

    def create(self, res, obj: dict, dry_run: bool = False) -> dict:
        meta = obj.setdefault("metadata", {})
        name = meta["name"]
        meta.pop("resourceVersion", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.setdefault("generation", 1)
        for drop in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            meta.pop(drop, None)
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        key = res.key(meta.get("namespace"), name)
        if dry_run:
            if self.kv.get(key) is not None:
                raise errors.already_exists(res, name)
            return obj
        try:
            rev = self.kv.put(key, _encode(obj), expect_revision=0)
        except Conflict:
            raise errors.already_exists(res, name) from None
        meta["resourceVersion"] = str(rev)
        return obj

    def replace(self, res, obj: dict, expect_rev: int | None, dry_run: bool = False) -> dict:
        """Write obj over an existing object; expect_rev (the old mod_revision) guards against lost updates."""
        meta = obj["metadata"]
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        if dry_run:
            return obj
        try:
            rev = self.kv.put(res.key(meta.get("namespace"), meta["name"]), _encode(obj), expect_revision=expect_rev)
        except Conflict:
            raise errors.conflict(res, meta["name"]) from None
        meta["resourceVersion"] = str(rev)
        return obj

    def delete(self, res, namespace: str | None, name: str, expect_rev: int | None = None) -> dict:
        obj = self.get(res, namespace, name)
        rev = int(obj["metadata"]["resourceVersion"])
        if expect_rev is not None and expect_rev != rev:
            raise errors.conflict(res, name)
        try:
            if not self.kv.delete(res.key(namespace, name), expect_revision=rev):
                raise errors.not_found(res, name)
        except Conflict:
            raise errors.conflict(res, name) from None
        return obj

    def mutate(self, res, namespace: str | None, name: str, fn, retries: int = MAX_RETRIES) -> dict | None:
        """Read-modify-write with compare-and-swap, retried on conflicts.

        ``fn(obj)`` returns the new object, or None to leave it unchanged (then the current object is returned).
        """
        for _ in range(retries):
            obj = self.get(res, namespace, name)
            rev = int(obj["metadata"]["resourceVersion"])
            before = _encode(obj)
            new = fn(json.loads(json.dumps(obj)))
            if new is None or _encode(new) == before:
                return obj
            try:
                return self.replace(res, new, rev)
            except errors.HTTPError as exc:
                if exc.reason != "Conflict":
                    raise
        raise errors.conflict(res, name)
