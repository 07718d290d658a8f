"""The resource verbs (get, list, watch, create, update, patch, delete, deletecollection, eviction) behind
``KubeAPI.handle``; a mixin so ``KubeAPI`` stays a small public surface."""

from __future__ import annotations

import contextlib
import json
import threading

from ..kv import Conflict
from ..web import HTTPError, Request, Response
from . import authz, errors, objects, patch, protobuf, resources, selectors, tables, watch
from .routing import Target
from .store import now_rfc3339

NAMESPACES = resources.get("namespaces")
PODS = resources.get("pods")
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
NAMESPACE_FINALIZE_DELAY = 1.0


class Verbs:
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
        if protobuf.is_protobuf(ctype):
            return protobuf.request_object(req.body)
        if "protobuf" in ctype or "cbor" in ctype:
            raise errors.HTTPError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"application/json, application/yaml, {protobuf.MEDIA_TYPE} (got {ctype})",
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
            if protobuf.is_protobuf(req.headers.get("content-type", "")):
                opts = protobuf.request_object(req.body)
            else:
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
            ns["metadata"]["deletionTimestamp"] = now_rfc3339()
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
        # k3s's node-password controller makes the Node the owner of its password secret, so the garbage collector
        # removes the secret with the Node (pkg/nodepassword/controller.go onChangeNode).
        with contextlib.suppress(HTTPError):
            self.store.delete(resources.get("secrets"), "kube-system", f"{name}.node-password.k3s")
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
