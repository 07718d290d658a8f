# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures for the unit tests: a throwaway PKI and a local HTTPS server on 127.0.0.1."""

from __future__ import annotations

import datetime
import http.server
import importlib.util
import ipaddress
import json
import os
import ssl
import sys
import threading

import pytest

# Plain `pytest tests/unit` (the Makefile) needs ansible_collections/ on sys.path; ansible-test sets it up itself.
try:
    _FOUND = importlib.util.find_spec("ansible_collections.edgefleet.k3s.plugins") is not None
except ImportError:
    _FOUND = False
if not _FOUND:
    _default = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "collections")
    for _entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", _default).split(os.pathsep):
        if _entry and _entry not in sys.path:
            sys.path.insert(0, _entry)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class Issued:
    """A certificate and its key."""

    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    @property
    def pem(self):
        return _pem(self.cert)

    @property
    def key_pem(self):
        return _key_pem(self.key)

    @property
    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)


def make_cert(cn, issuer=None, ca=False, sans=(), client=False, days=30, not_before=None, organization=None):
    """Issue a certificate (self-signed when ``issuer`` is None)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    subject = x509.Name(attrs)
    now = not_before or (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5))
    signer = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
    if sans:
        names = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


class PKI:
    """A k3s-like server CA and a listener certificate for 127.0.0.1/localhost."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.ca = make_cert("k3s-server-ca@1700000000", ca=True, days=3650)
        self.server = make_cert("k3s", issuer=self.ca, sans=("127.0.0.1", "localhost"))
        self.client_ca = make_cert("k3s-client-ca@1700000000", ca=True, days=3650)
        self.admin = make_cert("system:admin", issuer=self.client_ca, client=True, organization="system:masters")

    def write(self, name, data, mode=0o600):
        path = self.tmp_path / name
        path.write_bytes(data)
        path.chmod(mode)
        return str(path)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def _serve(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        peer = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "peer_cert": peer,
            }
        )
        route = server.routes.get((self.command, self.path.split("?")[0])) or server.routes.get(
            ("*", self.path.split("?")[0])
        )
        if route is None:
            status, payload, ctype = 404, {"kind": "Status", "reason": "NotFound", "message": "not found"}, None
        elif callable(route):
            status, payload, ctype = route(self, body)
        else:
            status, payload, ctype = route
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            ctype = ctype or "application/json"
        elif isinstance(payload, str):
            payload = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype or "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve


class HTTPSServer:
    """A threaded HTTPS server on 127.0.0.1:<random port>. ``routes[(METHOD|'*', path)] = (status, body, ctype)``."""

    def __init__(self, cert_pem, key_pem, chain_pem=b"", client_ca_pem=None, tmp_path=None):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.requests = []
        cert_file = tmp_path / "listener.crt"
        key_file = tmp_path / "listener.key"
        cert_file.write_bytes(cert_pem + chain_pem)
        key_file.write_bytes(key_pem)
        key_file.chmod(0o600)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_file), str(key_file))
        if client_ca_pem:
            context.load_verify_locations(cadata=client_ca_pem.decode())
            context.verify_mode = ssl.CERT_OPTIONAL
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def routes(self):
        return self.httpd.routes

    @property
    def requests(self):
        return self.httpd.requests

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path)


@pytest.fixture
def https_server_factory(tmp_path):
    servers = []

    def factory(cert_pem, key_pem, chain_pem=b"", client_ca_pem=None):
        server = HTTPSServer(cert_pem, key_pem, chain_pem, client_ca_pem, tmp_path)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.close()


@pytest.fixture
def k3s_server(pki, https_server_factory):
    """A fake k3s supervisor serving /cacerts (the server CA bundle) and /ping."""
    server = https_server_factory(pki.server.pem, pki.server.key_pem, client_ca_pem=pki.client_ca.pem)
    server.routes[("*", "/cacerts")] = (200, pki.ca.pem, "text/plain")
    server.routes[("*", "/ping")] = (200, b"pong", "text/plain")
    return server


@pytest.fixture
def cert_factory():
    """``make_cert`` for tests that build their own chains."""
    return make_cert
