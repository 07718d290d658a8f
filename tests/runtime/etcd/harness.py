"""Local stand-ins for what core provides to k3srt.etcd: a ServerContext and a tiny supervisor (HTTPS /db/*)."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "k3s_runtime"))

from k3srt import etcd  # noqa: E402
from k3srt.web import HTTPError, Identity, Request  # noqa: E402

FORBIDDEN_PORTS = {2379, 2380, 2381, 6443}
PASSWORD = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in FORBIDDEN_PORTS:
            return port


class Ctx:
    """What core's ServerContext gives k3srt.etcd, plus the port/interval overrides for local tests."""

    def __init__(self, root: str, node_name: str, pki, config: dict | None = None, node_ip: str = "127.0.0.1"):
        self.data_dir = os.path.join(root, node_name)
        self.server_dir = os.path.join(self.data_dir, "server")
        self.tls_dir = os.path.join(self.server_dir, "tls")
        os.makedirs(self.server_dir, mode=0o700, exist_ok=True)
        pki.install(self.tls_dir)
        self.node_name = node_name
        self.node_ip = node_ip
        self.https_port = free_port()
        self.version = "v1.36.1+k3s1"
        self.server_password = PASSWORD
        self.kv = None
        # fast raft timing for tests, through the same --etcd-arg path users have
        self.config = {"etcd-arg": ["election-timeout=1000", "heartbeat-interval=100"], **(config or {})}
        self.etcd_client_port = free_port()
        self.etcd_peer_port = free_port()
        self.etcd_metrics_port = free_port()
        self.etcd_promote_interval = 1.0
        self.etcd_join_retry_interval = 1.0
        self.etcd_start_timeout = 60.0
        self.logs: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def log(self, msg: str, level: str = "info") -> None:
        with self._lock:
            self.logs.append((level, msg))
        print(f"[{self.node_name}] level={level} msg={msg!r}", file=sys.stderr)

    def messages(self, level: str | None = None) -> list[str]:
        with self._lock:
            return [m for lv, m in self.logs if level is None or lv == level]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


class Supervisor:
    """HTTPS listener serving /cacerts and /db/* (basic auth server:<password>, or loopback for /db/info)."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                outer.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", ctx.https_port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{ctx.tls_dir}/serving-test.crt", f"{ctx.tls_dir}/serving-test.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if parts.path == "/cacerts":
            with open(f"{self.ctx.tls_dir}/server-ca.crt", "rb") as f:
                return self._send(h, 200, f.read(), "text/plain")
        identity = None
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if user == "server" and pw == self.ctx.server_password:
                identity = Identity("server", ("k3s:server",))
        loopback_info = parts.path == "/db/info" and h.client_address[0] == "127.0.0.1" and not auth
        if identity is None and not loopback_info:
            return self._send(h, 401, b'{"kind":"Status","code":401}', "application/json")
        req = Request(
            h.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in h.headers.items()},
            body,
            identity,
            h.client_address[0],
        )
        try:
            resp = etcd.handle_db(self.ctx, req)
        except HTTPError as exc:
            resp = exc.response()
        data, ctype = resp.encode()
        self._send(h, resp.status, data, ctype)

    @staticmethod
    def _send(h, status: int, data: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Node:
    """One server: ctx + supervisor + its etcd. Always stopped by the fixture finalizer."""

    def __init__(self, root: str, name: str, pki, config: dict | None = None, node_ip: str = "127.0.0.1"):
        self.ctx = Ctx(root, name, pki, config, node_ip)
        self.supervisor = Supervisor(self.ctx)
        self.kv = None

    def start(self, mode: str, join_url: str | None = None):
        self.kv = etcd.start(self.ctx, mode, join_url)
        self.ctx.kv = self.kv
        return self.kv

    @property
    def runtime(self):
        return getattr(self.ctx, "_etcd_runtime", None)

    def pid(self) -> int | None:
        rt = self.runtime
        return rt.proc.proc.pid if rt and rt.proc and rt.proc.proc else None

    def stop_etcd(self) -> None:
        etcd.stop(self.ctx)

    def close(self) -> None:
        try:
            etcd.stop(self.ctx)
        finally:
            rt = self.runtime
            if rt and rt.proc and rt.proc.proc and rt.proc.proc.poll() is None:
                rt.proc.proc.kill()
            self.supervisor.close()


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last={last!r}")
