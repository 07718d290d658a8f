# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""What the cluster says about its nodes and etcd members, and whether that is what the inventory wants.

Used by edgefleet.k3s.k3s_cluster_status (waits and the report) and edgefleet.k3s.k3s_service (a server waits for
itself after a restart). The checks are pure functions over the API's JSON; :func:`wait_until` polls them.
"""

from __future__ import annotations

import re
import time

from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError, KubeClient

ROLE_LABEL = "node-role.kubernetes.io/"
GPU_RESOURCE = "nvidia.com/gpu"


def node_row(node):
    """One Node object → the fields the collection reports."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    ready = "Unknown"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition.get("status") or "Unknown"
    labels = meta.get("labels") or {}
    roles = sorted(k[len(ROLE_LABEL) :] for k in labels if k.startswith(ROLE_LABEL))
    ip = ""
    for address in status.get("addresses") or []:
        if address.get("type") == "InternalIP":
            ip = address.get("address") or ""
            break
    spec = node.get("spec") or {}
    return {
        "name": meta.get("name", ""),
        "ready": ready == "True",
        "status": "Ready" if ready == "True" else "NotReady",
        "version": (status.get("nodeInfo") or {}).get("kubeletVersion", ""),
        "roles": roles,
        "ip": ip,
        "unschedulable": bool(spec.get("unschedulable")),
        "gpus": str((status.get("allocatable") or {}).get(GPU_RESOURCE, "0")),
    }


def member_node(member_name):
    """k3s names etcd members ``<node-name>-<8 hex>``; the node name without that suffix."""
    return re.sub(r"-[0-9a-f]+$", "", member_name or "")


def member_row(member):
    return {
        "name": member.get("name", ""),
        "node": member_node(member.get("name", "")),
        "voter": not member.get("isLearner", False),
        "peer": ",".join(member.get("peerURLs") or []),
    }


def problems(rows, members, nodes=(), version=None, voters=()):
    """What differs from the wanted state, as ``{kind: [node names]}`` (only non-empty kinds).

    :param rows: :func:`node_row` of every Node; ``members``: :func:`member_row` of every etcd member, or None
        when the datastore is not embedded etcd.
    :param nodes: node names that must exist and be Ready; ``version``: the kubelet version each must run;
        ``voters``: node names that must be voting etcd members.
    """
    by_name = {r["name"]: r for r in rows}
    found = {
        "missing": [n for n in nodes if n not in by_name],
        "not_ready": [n for n in nodes if n in by_name and not by_name[n]["ready"]],
        "wrong_version": [
            n for n in nodes if version and n in by_name and by_name[n]["ready"] and by_name[n]["version"] != version
        ],
        "not_voting": [],
    }
    if members is not None:
        voting = {m["node"] for m in members if m["voter"]}
        found["not_voting"] = [n for n in voters if n not in voting]
    return {k: v for k, v in found.items() if v}


def describe(found, version=None):
    """One line naming every problem and its nodes."""
    labels = {
        "missing": "missing from the cluster",
        "not_ready": "not Ready",
        "wrong_version": "not running %s" % version,
        "not_voting": "not a voting etcd member",
    }
    return "; ".join("%s: %s" % (labels[k], ", ".join(v)) for k, v in found.items())


class ClusterReader:
    """Reads nodes through ``api_url`` (default: the kubeconfig's server) and etcd members on this server."""

    def __init__(self, kubeconfig, api_url=None, timeout=10, opener=None):
        self.kubeconfig = kubeconfig
        self.api_url = api_url
        self.timeout = timeout
        self.opener = opener

    def _client(self, server=None):
        kwargs = {"timeout": self.timeout}
        if self.opener is not None:
            kwargs["opener"] = self.opener
        return KubeClient.from_kubeconfig(self.kubeconfig, server=server, **kwargs)

    def nodes(self):
        with self._client(self.api_url) as client:
            return [node_row(n) for n in client.nodes()]

    def members(self):
        """etcd members from /db/info on this server's loopback; None when the datastore is not embedded etcd.

        k3s answers /db/info to loopback clients without credentials and refuses the admin certificate (it is not a
        k3s:server user), so the request goes without the kubeconfig's client certificate.
        """
        with self._client() as client:
            client.cert_file = client.key_file = None
            client.bearer_token = None
            try:
                return [member_row(m) for m in client.etcd_members()]
            except KubeAPIError as exc:
                if exc.status in (400, 404):  # k3s answers 400 without embedded etcd
                    return None
                raise


def wait_until(read, check, timeout, delay=1.0, clock=time.monotonic, sleep=time.sleep):
    """Call ``read()`` until ``check(state)`` returns no problems or ``timeout`` seconds passed.

    ``read`` may raise KubeAPIError while k3s starts; that counts as not ready yet (its message is kept).
    Returns ``(state, problems, last_error)``.
    """
    deadline = clock() + max(timeout, 0)
    while True:
        state, found, error = None, {"unreachable": ["api"]}, None
        try:
            state = read()
            found = check(state)
        except KubeAPIError as exc:
            error = str(exc)
        if not found or clock() >= deadline:
            return state, found, error
        sleep(delay)
