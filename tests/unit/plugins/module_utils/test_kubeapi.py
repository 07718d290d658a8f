# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
import yaml
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import (
    MERGE_PATCH,
    KubeAPIError,
    KubeClient,
    resource_path,
)

NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "server-1", "labels": {"a": "b"}}}


@pytest.fixture
def api_server(pki, https_server_factory):
    server = https_server_factory(pki.server.pem, pki.server.key_pem, client_ca_pem=pki.client_ca.pem)
    server.routes[("GET", "/api/v1/nodes")] = (200, {"kind": "NodeList", "items": [NODE]}, None)
    server.routes[("GET", "/api/v1/nodes/server-1")] = (200, NODE, None)
    return server


def _kubeconfig(pki, tmp_path, url, embedded=True):
    user = {}
    cluster = {"server": url}
    if embedded:
        cluster["certificate-authority-data"] = base64.b64encode(pki.ca.pem).decode()
        user["client-certificate-data"] = base64.b64encode(pki.admin.pem).decode()
        user["client-key-data"] = base64.b64encode(pki.admin.key_pem).decode()
    else:
        pki.write("ca.crt", pki.ca.pem)
        pki.write("admin.crt", pki.admin.pem)
        pki.write("admin.key", pki.admin.key_pem)
        cluster["certificate-authority"] = "ca.crt"
        user["client-certificate"] = str(tmp_path / "admin.crt")
        user["client-key"] = "admin.key"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": cluster}],
        "users": [{"name": "default", "user": user}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
    }
    return pki.write("k3s.yaml", yaml.safe_dump(config).encode())


def _peer_cn(request):
    subject = dict(item[0] for item in request["peer_cert"]["subject"])
    return subject["commonName"], subject.get("organizationName")


def test_resource_paths():
    assert resource_path("v1", "nodes") == "/api/v1/nodes"
    assert (
        resource_path("v1", "secrets", "a b", namespace="kube-system") == "/api/v1/namespaces/kube-system/secrets/a%20b"
    )
    assert resource_path("node.k8s.io/v1", "runtimeclasses", "nvidia") == "/apis/node.k8s.io/v1/runtimeclasses/nvidia"
    assert resource_path("v1", "nodes", "n1", subresource="status") == "/api/v1/nodes/n1/status"


def test_kubeconfig_with_embedded_credentials(pki, tmp_path, api_server):
    client = KubeClient.from_kubeconfig(_kubeconfig(pki, tmp_path, api_server.url))
    tmpdir = os.path.dirname(client.cert_file)
    try:
        assert stat.S_IMODE(os.stat(tmpdir).st_mode) == 0o700
        for path in (client.ca_file, client.cert_file, client.key_file):
            assert os.path.dirname(path) == tmpdir
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(client.key_file, "rb") as handle:
            assert handle.read() == pki.admin.key_pem
        assert client.nodes() == [NODE]
    finally:
        client.close()
    assert not os.path.exists(tmpdir)
    assert _peer_cn(api_server.requests[0]) == ("system:admin", "system:masters")
    client.close()  # idempotent


def test_kubeconfig_with_file_paths(pki, tmp_path, api_server):
    with KubeClient.from_kubeconfig(_kubeconfig(pki, tmp_path, api_server.url, embedded=False)) as client:
        assert client.ca_file == str(tmp_path / "ca.crt")
        assert client.key_file == str(tmp_path / "admin.key")
        assert client.get(resource_path("v1", "nodes", "server-1")) == NODE


def test_server_override(pki, tmp_path, api_server):
    path = _kubeconfig(pki, tmp_path, "https://192.0.2.1:6443")
    with KubeClient.from_kubeconfig(path, server=api_server.url) as client:
        assert client.url == api_server.url
        assert client.nodes() == [NODE]


def test_kubeconfig_unknown_context(pki, tmp_path, api_server):
    with pytest.raises(KubeAPIError, match="no context named 'other'"):
        KubeClient.from_kubeconfig(_kubeconfig(pki, tmp_path, api_server.url), context="other")


