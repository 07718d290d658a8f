"""KubeAPI behind k3srt's own HTTPS listener (``k3srt.httpsd.Listener``), used only by these tests: TLS with client
certificates from a throwaway CA, the certificate's CN/O mapped to ``Identity(user=CN, groups=O…)``, the request
handed to ``KubeAPI.handle``, streaming (generator) bodies written with chunked transfer encoding.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from k3srt.httpsd import Listener
from k3srt.web import Identity, Request, Response


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


class HTTPSFront:
    """The listener's owner: every request goes to API (no supervisor routes, no basic or bearer credentials: only
    client certificates identify a caller) and is recorded as (method, path, content-type) in ``requests``."""

    def __init__(self, api, pki: PKI):
        self.api = api
        self.requests: list[tuple[str, str, str]] = []
        self.listener = Listener(self, "127.0.0.1", 0, pki.server_cert, pki.server_key, pki.ca_path)
        self.port = self.listener.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"

    def route(self, request: Request) -> Response:
        self.requests.append((request.method, request.path, request.headers.get("content-type", "")))
        return self.api.handle(request)

    def basic_auth(self, user: str, password: str) -> Identity | None:
        return None

    def bearer_auth(self, token: str) -> Identity | None:
        return None

    def log(self, msg: str, level: str = "info") -> None:
        print(f"https front [{level}] {msg}", file=sys.stderr)

    def start(self) -> HTTPSFront:
        self.listener.start()
        return self

    def stop(self) -> None:
        self.listener.stop()


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
