"""The HTTPS listener on --https-listen-port: TLS, authentication, then the supervisor routes or the API."""

from __future__ import annotations

import base64
import http.server
import socket
import ssl
import threading
import urllib.parse

from .web import HTTPError, Identity, Request, Response


def identity_from_cert(peercert: dict | None) -> Identity | None:
    if not peercert:
        return None
    cn, orgs = None, []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return Identity(cn, tuple(orgs)) if cn else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "k3srt"
    sys_version = ""

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise

    def _identity(self) -> Identity | None:
        ident = identity_from_cert(self.connection.getpeercert())
        if ident:
            return ident
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None
            return self.server.owner.basic_auth(user, pw)
        if auth.startswith("Bearer "):
            return self.server.owner.bearer_auth(auth[7:].strip())
        return None

    def _serve(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=url.path,
            query=urllib.parse.parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            identity=None,
            remote_addr=self.client_address[0],
        )
        try:
            request.identity = self._identity()
            response = self.server.owner.route(request)
        except HTTPError as exc:
            response = exc.response()
        except Exception as exc:  # noqa: BLE001 - an internal error must not kill the listener
            self.server.owner.log(f"request {self.command} {url.path} failed: {exc!r}", "error")
            response = HTTPError(500, "InternalError", str(exc)).response()
        if hasattr(response.body, "__next__"):
            self._stream(response)
        else:
            self._send(response)

    def _send(self, response: Response) -> None:
        data, ctype = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in response.headers.items():
            self.send_header(key, value)
            if key.lower() == "connection" and value.lower() == "close":
                self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type or "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gen = response.body
        try:
            for chunk in gen:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            gen.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_CONNECT = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


class Listener:
    """owner must provide route(request) -> Response, basic_auth(user, pw), bearer_auth(token), log(msg, level)."""

    def __init__(self, owner, bind: str, port: int, cert: str, key: str, client_ca: str):
        self.owner = owner
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        _Server.address_family = family
        self.httpd = _Server((bind, port), _Handler, bind_and_activate=True)
        self.httpd.owner = owner
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.load_verify_locations(client_ca)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.httpd.socket = self.ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="https", daemon=True)

    def reload_cert(self, cert: str, key: str) -> None:
        self.ctx.load_cert_chain(cert, key)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