def test_kubeconfig_missing_file(tmp_path):
    with pytest.raises(KubeAPIError, match="cannot read kubeconfig"):
        KubeClient.from_kubeconfig(str(tmp_path / "absent.yaml"))


def test_wrong_ca_is_a_tls_error(pki, tmp_path, api_server, cert_factory):
    other_ca = pki.write("other-ca.crt", cert_factory("other", ca=True).pem)
    client = KubeClient(api_server.url, ca_file=other_ca)
    with pytest.raises(KubeAPIError) as err:
        client.nodes()
    assert err.value.status is None
    assert "GET /api/v1/nodes failed" in str(err.value)


def test_get_missing(pki, api_server):
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem))
    assert client.get("/api/v1/nodes/absent", missing_ok=True) is None
    with pytest.raises(KubeAPIError) as err:
        client.get("/api/v1/nodes/absent")
    assert err.value.status == 404
    assert err.value.reason == "NotFound"
    assert str(err.value) == "GET /api/v1/nodes/absent: HTTP 404: not found"


def test_list_with_selector(pki, api_server):
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem))
    assert client.nodes(label_selector="node-role.kubernetes.io/control-plane=true") == [NODE]
    assert api_server.requests[-1]["path"] == (
        "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane%3Dtrue"
    )


def test_patch_is_a_merge_patch(pki, api_server):
    def patch(handler, body):
        patched = json.loads(json.dumps(NODE))
        patched["metadata"]["labels"].update(json.loads(body)["metadata"]["labels"])
        return 200, patched, None

    api_server.routes[("PATCH", "/api/v1/nodes/server-1")] = patch
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem), bearer_token="abc")
    result = client.patch("/api/v1/nodes/server-1", {"metadata": {"labels": {"gpu": "true"}}})
    assert result["metadata"]["labels"] == {"a": "b", "gpu": "true"}
    request = api_server.requests[-1]
    assert request["method"] == "PATCH"
    assert request["headers"]["content-type"] == MERGE_PATCH
    assert request["headers"]["authorization"] == "Bearer abc"
    assert json.loads(request["body"]) == {"metadata": {"labels": {"gpu": "true"}}}


def test_delete(pki, api_server):
    api_server.routes[("DELETE", "/api/v1/nodes/server-1")] = (200, {"kind": "Status", "status": "Success"}, None)
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem))
    assert client.delete("/api/v1/nodes/server-1") is True
    assert client.delete("/api/v1/nodes/absent") is False
    with pytest.raises(KubeAPIError):
        client.delete("/api/v1/nodes/absent", missing_ok=False)


def test_server_error_without_status_body(pki, api_server):
    api_server.routes[("GET", "/api/v1/nodes")] = (503, b"apiserver not ready", "text/plain")
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem))
    with pytest.raises(KubeAPIError) as err:
        client.nodes()
    assert err.value.status == 503
    assert str(err.value) == "GET /api/v1/nodes: HTTP 503: apiserver not ready"


def test_etcd_members_with_basic_auth(pki, api_server):
    members = [
        {"ID": 1, "name": "server-1-abcd1234", "peerURLs": ["https://10.0.0.20:2380"]},
        {"ID": 2, "name": "server-2-0123abcd", "peerURLs": ["https://10.0.0.21:2380"], "isLearner": True},
    ]
    api_server.routes[("GET", "/db/info")] = (200, {"members": members}, None)
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem), username="server", password="pw")
    result = client.etcd_members()
    assert [(m["name"], m["isLearner"]) for m in result] == [("server-1-abcd1234", False), ("server-2-0123abcd", True)]
    expected = "Basic " + base64.b64encode(b"server:pw").decode()
    assert api_server.requests[-1]["headers"]["authorization"] == expected


def test_non_json_body(pki, api_server):
    api_server.routes[("GET", "/ping")] = (200, b"pong", "text/plain")
    client = KubeClient(api_server.url, ca_file=pki.write("ca.crt", pki.ca.pem))
    assert client.request("GET", "/ping", raw=True) == b"pong"
    with pytest.raises(KubeAPIError, match="not JSON"):
        client.request("GET", "/ping")
