"""Joining an existing cluster: read its members from <server>/db/info, add ourselves as a learner."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from . import layout
from .client import EtcdAPIError, EtcdClient, EtcdUnavailable

DUPLICATE = "etcd cluster join failed: duplicate node name found, please use a unique name for this node"


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


def _plan(ctx, name: str, members: list[dict]) -> tuple[bool, list[dict]]:
    """(add ourselves?, members with our unstarted learner entry named); raises on a duplicate node name."""
    own_peer = layout.advertise_peer_url(ctx)
    own_host = urlsplit(own_peer).hostname
    add, named = True, []
    for m in members:
        m = dict(m)
        if not m.get("name") and own_peer in m.get("peerURLs", []):
            m["name"] = name  # we were added as a learner before but never started
        if m.get("name") == name and any(urlsplit(u).hostname == own_host for u in m.get("peerURLs", [])):
            add = False  # already in the cluster
        if m.get("name") and m["name"] != name and layout.node_of_member(m["name"]) == ctx.node_name:
            # forget our member name so a fixed node name gets a fresh one
            with contextlib.suppress(OSError):
                os.remove(layout.name_file(ctx))
            raise layout.EtcdError(DUPLICATE)
        named.append(m)
    return add, named


def _cluster_string(members: list[dict]) -> str:
    return ",".join(f"{m['name']}={m['peerURLs'][0]}" for m in members if m.get("peerURLs"))


def _go_list(cluster: str) -> str:
    return "[" + cluster.replace(",", " ") + "]"


def join_cluster(ctx, name: str, join_url: str) -> tuple[str, list[str]]:
    """Add this node as a learner; return (initial-cluster, other members' client URLs)."""
    own_peer = layout.advertise_peer_url(ctx)
    deadline = time.monotonic() + layout.start_timeout(ctx)
    while True:
        try:
            add, members = _plan(ctx, name, fetch_db_info(ctx, join_url))
            if add:
                client = EtcdClient.for_ctx(ctx, _client_endpoints(members, join_url))
                layout.log(ctx, f"Adding member {name}={own_peer} to etcd cluster {_go_list(_cluster_string(members))}")
                try:
                    client.member_add_learner([own_peer])
                finally:
                    client.close()
                members.append({"name": name, "peerURLs": [own_peer], "clientURLs": [], "isLearner": True})
            break
        except (EtcdAPIError, EtcdUnavailable, OSError, urllib.error.URLError, ValueError) as exc:
            if time.monotonic() > deadline:
                raise layout.EtcdError(f"etcd cluster join failed: {exc}") from exc
            layout.log(ctx, f"Waiting for other members to finish joining etcd cluster: {exc}")
            time.sleep(_retry_interval(ctx))
    others = [u for m in members if m["name"] != name for u in m.get("clientURLs", [])]
    return _cluster_string(members), others
