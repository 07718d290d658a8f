"""Talk to etcd 3.4 through its JSON gRPC gateway (HTTPS + client certificate, stdlib only).

``EtcdClient`` does the raw calls (kv, cluster member API, maintenance status); ``EtcdKV`` implements
``k3srt.kv.KV`` on top of it. Keys and values travel base64-encoded; 64-bit numbers arrive as JSON strings.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from ..kv import KV, Conflict


class EtcdUnavailable(Exception):
    """No endpoint answered (connection refused, timeout, TLS failure)."""


class EtcdAPIError(Exception):
    """etcd answered with an error (e.g. 'etcdserver: too many learner members in cluster')."""

    def __init__(self, message: str, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def _unb64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _prefix_end(prefix: bytes) -> bytes:
    """The range end that selects every key starting with prefix (etcd's GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"


class EtcdClient:
    def __init__(self, endpoints: list[str], ca_file: str, cert_file: str, key_file: str, timeout: float = 10.0):
        if not endpoints:
            raise ValueError("no etcd endpoints")
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=ca_file)
        self._ssl.load_cert_chain(cert_file, key_file)
        self._local = threading.local()

    @classmethod
    def for_ctx(cls, ctx, endpoints: list[str] | None = None, timeout: float = 10.0) -> EtcdClient:
        from . import layout

        return cls(
            endpoints or [layout.local_client_url(ctx)],
            layout.tls(ctx, "server-ca.crt"),
            layout.tls(ctx, "client.crt"),
            layout.tls(ctx, "client.key"),
            timeout,
        )

    # -- transport -------------------------------------------------------------------------------------------
    def _conn(self, endpoint: str) -> http.client.HTTPSConnection:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        conn = pool.get(endpoint)
        if conn is None:
            parts = urlsplit(endpoint)
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port or 2379, timeout=self.timeout, context=self._ssl
            )
            pool[endpoint] = conn
        return conn

    def _drop(self, endpoint: str) -> None:
        conn = getattr(self._local, "pool", {}).pop(endpoint, None)
        if conn is not None:
            conn.close()

    def _post(self, endpoint: str, path: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in (1, 2):  # a pooled keep-alive connection may have been closed by the server
            conn = self._conn(endpoint)
            try:
                conn.request("POST", path, data, headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(endpoint)
                if attempt == 2:
                    raise
            except Exception:
                self._drop(endpoint)
                raise
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"error": raw.decode(errors="replace")}
        return resp.status, payload

    def call(self, path: str, body: dict | None = None, endpoints: list[str] | None = None) -> dict:
        """POST body to /v3/<path> on the first endpoint that answers; raise EtcdAPIError on an etcd error."""
        errors = []
        for endpoint in endpoints or self.endpoints:
            try:
                status, payload = self._post(endpoint, "/v3/" + path, body or {})
            except (OSError, http.client.HTTPException, ssl.SSLError, socket.timeout) as exc:
                errors.append(f"{endpoint}: {exc or type(exc).__name__}")
                continue
            if status != 200 or "error" in payload:
                msg = payload.get("message") or payload.get("error") or f"HTTP {status}"
                raise EtcdAPIError(msg, payload.get("code"), status)
            return payload
        raise EtcdUnavailable("; ".join(errors) or "no endpoint")

    def close(self) -> None:
        for endpoint in list(getattr(self._local, "pool", {})):
            self._drop(endpoint)

    # -- cluster / maintenance -------------------------------------------------------------------------------
    def status(self, endpoint: str | None = None) -> dict:
        return self.call("maintenance/status", {}, [endpoint] if endpoint else None)

    def member_list(self) -> list[dict]:
        return [_member(m) for m in self.call("cluster/member/list", {}).get("members", [])]

    def member_add_learner(self, peer_urls: list[str]) -> tuple[dict, list[dict]]:
        resp = self.call("cluster/member/add", {"peerURLs": peer_urls, "isLearner": True})
        return _member(resp.get("member", {})), [_member(m) for m in resp.get("members", [])]

    def member_promote(self, member_id: int) -> None:
        self.call("cluster/member/promote", {"ID": str(member_id)})

    def member_remove(self, member_id: int) -> None:
        self.call("cluster/member/remove", {"ID": str(member_id)})


def _member(raw: dict) -> dict:
    """Normalise a gateway member to the /db/info shape (ID as int, isLearner only when true)."""
    out = {"ID": int(raw.get("ID", 0)), "name": raw.get("name", ""), "peerURLs": list(raw.get("peerURLs", []))}
    out["clientURLs"] = list(raw.get("clientURLs", []))
    if raw.get("isLearner"):
        out["isLearner"] = True
    return out


# etcd errors that pass on their own (an election after a member left, a slow disk): like the apiserver's etcd
# client, retry them for a few seconds before the request fails.
_TRANSIENT = ("leader changed", "no leader", "request timed out", "too many requests", "not capable")


def _transient(exc: Exception) -> bool:
    if isinstance(exc, EtcdUnavailable):
        return True
    return isinstance(exc, EtcdAPIError) and (exc.code in (4, 14) or any(t in str(exc) for t in _TRANSIENT))


class EtcdKV(KV):
    """k3srt.kv.KV on etcd. Conflict when an expect_revision precondition fails; transient errors are retried."""

    def __init__(self, client: EtcdClient, retry_seconds: float = 5.0):
        self.client = client
        self.retry_seconds = retry_seconds

    def _call(self, path: str, body: dict) -> dict:
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.1
        while True:
            try:
                return self.client.call(path, body)
            except (EtcdUnavailable, EtcdAPIError) as exc:
                if not _transient(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def get(self, key):
        resp = self._call("kv/range", {"key": _b64(key)})
        kvs = resp.get("kvs") or []
        if not kvs:
            return None
        return _unb64(kvs[0].get("value")), int(kvs[0]["mod_revision"])

    def list(self, prefix):
        start = prefix.encode()
        body = {"key": _b64(start or b"\x00"), "range_end": _b64(_prefix_end(start) if start else b"\x00")}
        resp = self._call("kv/range", body)
        out = [
            (_unb64(kv["key"]).decode(), _unb64(kv.get("value")), int(kv["mod_revision"]))
            for kv in resp.get("kvs") or []
        ]
        out.sort(key=lambda item: item[0])
        return out

    def _txn(self, key: str, expect_revision: int, op: dict) -> dict:
        compare = {"key": _b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(expect_revision)}
        resp = self._call("kv/txn", {"compare": [compare], "success": [op]})
        if not resp.get("succeeded"):
            current = self.get(key)
            raise Conflict(f"{key}: revision {current[1] if current else 0} != {expect_revision}")
        return resp

    def put(self, key, value, expect_revision=None):
        if expect_revision is None:
            resp = self._call("kv/put", {"key": _b64(key), "value": _b64(value)})
        else:
            resp = self._txn(key, expect_revision, {"request_put": {"key": _b64(key), "value": _b64(value)}})
        return int(resp["header"]["revision"])

    def delete(self, key, expect_revision=None):
        if expect_revision is None:
            resp = self._call("kv/deleterange", {"key": _b64(key)})
            return int(resp.get("deleted", 0)) > 0
        resp = self._txn(key, expect_revision, {"request_delete_range": {"key": _b64(key)}})
        deleted = resp.get("responses", [{}])[0].get("response_delete_range", {}).get("deleted", 0)
        return int(deleted) > 0

    def revision(self):
        return int(self._call("kv/range", {"key": _b64("\x00"), "count_only": True})["header"]["revision"])

    def close(self):
        self.client.close()
