"""Fixtures for the KubeAPI tests: a SqliteKV-backed KubeAPI, an HTTPS front with client certificates, and the
real kubectl (``$KUBECTL``, else the Debian 1.20 client extracted to /tmp/kubectl120, else ``kubectl`` on PATH)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "k3s_runtime"))
sys.path.insert(0, str(HERE))

from api_harness import PKI, HTTPSFront, write_kubeconfig  # noqa: E402
from k3srt.kubeapi import KubeAPI  # noqa: E402
from k3srt.kv import SqliteKV  # noqa: E402
from k3srt.web import Identity, Request  # noqa: E402

VERSION = "v1.36.1+k3s1"
ADMIN = Identity("system:admin", ("system:masters",))


def make_ctx(tmp_path, kv):
    logs = []
    ctx = types.SimpleNamespace(
        data_dir=str(tmp_path),
        server_dir=str(tmp_path / "server"),
        node_name="server-1",
        node_ip="10.0.0.20",
        https_port=6443,
        config={},
        version=VERSION,
        kv=kv,
        logs=logs,
        deleted_nodes=[],
    )
    ctx.log = lambda msg, level="info": logs.append((level, msg))
    ctx.on_node_deleted = ctx.deleted_nodes.append
    return ctx


@pytest.fixture
def kv(tmp_path):
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


class Client:
    """Calls KubeAPI.handle directly, as a given identity."""

    def __init__(self, api, identity=ADMIN):
        self.api = api
        self.identity = identity

    def __call__(self, method, path, body=None, query=None, ctype="application/json", accept="application/json"):
        import json

        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        req = Request(
            method=method,
            path=path,
            query={k: [v] for k, v in (query or {}).items()},
            headers={"content-type": ctype, "accept": accept},
            body=data,
            identity=self.identity,
            remote_addr="127.0.0.1",
        )
        resp = self.api.handle(req)
        if hasattr(resp.body, "__next__"):
            return resp.status, resp.body
        raw, _ctype = resp.encode()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode()


@pytest.fixture
def client(api):
    return Client(api)


@functools.lru_cache(maxsize=None)
def kubectl_binaries() -> tuple[str, ...]:
    """$KUBECTL, the lab's Debian 1.20 client extracted to /tmp/kubectl120, ``kubectl`` on PATH (deduplicated)."""
    found = []
    for candidate in (os.environ.get("KUBECTL"), "/tmp/kubectl120/root/usr/bin/kubectl", shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK) and os.path.realpath(candidate) not in found:
            found.append(os.path.realpath(candidate))
    return tuple(found)


def pytest_generate_tests(metafunc):
    if "kubectl_binary" in metafunc.fixturenames:
        binaries = kubectl_binaries()
        if not binaries:
            raise pytest.UsageError("no kubectl found: extract Debian's kubernetes-client or set KUBECTL")
        metafunc.parametrize("kubectl_binary", list(binaries), ids=[_version_id(b) for b in binaries])


@functools.lru_cache(maxsize=None)
def _version_id(binary: str) -> str:
    out = subprocess.run([binary, "version", "--client", "--short"], capture_output=True, text=True, timeout=30)
    text = out.stdout or subprocess.run([binary, "version", "--client"], capture_output=True, text=True).stdout
    for word in text.replace('"', " ").replace(",", " ").split():
        if word.startswith("v1."):
            return "kubectl-" + word.split("-")[0]
    return os.path.basename(binary)


class Kubectl:
    def __init__(self, binary, kubeconfig):
        self.binary = binary
        self.kubeconfig = kubeconfig

    def __call__(self, *args, check=True, stdin=None, timeout=60):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=str(Path(self.kubeconfig).parent))
        proc = subprocess.run(
            [self.binary, "--request-timeout=20s", *args],
            capture_output=True,
            text=True,
            env=env,
            input=stdin,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def https(tmp_path, api):
    pki = PKI(str(tmp_path))
    front = HTTPSFront(api, pki).start()
    front.pki = pki
    yield front
    front.stop()


@pytest.fixture
def kubectl(tmp_path, https, kubectl_binary):
    """The real kubectl as the admin (CN=system:admin, O=system:masters)."""
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
