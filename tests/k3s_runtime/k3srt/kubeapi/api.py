"""``KubeAPI``: the Kubernetes API subset served on the supervisor port, backed by the datastore KV."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import threading
from dataclasses import dataclass

from ..kv import Conflict
from ..web import HTTPError, Request, Response
from . import authz, discovery, errors, manifests, nodes, objects, patch, resources, selectors, tables, watch
from .controllers import Controllers
from .store import Store
from .store import now_rfc3339 as store_now

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
NAMESPACE_FINALIZE_DELAY = 1.0
NAMESPACES = resources.get("namespaces")
PODS = resources.get("pods")
NODES = resources.get("nodes")


@dataclass
class Target:
    res: resources.Resource
    namespace: str | None
    name: str | None
    sub: str | None
    watch: bool


class KubeAPI:
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
            authz.check_path(req.identity, _path_verb(req.method), req.path)
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
        target = _parse_target(group, version, rest)
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

    # --- verbs --------------------------------------------------------------------------------------------------

    def _dispatch(self, req: Request, t: Target, accept: str) -> Response:
        m = req.method
        if m == "GET":
            if t.name is None:
                watching = t.watch or req.q("watch", "") in ("true", "1")
                verb = "watch" if watching else "list"
                authz.check(req.identity, verb, t.res, t.namespace, None, None)
                return self._watch(req, t, accept) if watching else self._list(req, t, accept)
            authz.check(req.identity, "get", t.res, t.namespace, t.name, t.sub)
            if t.sub not in (None, "status"):
                raise errors.method_not_allowed()
            return self._render(t.res, [self.store.get(t.res, t.namespace, t.name)], accept, req, single=True)
        if m == "POST":
            if t.name is None:
                return self._create(req, t)
            if t.sub == "eviction":
                authz.check(req.identity, "create", t.res, t.namespace, t.name, t.sub)
                return self._evict(t)
            raise errors.method_not_allowed()
        if m == "PUT" and t.name is not None:
            authz.check(req.identity, "update", t.res, t.namespace, t.name, t.sub)
            return self._update(req, t)
        if m == "PATCH" and t.name is not None:
            authz.check(req.identity, "patch", t.res, t.namespace, t.name, t.sub)
            return self._patch(req, t)
        if m == "DELETE":
            if t.name is None:
                authz.check(req.identity, "deletecollection", t.res, t.namespace, None, None)
                return self._delete_collection(req, t)
            authz.check(req.identity, "delete", t.res, t.namespace, t.name, t.sub)
            if t.sub is not None:
                raise errors.method_not_allowed()
            return self._delete(req, t)
        raise errors.method_not_allowed()

    def _filtered(self, req: Request, t: Target) -> list[dict]:
        lmatch = selectors.parse_labels(req.q("labelSelector"))
        fmatch = selectors.parse_fields(req.q("fieldSelector"))
        if t.res.plural == "events":
            return []
        items = self.store.list(t.res, t.namespace)
        return [o for o in items if lmatch((o.get("metadata") or {}).get("labels")) and fmatch(o)]

    def _list(self, req: Request, t: Target, accept: str) -> Response:
        rev = self.store.revision()
        items = self._filtered(req, t)
        if tables.wants_table(accept):
            return Response(200, tables.table(t.res, items, str(rev), req.q("includeObject")), "application/json")
        body = {
            "kind": f"{t.res.kind}List",
            "apiVersion": t.res.api_version,
            "metadata": {"resourceVersion": str(rev)},
            "items": items,
        }
        return Response(200, body, "application/json")

    def _render(self, res, objs: list[dict], accept: str, req: Request, single: bool = False) -> Response:
        if tables.wants_table(accept):
            rv = objs[0]["metadata"].get("resourceVersion", "") if single and objs else str(self.store.revision())
            return Response(200, tables.table(res, objs, rv, req.q("includeObject")), "application/json")
        return Response(200, objs[0], "application/json")

    def _watch(self, req: Request, t: Target, accept: str) -> Response:
        lmatch = selectors.parse_labels(req.q("labelSelector"))
        fmatch = selectors.parse_fields(req.q("fieldSelector"))
        rv = req.q("resourceVersion")
        since = int(rv) if rv and rv.isdigit() and rv != "0" else None
        try:
            timeout = float(req.q("timeoutSeconds") or watch.DEFAULT_TIMEOUT)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        if tables.wants_table(accept):
            include = req.q("includeObject")

            def render(obj):
                return tables.table(t.res, [obj], obj["metadata"].get("resourceVersion", ""), include)
        else:

            def render(obj):
                return obj

        gen = watch.stream(
            self.store,
            t.res,
            t.namespace,
            lambda o: lmatch((o.get("metadata") or {}).get("labels")) and fmatch(o),
            since,
            timeout,
            render,
            selectors.name_from_fields(req.q("fieldSelector")),
        )
        return Response(200, gen, "application/json")

    def _body(self, req: Request) -> dict:
        ctype = req.headers.get("content-type", "")
        if "protobuf" in ctype or "cbor" in ctype:
            raise errors.HTTPError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"application/json, application/yaml (got {ctype}; this test runtime does not decode protobuf)",
            )
        try:
            body = req.json()
        except ValueError as exc:
            raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        return body

    def _create(self, req: Request, t: Target) -> Response:
        body = self._body(req)
        res = t.res
        kind = body.get("kind")
        if kind and kind != res.kind:
            raise errors.bad_request(
                f"the API version in the data ({body.get('apiVersion')}) does not match the "
                f"expected API version ({res.api_version}) or kind {kind} != {res.kind}"
            )
        meta = body.setdefault("metadata", {})
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = objects.generate_name(meta["generateName"])
            else:
                raise errors.invalid(res, "", "metadata.name: Required value: name or generateName is required")
        if res.namespaced:
            if t.namespace is None:
                raise errors.method_not_allowed("POST of a namespaced resource needs a namespace in the path")
            if meta.get("namespace") and meta["namespace"] != t.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = t.namespace
        else:
            meta.pop("namespace", None)
        authz.check(req.identity, "create", res, t.namespace, meta["name"], None)
        objects.check_name(res, meta["name"])
        if res.namespaced:
            ns = self.store.find(NAMESPACES, None, t.namespace)
            if ns is None:
                raise errors.not_found(NAMESPACES, t.namespace)
            if ns["metadata"].get("deletionTimestamp"):
                raise errors.HTTPError(
                    403,
                    "Forbidden",
                    f'{res.plural} "{meta["name"]}" is forbidden: unable to create new content in namespace '
                    f"{t.namespace} because it is being terminated",
                )
        objects.defaults_on_create(res, body, self.store)
        if res.plural == "events":
            meta.setdefault("uid", "")
            return Response(201, body, "application/json")
        obj = self.store.create(res, body, dry_run=bool(req.q("dryRun")))
        return Response(201, obj, "application/json")

    def _update(self, req: Request, t: Target) -> Response:
        body = self._body(req)
        meta = body.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != t.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({t.name})"
            )
        if t.res.namespaced and meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        old = self.store.get(t.res, t.namespace, t.name)
        old_rev = int(old["metadata"]["resourceVersion"])
        wanted = meta.get("resourceVersion")
        if wanted and str(wanted) != str(old_rev):
            raise errors.conflict(t.res, t.name)
        new = objects.merge_update(t.res, old, body, t.sub)
        obj = self.store.replace(t.res, new, old_rev, dry_run=bool(req.q("dryRun")))
        self._after_write(t.res, obj)
        return Response(200, obj, "application/json")

    def _patch(self, req: Request, t: Target) -> Response:
        ctype = req.headers.get("content-type", "")
        body = req.body or b""

        def change(cur: dict):
            patched = patch.apply(ctype, cur, body)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            pmeta = patched.setdefault("metadata", {})
            if pmeta.get("name", t.name) != t.name:
                raise errors.bad_request("metadata.name cannot be changed by a patch")
            wanted = pmeta.get("resourceVersion")
            if wanted and str(wanted) != cur["metadata"]["resourceVersion"]:
                raise errors.conflict(t.res, t.name)
            return objects.merge_update(t.res, cur, patched, t.sub)

        if req.q("dryRun"):
            obj = change(self.store.get(t.res, t.namespace, t.name))
        else:
            obj = self.store.mutate(t.res, t.namespace, t.name, change)
        self._after_write(t.res, obj)
        return Response(200, obj, "application/json")

    def _after_write(self, res, obj: dict) -> None:
        pass

    def _delete(self, req: Request, t: Target) -> Response:
        expect = None
        if req.body:
            try:
                opts = json.loads(req.body)
            except ValueError:
                raise errors.bad_request("invalid DeleteOptions") from None
            pre = (opts or {}).get("preconditions") or {}
            if pre.get("resourceVersion"):
                expect = int(pre["resourceVersion"])
        if req.q("dryRun"):
            return Response(200, self.store.get(t.res, t.namespace, t.name), "application/json")
        if t.res.plural == "namespaces" and t.name in PROTECTED_NAMESPACES:
            raise errors.forbidden(req.identity.user, "delete", "namespaces", "", t.name, None)
        if t.res.plural == "namespaces":
            return Response(200, self._terminate_namespace(t.name, expect), "application/json")
        obj = self.store.delete(t.res, t.namespace, t.name, expect_rev=expect)
        if t.res.plural == "nodes":
            self._node_deleted(obj)
        return Response(200, obj, "application/json")

    def _delete_collection(self, req: Request, t: Target) -> Response:
        deleted = []
        for obj in self._filtered(req, t):
            meta = obj["metadata"]
            if t.res.plural == "namespaces" and meta["name"] in PROTECTED_NAMESPACES:
                continue
            try:
                deleted.append(self.store.delete(t.res, meta.get("namespace"), meta["name"]))
            except HTTPError as exc:
                if exc.reason != "NotFound":
                    raise
            if t.res.plural == "nodes":
                self._node_deleted(obj)
        body = {"kind": f"{t.res.kind}List", "apiVersion": t.res.api_version, "metadata": {}, "items": deleted}
        return Response(200, body, "application/json")

    def _terminate_namespace(self, name: str, expect: int | None) -> dict:
        """Like Kubernetes: the namespace turns Terminating now; its content and then the namespace itself are
        removed shortly after (by a timer here, or by any server's controller pass)."""

        def mark(ns: dict):
            if expect is not None and int(ns["metadata"]["resourceVersion"]) != expect:
                raise errors.conflict(NAMESPACES, name)
            if ns["metadata"].get("deletionTimestamp"):
                return None
            ns["metadata"]["deletionTimestamp"] = store_now()
            ns.setdefault("status", {})["phase"] = "Terminating"
            return ns

        obj = self.store.mutate(NAMESPACES, None, name, mark)
        timer = threading.Timer(NAMESPACE_FINALIZE_DELAY, self._finalize_quietly)
        timer.daemon = True
        timer.start()
        return obj

    def _finalize_quietly(self) -> None:
        try:
            self.finalize_namespaces()
        except Exception as exc:  # noqa: BLE001 - the controller pass retries
            self.log(f"finalizing namespaces: {exc}", "warning")

    def finalize_namespaces(self) -> None:
        for ns in self.store.list(NAMESPACES):
            if not ns["metadata"].get("deletionTimestamp"):
                continue
            name = ns["metadata"]["name"]
            try:
                for res in resources.RESOURCES:
                    if res.namespaced:
                        for key, _v, _rev in self.store.list_raw(res, name):
                            self.store.kv.delete(key)
                self.store.delete(NAMESPACES, None, name)
            except (HTTPError, Conflict) as exc:
                self.log(f"finalizing namespace {name}: {exc}", "warning")

    def _node_deleted(self, node: dict) -> None:
        name = node["metadata"]["name"]
        for pod in self.store.list(PODS):
            if (pod.get("spec") or {}).get("nodeName") == name:
                with contextlib.suppress(HTTPError):
                    self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        labels = node["metadata"].get("labels") or {}
        hook = getattr(self.ctx, "on_node_deleted", None)
        if labels.get("node-role.kubernetes.io/etcd") == "true" and callable(hook):
            try:
                hook(name)
            except Exception as exc:  # noqa: BLE001 - the delete itself succeeded
                self.log(f"etcd member removal for deleted node {name} failed: {exc}", "error")

    def _evict(self, t: Target) -> Response:
        self.store.delete(t.res, t.namespace, t.name)
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        return Response(201, status, "application/json")


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


def _path_verb(method: str) -> str:
    return {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _parse_target(group: str, version: str, rest: list[str]) -> Target:
    is_watch = False
    if rest and rest[0] == "watch":
        is_watch, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        inner = resources.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise errors.path_not_found()
    res = resources.lookup(group, version, rest[0])
    if res is None:
        raise errors.path_not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if res.namespaced and namespace is None and name is not None:
        raise errors.path_not_found()
    if sub is not None and sub not in res.subresources:
        raise errors.path_not_found()
    return Target(res, namespace, name, sub, is_watch)
