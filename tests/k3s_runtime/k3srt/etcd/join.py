"""Joining an existing cluster: read its members from <server>/db/info, add ourselves as a learner."""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from . import layout
from .client import EtcdAPIError, EtcdClient, EtcdUnavailable

DUPLICATE = "duplicate node name found, please use a unique name for this node"


def fetch_db_info(ctx, join_url: str) -> list[dict]:
    """GET <join_url>/db/info as user 'server', trusting the cluster CA (tls/server-ca.crt)."""
    context = ssl.create_default_context(cafile=f"{ctx.tls_dir}/server-ca.crt")
    req = urllib.request.Request(join_url.rstrip("/") + "/db/info")
    cred = base64.b64encode(f"server:{ctx.server_password}".encode()).decode()
    req.add_header("Authorization", "Basic " + cred)
    with urllib.request.urlopen(req, timeout=10, context=context) as resp:  # noqa: S310 - https only
        return json.loads(resp.read()).get("members", [])


def _client_endpoints(members: list[dict], join_url: str) -> list[str]:
    """Client URLs of the voting members, the join server's host first."""
    host = urlsplit(join_url).hostname
    urls = [u for m in members if not m.get("isLearner") for u in m.get("clientURLs", [])]
    return sorted(dict.fromkeys(urls), key=lambda u: urlsplit(u).hostname != host)


def _retry_interval(ctx) -> float:
    return float(getattr(ctx, "etcd_join_retry_interval", 5.0))


def join_cluster(ctx, name: str, join_url: str) -> tuple[str, list[str]]:
    """Add this node as a learner; return (initial-cluster, other members' client URLs)."""
    own_peer = layout.advertise_peer_url(ctx)
    deadline = time.monotonic() + layout.start_timeout(ctx)
    while True:
        try:
            members = fetch_db_info(ctx, join_url)
            for m in members:
                if (
                    m.get("name")
                    and layout.node_of_member(m["name"]) == ctx.node_name
                    and own_peer not in m["peerURLs"]
                ):
                    raise layout.EtcdError(DUPLICATE)
            if not any(own_peer in m.get("peerURLs", []) for m in members):
                endpoints = _client_endpoints(members, join_url)
                client = EtcdClient.for_ctx(ctx, endpoints)
                try:
                    layout.log(ctx, f"Adding member {name}={own_peer} to etcd cluster as learner")
                    _added, members = client.member_add_learner([own_peer])
                finally:
                    client.close()
            break
        except (EtcdAPIError, EtcdUnavailable, OSError, urllib.error.URLError, ValueError) as exc:
            if time.monotonic() > deadline:
                raise layout.EtcdError(f"failed to join etcd cluster via {join_url}: {exc}") from exc
            layout.log(ctx, f"Failed to add learner to etcd cluster, retrying: {exc}", "warning")
            time.sleep(_retry_interval(ctx))
    parts, others = [], []
    for m in members:
        own = own_peer in m.get("peerURLs", [])
        member_name = name if own else m.get("name") or ""
        parts += [f"{member_name}={url}" for url in m.get("peerURLs", [])]
        if not own:
            others += m.get("clientURLs", [])
    return ",".join(parts), others
