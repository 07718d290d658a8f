"""A tiny HTTPS front for KubeAPI, used only by these tests (the runtime's real listener belongs to k3srt core).

It mirrors what the core listener does: TLS with client certificates from a throwaway CA, the certificate's CN/O
mapped to ``Identity(user=CN, groups=O…)``, the request handed to ``KubeAPI.handle``, streaming (generator) bodies
written with chunked transfer encoding.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import os
import ssl
import threading
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from k3srt.web import Identity, Request


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _write_pem(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class PKI:
    """A throwaway CA plus a server certificate for 127.0.0.1 and client certificates on demand."""

    def __init__(self, directory: str):
        self.dir = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.utcnow()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("k3srt-test-ca"))
            .issuer_name(_name("k3srt-test-ca"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_path = os.path.join(directory, "ca.crt")
        _write_pem(self.ca_path, self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self.issue("server", "kube-apiserver", (), server=True)

    def issue(
        self, stem: str, cn: str, orgs: tuple[str, ...], server: bool = False, client: bool | None = None
    ) -> tuple[str, str]:
        """A leaf certificate; server=True adds localhost/127.0.0.1 SANs and serverAuth (client=True adds
        clientAuth as well, as etcd's own gateway needs)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.utcnow()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn, orgs))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        usages = []
        if server:
            sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client if client is not None else not server:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        cert_path = os.path.join(self.dir, f"{stem}.crt")
        key_path = os.path.join(self.dir, f"{stem}.key")
        _write_pem(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        _write_pem(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        return cert_path, key_path


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

    def log_message(self, *args):  # keep pytest output clean
        pass

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
            identity=identity_from_cert(self.connection.getpeercert()),
            remote_addr=self.client_address[0],
        )
        self.server.requests.append((request.method, request.path, request.headers.get("content-type", "")))
        response = self.server.api.handle(request)
        if hasattr(response.body, "__next__"):
            self._stream(response)
            return
        data, ctype = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, response):
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type or "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        gen = response.body
        try:
            for chunk in gen:
                if not chunk:
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        finally:
            gen.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class HTTPSFront:
    def __init__(self, api, pki: PKI):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.api = api
        self.server.requests = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ctx.load_verify_locations(pki.ca_path)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> list:
        return self.server.requests

    def start(self) -> HTTPSFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_kubeconfig(path: str, url: str, pki: PKI, cert: str, key: str) -> None:
    text = f"""apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: {url}
    certificate-authority: {pki.ca_path}
contexts:
- name: default
  context:
    cluster: default
    user: default
current-context: default
users:
- name: default
  user:
    client-certificate: {cert}
    client-key: {key}
"""
    _write_pem(path, text.encode())
