"""``KubeAPI``: the Kubernetes API subset served on the supervisor port, backed by the datastore KV."""

from __future__ import annotations

import copy
import os
import sys
import threading

from ..web import HTTPError, Request, Response
from . import authz, discovery, errors, manifests, nodes, objects, resources, routing
from .controllers import Controllers
from .store import Store
from .verbs import Verbs

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACES = resources.get("namespaces")
NODES = resources.get("nodes")


class KubeAPI(Verbs):
    """``KubeAPI(ctx)`` (uses ``ctx.kv``) or ``KubeAPI(kv, ctx)``.

    Options (keyword or ``ctx`` attributes): ``node_grace_seconds`` (40), ``node_monitor_seconds`` (5),
    ``manifest_interval_seconds`` (15).
    """

    def __init__(self, ctx_or_kv, ctx=None, *, grace=None, node_interval=None, manifest_interval=None):
        if ctx is None:
            self.ctx, self._kv = ctx_or_kv, None
        else:
            self.ctx, self._kv = ctx, ctx_or_kv
        self.store = Store(lambda: self._kv if self._kv is not None else getattr(self.ctx, "kv", None))
        self._defaults_done = False
        self._lock = threading.Lock()
        self._manifest_dirs: list[str] = []
        self.controllers = Controllers(
            self,
            grace=self._option(grace, "node_grace_seconds", nodes.NOT_READY_GRACE),
            node_interval=self._option(node_interval, "node_monitor_seconds", 5.0),
            manifest_interval=self._option(manifest_interval, "manifest_interval_seconds", 15.0),
        )

    def _option(self, value, attr: str, default: float) -> float:
        return float(value if value is not None else getattr(self.ctx, attr, default))

    # --- public interface used by the server -------------------------------------------------------------------

    @property
    def version(self) -> str:
        return getattr(self.ctx, "version", "v0.0.0+k3s0")

    def log(self, msg: str, level: str = "info") -> None:
        logger = getattr(self.ctx, "log", None)
        if callable(logger):
            logger(msg, level)
        else:
            print(f'level={level} msg="{msg}"', file=sys.stderr)

    def ensure_defaults(self) -> None:
        if self._defaults_done:
            return
        with self._lock:
            for name in DEFAULT_NAMESPACES:
                if self.store.find(NAMESPACES, None, name) is None:
                    body = {"metadata": {"name": name}}
                    objects.defaults_on_create(NAMESPACES, body, self.store)
                    try:
                        self.store.create(NAMESPACES, body)
                    except HTTPError as exc:
                        if exc.reason != "AlreadyExists":
                            raise
            self._defaults_done = True

    def ready(self) -> bool:
        try:
            self.ensure_defaults()
            return self.store.find(NAMESPACES, None, "kube-system") is not None
        except Exception:  # noqa: BLE001 - not ready while the datastore is not
            return False

    def ensure_node(self, name, ip, labels=None, annotations=None, taints=None, roles=None, capacity=None) -> dict:
        fresh = nodes.node_object(name, ip, self.version, labels, annotations, taints, roles, capacity)
        if self.store.find(NODES, None, name) is None:
            try:
                return self.store.create(NODES, copy.deepcopy(fresh))
            except HTTPError as exc:
                if exc.reason != "AlreadyExists":
                    raise
        return self.store.mutate(NODES, None, name, lambda cur: nodes.merge_registration(cur, fresh))

    def heartbeat(self, name: str, ready: bool = True) -> bool:
        try:
            self.store.mutate(NODES, None, name, lambda n: nodes.set_ready(n, ready))
            return True
        except HTTPError as exc:
            if exc.reason == "NotFound":
                return False
            raise

    def deploy_manifests(self, directory: str) -> list[str]:
        if directory not in self._manifest_dirs:
            self._manifest_dirs.append(directory)
        self.ensure_defaults()
        return manifests.deploy(self, directory)

    def remove_addon(self, name: str) -> bool:
        """Delete Addon ``kube-system/<name>`` and the objects it applied (for ``--disable`` components)."""
        return manifests.remove_addon(self, name)

    def manifest_dirs(self) -> list[str]:
        if self._manifest_dirs:
            return list(self._manifest_dirs)
        server_dir = getattr(self.ctx, "server_dir", None)
        return [os.path.join(server_dir, "manifests")] if server_dir else []

    def start_controllers(self) -> None:
        self.ensure_defaults()
        self.controllers.start()

    def stop_controllers(self) -> None:
        self.controllers.stop()

    def apply_object(self, res, doc: dict, default_namespace: str = "default") -> dict:
        """Create or update an object the way the deploy controller does (no HTTP, no authorization)."""
        body = copy.deepcopy(doc)
        meta = body.setdefault("metadata", {})
        if res.namespaced:
            meta["namespace"] = meta.get("namespace") or default_namespace
            if self.store.find(NAMESPACES, None, meta["namespace"]) is None:
                raise errors.not_found(NAMESPACES, meta["namespace"])
        else:
            meta.pop("namespace", None)
        objects.check_name(res, meta.get("name", ""))
        for _ in range(5):
            if self.store.find(res, meta.get("namespace"), meta["name"]) is None:
                try:
                    new = copy.deepcopy(body)
                    objects.defaults_on_create(res, new, self.store)
                    return self.store.create(res, new)
                except HTTPError as exc:
                    if exc.reason != "AlreadyExists":
                        raise
            try:
                return self.store.mutate(
                    res, meta.get("namespace"), meta["name"], lambda cur: _apply_onto(res, cur, body)
                )
            except HTTPError as exc:
                if exc.reason != "NotFound":
                    raise
        raise errors.conflict(res, meta["name"])

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except HTTPError as exc:
            return exc.response()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Status, never a dropped connection
            self.log(f"kubeapi: {request.method} {request.path}: {exc!r}", "error")
            return HTTPError(500, "InternalError", f"Internal error occurred: {exc}").response()

    def _handle(self, req: Request) -> Response:
        if req.identity is None:
            raise errors.unauthorized()
        parts = [p for p in req.path.split("/") if p]
        accept = req.headers.get("accept", "")
        if not parts or parts[0] not in ("api", "apis"):
            authz.check_path(req.identity, routing.path_verb(req.method), req.path)
            return self._non_resource(req, parts, accept)
        if parts[0] == "api":
            if len(parts) == 1:
                authz.check_path(req.identity, "get", req.path)
                addr = f"{getattr(self.ctx, 'node_ip', '127.0.0.1')}:{getattr(self.ctx, 'https_port', 6443)}"
                return Response(200, discovery.api_versions(addr), "application/json")
            if parts[1] != "v1":
                raise errors.path_not_found()
            group, version, rest = "", "v1", parts[2:]
        else:
            if len(parts) <= 3:
                authz.check_path(req.identity, "get", req.path)
                if len(parts) == 1:
                    doc = discovery.api_group_list()
                elif len(parts) == 2:
                    doc = discovery.api_group(parts[1])
                else:
                    doc = discovery.resource_list(parts[1], parts[2])
                if doc is None:
                    raise errors.path_not_found()
                return Response(200, doc, "application/json")
            group, version, rest = parts[1], parts[2], parts[3:]
        if not rest:
            authz.check_path(req.identity, "get", req.path)
            doc = discovery.resource_list(group, version)
            if doc is None:
                raise errors.path_not_found()
            return Response(200, doc, "application/json")
        target = routing.parse_target(group, version, rest)
        self.ensure_defaults()
        return self._dispatch(req, target, accept)

    def _non_resource(self, req: Request, parts: list[str], accept: str) -> Response:
        if req.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        head = parts[0] if parts else ""
        if head == "version" and len(parts) == 1:
            return Response(200, discovery.version_info(self.version), "application/json")
        if head in ("healthz", "livez", "readyz"):
            if head == "readyz" and not self.ready():
                return Response(500, "[-]etcd failed: reason withheld\nreadyz check failed", "text/plain")
            return discovery.health(req.path, req.query)
        if parts == ["openapi", "v2"]:
            return discovery.openapi_v2(accept, self.version)
        if not parts:
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v2"]
            paths += [f"/apis/{g}" for g in resources.groups()]
            return Response(200, {"paths": sorted(paths)}, "application/json")
        raise errors.path_not_found()


def _apply_onto(res, cur: dict, desired: dict) -> dict:
    new = copy.deepcopy(desired)
    meta = new.setdefault("metadata", {})
    cur_meta = cur["metadata"]
    labels = dict(cur_meta.get("labels") or {})
    labels.update(meta.get("labels") or {})
    annotations = dict(cur_meta.get("annotations") or {})
    annotations.update(meta.get("annotations") or {})
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if "status" not in new and "status" in cur:
        new["status"] = cur["status"]
    return objects.merge_update(res, cur, new, None)
