"""Authorization by identity: none → 401, system:masters → all, system:nodes → own node, others → 403."""

from __future__ import annotations

import pytest
from api_fixtures import Client
from k3srt.kubeapi import nodes
from k3srt.web import Identity

NODE = Identity("system:node:n1", ("system:nodes",))


def test_standin_anonymous_is_unauthorized(api):
    for path in ("/api/v1/nodes", "/version", "/api"):
        status, body = Client(api, None)("GET", path)
        assert status == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"


@pytest.mark.parametrize(
    "identity",
    [
        Identity("system:bootstrap:abcdef", ("system:bootstrappers",)),
        Identity("node", ("k3s:agent",)),
        Identity("server", ("k3s:server",)),
    ],
)
def test_standin_non_kubernetes_identities_are_forbidden(api, identity):
    anyone = Client(api, identity)
    for path in ("/api/v1/nodes", "/version", "/apis"):
        status, body = anyone("GET", path)
        assert status == 403 and body["reason"] == "Forbidden"


def test_standin_node_identity_is_limited_to_its_own_node(api, client):
    api.ensure_node("n1", "10.0.0.1")
    api.ensure_node("n2", "10.0.0.2")
    kubelet = Client(api, NODE)
    assert kubelet("GET", "/api/v1/nodes")[0] == 200
    assert kubelet("GET", "/api/v1/nodes/n2")[0] == 200
    assert kubelet("GET", "/apis/node.k8s.io/v1/runtimeclasses")[0] == 200
    assert kubelet("GET", "/version")[0] == 200
    smp = "application/strategic-merge-patch+json"
    assert kubelet("PATCH", "/api/v1/nodes/n1/status", {"status": {}}, ctype=smp)[0] == 200
    assert kubelet("PATCH", "/api/v1/nodes/n1", {"metadata": {"labels": {"x": "y"}}}, ctype=smp)[0] == 200
    status, body = kubelet("PATCH", "/api/v1/nodes/n2/status", {"status": {}}, ctype=smp)
    assert status == 403
    assert body["message"] == (
        'nodes/status "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes/status" '
        'in API group "" at the cluster scope'
    )
    assert kubelet("DELETE", "/api/v1/nodes/n1")[0] == 403
    assert kubelet("GET", "/api/v1/namespaces/kube-system/secrets")[0] == 403
    assert kubelet("POST", "/api/v1/nodes", nodes.node_object("n3", "10.0.0.3", "v1"))[0] == 403
    assert client("GET", "/api/v1/namespaces/kube-system/secrets")[0] == 200
