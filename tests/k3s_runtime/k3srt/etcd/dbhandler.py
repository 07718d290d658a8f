"""The supervisor's /db/* routes backed by embedded etcd (auth is checked by core before calling)."""

from __future__ import annotations

import json

from ..web import HTTPError, Request, Response
from . import runtime, snapshot
from .client import EtcdAPIError, EtcdUnavailable


def handle_db(ctx, request: Request) -> Response:
    path = request.path.rstrip("/")
    if path == "/db/info":
        if request.method != "GET":
            raise HTTPError(405, "MethodNotAllowed", "method not allowed")
        rt = runtime.get(ctx)
        if rt is None or rt.proc is None or not rt.proc.alive():
            raise HTTPError(500, "InternalError", "etcd not started")
        try:
            members = rt.client.member_list()
        except (EtcdAPIError, EtcdUnavailable) as exc:
            raise HTTPError(500, "InternalError", f"failed to get etcd member list: {exc}") from exc
        return Response(200, {"members": members}, "application/json")
    if path == "/db/snapshot":
        if request.method != "POST":
            raise HTTPError(405, "MethodNotAllowed", "method not allowed")
        if runtime.get(ctx) is None:
            raise HTTPError(500, "InternalError", "etcd not started")
        try:
            req = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise HTTPError(400, "BadRequest", f"invalid snapshot request: {exc}") from exc
        try:
            return Response(200, snapshot.handle_request(ctx, req or {}), "application/json")
        except snapshot.SnapshotError as exc:
            raise HTTPError(500, "InternalError", str(exc)) from exc
    raise HTTPError(404, "NotFound", "404 page not found")
