"""Fixtures for the KubeAPI tests: a SqliteKV-backed KubeAPI, an HTTPS front with client certificates, and the
real kubectl (``$KUBECTL``, else the Debian 1.20 client extracted to /tmp/kubectl120, else ``kubectl`` on PATH).

With EDGEFLEET_K3S_BIN set, ``client`` and ``kubectl`` talk to a `k3s server` started from that binary instead;
the fixtures of the stand-in's internals (``kv``, ``ctx``, ``api``, ``https``, ``kubectl_as``) then skip, and the
tests that use them say ``standin`` in their names (tests/runtime/k3sbin.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from api_fixtures import (  # noqa: E402
    Client,
    Kubectl,
    RealServer,
    RemoteClient,
    _version_id,
    k3sbin,
    kubectl_binaries,
    make_ctx,
)
from api_harness import PKI, HTTPSFront, write_kubeconfig  # noqa: E402
from k3srt.kubeapi import KubeAPI  # noqa: E402
from k3srt.kv import SqliteKV  # noqa: E402


@pytest.fixture(autouse=True)
def _standin_only(request):
    k3sbin.skip_standin(request)


def _standin_fixture(name: str) -> None:
    if k3sbin.is_real():
        pytest.skip(f"uses the stand-in's in-process {name}: {k3sbin.STANDIN_REASON}")


@pytest.fixture
def real_server(tmp_path):
    """A fresh server per test (the in-process tests each start from an empty datastore too)."""
    server = RealServer(tmp_path / "k3s-api")
    yield server
    server.stop()


@pytest.fixture
def kv(tmp_path):
    _standin_fixture("datastore")
    store = SqliteKV(str(tmp_path / "state.db"))
    yield store
    store.close()


@pytest.fixture
def ctx(tmp_path, kv):
    return make_ctx(tmp_path, kv)


@pytest.fixture
def api(ctx):
    kube = KubeAPI(ctx, grace=2.0, node_interval=0.2, manifest_interval=0.5)
    kube.ensure_defaults()
    yield kube
    kube.stop_controllers()


@pytest.fixture
def client(request):
    if k3sbin.is_real():
        return RemoteClient(request.getfixturevalue("real_server").kubeconfig)
    return Client(request.getfixturevalue("api"))


def pytest_generate_tests(metafunc):
    if "kubectl_binary" in metafunc.fixturenames:
        binaries = kubectl_binaries()
        if not binaries:
            raise pytest.UsageError("no kubectl found: extract Debian's kubernetes-client or set KUBECTL")
        metafunc.parametrize("kubectl_binary", list(binaries), ids=[_version_id(b) for b in binaries])


@pytest.fixture
def https(tmp_path, api):
    _standin_fixture("HTTPS front")
    pki = PKI(str(tmp_path))
    front = HTTPSFront(api, pki).start()
    front.pki = pki
    yield front
    front.stop()


@pytest.fixture
def kubectl(request, tmp_path, kubectl_binary):
    """The real kubectl as the admin (CN=system:admin, O=system:masters)."""
    if k3sbin.is_real():
        return Kubectl(kubectl_binary, request.getfixturevalue("real_server").kubeconfig)
    https = request.getfixturevalue("https")
    cert, key = https.pki.issue("admin", "system:admin", ("system:masters",))
    path = str(tmp_path / "kubeconfig")
    write_kubeconfig(path, https.url, https.pki, cert, key)
    return Kubectl(kubectl_binary, path)


@pytest.fixture
def kubectl_as(tmp_path, https, kubectl_binary):
    """kubectl with a client certificate for any CN/O."""

    def make(cn, *orgs):
        stem = cn.replace(":", "_")
        cert, key = https.pki.issue(stem, cn, orgs)
        path = str(tmp_path / f"kubeconfig-{stem}")
        write_kubeconfig(path, https.url, https.pki, cert, key)
        return Kubectl(kubectl_binary, path)

    return make
