"""Shared HTTP types used by the HTTPS listener, the supervisor routes and the Kubernetes API subset."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()

    def in_any(self, *groups: str) -> bool:
        return any(g in self.groups for g in groups)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case keys
    body: bytes
    identity: Identity | None
    remote_addr: str

    def q(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[-1] if vals else default

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: bytes | str | dict | list | None = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        """Return the body as bytes and its content type."""
        body = self.body
        ctype = self.content_type
        if isinstance(body, (dict, list)):
            return json.dumps(body).encode(), ctype or "application/json"
        if isinstance(body, str):
            return body.encode(), ctype or "text/plain; charset=utf-8"
        return body or b"", ctype or "application/octet-stream"


class HTTPError(Exception):
    """Raise anywhere in a handler: rendered as a Kubernetes Status object with Connection: close."""

    def __init__(self, status: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details

    def status_object(self) -> dict:
        obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.status,
        }
        if self.details:
            obj["details"] = self.details
        return obj

    def response(self) -> Response:
        return Response(self.status, self.status_object(), "application/json", {"Connection": "close"})
