"""Supervisor routes on the shared HTTPS port (K3S_BEHAVIOUR §5). Anything else goes to the Kubernetes API."""

from __future__ import annotations

import json
import os

from . import bootstrap, tokens
from .web import HTTPError, Request, Response

AGENT_GROUPS = ("k3s:agent", "system:nodes", "system:bootstrappers")
NODE_CERTS = {"client-kubelet", "serving-kubelet", "client-kube-proxy", "client-k3s-controller"}


def _need(req: Request, *groups: str) -> None:
    if req.identity is None:  # k3s answers failed authentication with "not authorized" (pkg/server/auth/auth.go)
        raise HTTPError(401, "Unauthorized", "not authorized")
    if not req.identity.in_any(*groups):
        raise HTTPError(403, "Forbidden", f"forbidden: user {req.identity.user!r} may not access {req.path}")


def control_config(srv) -> dict:
    """What /v1-k3s/config shows agents and joining servers (no token/datastore/snapshot fields)."""
    c = srv.config
    return {
        "ClusterIPRanges": c["cluster-cidr"],
        "ServiceIPRanges": c["service-cidr"],
        "ClusterDNSs": c["cluster-dns"],
        "ClusterDomain": c["cluster-domain"],
        "FlannelBackend": c["flannel-backend"],
        "FlannelIPv6Masq": c["flannel-ipv6-masq"],
        "FlannelExternalIP": c["flannel-external-ip"],
        "EgressSelectorMode": c["egress-selector-mode"],
        "HTTPSPort": c["https-listen-port"],
        "SupervisorPort": c["supervisor-port"] or c["https-listen-port"],
        "DisableCCM": c["disable-cloud-controller"],
        "DisableHelmController": c["disable-helm-controller"],
        "DisableNPC": c["disable-network-policy"],
        "DisableKubeProxy": c["disable-kube-proxy"],
        "DisableServiceLB": "servicelb" in c["disable"],
        "EncryptSecrets": c["secrets-encryption"],
        "EncryptProvider": c["secrets-encryption-provider"],
        "EmbeddedRegistry": c["embedded-registry"],
        "SupervisorMetrics": c["supervisor-metrics"],
        "Runtime": {"Version": srv.ctx.version},
    }


def route(srv, req: Request) -> Response:
    path = req.path
    if path == "/ping":
        return Response(200, "pong", "text/plain")
    if path == "/cacerts":
        return Response(200, srv.cacerts(), "text/plain")
    if path.startswith("/static/") and req.method == "GET":
        return _static(srv, path)
    if path.startswith("/v1-k3s/"):
        return _v1(srv, req, path[len("/v1-k3s/") :])
    if path == "/db" or path.startswith("/db/"):
        return _db(srv, req)
    if not srv.api_ready():
        raise HTTPError(503, "ServiceUnavailable", "apiserver not ready")
    return srv.api.handle(req)


def _static(srv, path: str) -> Response:
    base = os.path.realpath(os.path.join(srv.ctx.server_dir, "static"))
    full = os.path.realpath(os.path.join(base, path[len("/static/") :]))
    if not full.startswith(base + os.sep) or not os.path.isfile(full):
        raise HTTPError(404, "NotFound", "not found")
    with open(full, "rb") as fh:
        return Response(200, fh.read(), "application/octet-stream")


def _v1(srv, req: Request, name: str) -> Response:
    if name == "token":
        _need(req, "k3s:server")
        if req.method != "PUT":
            raise HTTPError(405, "MethodNotAllowed", "method not allowed")
        new = (req.json() or {}).get("newToken", "")
        srv.rotate_token(new)
        return Response(200, b"")
    if name == "server-bootstrap":
        _need(req, "k3s:server")
        if not srv.etcd_enabled:
            raise HTTPError(400, "BadRequest", "etcd disabled")
        return Response(200, bootstrap.collect(srv.ctx.server_dir))
    _need(req, *AGENT_GROUPS)
    if name == "readyz":
        if not srv.controllers_ready():
            raise HTTPError(503, "ServiceUnavailable", "k3s server not ready")
        return Response(200, "ok", "text/plain")
    if name == "config":
        return Response(200, control_config(srv))
    if name == "apiservers":
        return Response(200, srv.apiservers())
    if name in ("client-ca.crt", "server-ca.crt"):
        with open(os.path.join(srv.ctx.tls_dir, name), "rb") as fh:
            return Response(200, fh.read(), "text/plain")
    stem = name[:-4] if name.endswith(".crt") else name
    if stem in NODE_CERTS:
        node = req.headers.get("k3s-node-name", "")
        if stem in ("client-kubelet", "serving-kubelet"):
            srv.check_node_password(node, req.headers.get("k3s-node-password", ""), req.identity)
            node = node.lower()
        elif not node:
            raise HTTPError(400, "BadRequest", "node name not set")
        ips = [i for i in req.headers.get("k3s-node-ip", "").split(",") if i]
        return Response(200, srv.pki.node_cert(stem, node, ips), "text/plain")
    raise HTTPError(404, "NotFound", "not found")


def _db(srv, req: Request) -> Response:
    if not srv.etcd_enabled:
        raise HTTPError(400, "BadRequest", "etcd datastore disabled")
    loopback = req.remote_addr in ("127.0.0.1", "::1") and req.identity is None
    if not (req.path == "/db/info" and loopback):
        _need(req, "k3s:server")
    from . import etcd

    return etcd.handle_db(srv.ctx, req)


def token_response(hash_hex: str, password: str) -> str:
    return json.dumps({"token": tokens.format_token(hash_hex, "server", password)})
