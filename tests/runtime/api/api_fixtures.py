"""Shared by the KubeAPI contract tests (imported by name: several test dirs have a conftest): the in-process
client of the stand-in's KubeAPI, the HTTPS client of a real `k3s server` (EDGEFLEET_K3S_BIN), kubectl."""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "k3s_runtime"))
sys.path.insert(0, str(HERE.parent))

import k3sbin  # noqa: E402
import yaml  # noqa: E402
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


class RemoteClient:
    """The same call shape as Client, over HTTPS to a running server as system:admin (its admin kubeconfig)."""

    def __init__(self, kubeconfig: str):
        doc = yaml.safe_load(Path(kubeconfig).read_text())
        user = doc["users"][0]["user"]
        url = urllib.parse.urlsplit(doc["clusters"][0]["cluster"]["server"])
        self.host, self.port = url.hostname, url.port
        tmp = tempfile.mkdtemp(prefix="api-admin-")
        cert, key = os.path.join(tmp, "admin.crt"), os.path.join(tmp, "admin.key")
        Path(cert).write_bytes(base64.b64decode(user["client-certificate-data"]))
        Path(key).write_bytes(base64.b64decode(user["client-key-data"]))
        ca = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        self.ctx = ssl.create_default_context(cadata=ca)
        self.ctx.check_hostname = False
        self.ctx.load_cert_chain(cert, key)

    def __call__(self, method, path, body=None, query=None, ctype="application/json", accept="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        conn.request(method, target, body=data, headers={"Content-Type": ctype, "Accept": accept})
        resp = conn.getresponse()
        if (query or {}).get("watch") in ("true", "1"):
            return resp.status, _lines(conn, resp)
        raw = resp.read()
        conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode(errors="replace")


def _lines(conn, resp):
    try:
        while True:
            line = resp.readline()
            if not line:
                return
            yield line.strip()
    finally:
        conn.close()


class RealServer:
    """`k3s server` from EDGEFLEET_K3S_BIN (sqlite, a free port, kubeconfig in a temp dir)."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.root = root
        self.kubeconfig = str(root / "k3s.yaml")
        config = root / "config.yaml"
        config.write_text(
            f"node-name: api-contract\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n"
            f"write-kubeconfig: {self.kubeconfig}\ntoken: api-contract-token-0123\n"
        )
        self.log = root / "k3s.log"
        # K3SRT_ETC_DIR only confines a stand-in zipapp used as the binary; k3s itself ignores it
        env = {**os.environ, "K3S_CONFIG_FILE": str(config), "K3SRT_ETC_DIR": str(root / "etc")}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*k3sbin.command(), "server", "--data-dir", str(root / "data")], stdout=out, stderr=out, env=env
            )
        deadline = time.monotonic() + 180
        while "k3s is up and running" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"k3s server did not start:\n{self.log.read_text(errors='replace')[-4000:]}")
            time.sleep(1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@functools.lru_cache(maxsize=None)
def kubectl_binaries() -> tuple[str, ...]:
    """$KUBECTL, the lab's Debian 1.20 client extracted to /tmp/kubectl120, ``kubectl`` on PATH (deduplicated)."""
    found = []
    for candidate in (os.environ.get("KUBECTL"), "/tmp/kubectl120/root/usr/bin/kubectl", shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK) and os.path.realpath(candidate) not in found:
            found.append(os.path.realpath(candidate))
    return tuple(found)


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
