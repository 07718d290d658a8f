"""Helpers of the core contract tests: HTTPS calls, an admin API client, file modes, custom CA bundles."""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import ssl
import stat
import tempfile
import time
import urllib.error
import urllib.request

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RUNTIME = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "k3s_runtime"))
TOKEN = "core-contract-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubeconfig_line(etc) -> str:
    """Both k3s and the stand-in write the admin kubeconfig where --write-kubeconfig says."""
    return f"write-kubeconfig: {etc / 'k3s' / 'k3s.yaml'}\n"


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def fetch(url: str, auth: tuple[str, str] | None = None, method: str = "GET", body: bytes | None = None, ctx=None):
    """(status, body) of an HTTPS request that trusts anything (the tests check the CA separately)."""
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Admin:
    """The Kubernetes API as system:admin, with the client certificate of the server's admin kubeconfig."""

    def __init__(self, kubeconfig_path):
        doc = yaml.safe_load(open(kubeconfig_path).read())  # noqa: SIM115
        user = doc["users"][0]["user"]
        self.url = doc["clusters"][0]["cluster"]["server"]
        self._dir = tempfile.mkdtemp(prefix="core-admin-")
        cert, key = os.path.join(self._dir, "admin.crt"), os.path.join(self._dir, "admin.key")
        with open(cert, "wb") as fh:
            fh.write(base64.b64decode(user["client-certificate-data"]))
        with open(key, "wb") as fh:
            fh.write(base64.b64decode(user["client-key-data"]))
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE
        self.ctx.load_cert_chain(cert, key)

    def __call__(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        status, raw = fetch(self.url + path, method=method, body=data, ctx=self.ctx)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw


def wait_exit(node, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while node.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert node.proc.poll() is not None, f"{node.command} is still running:\n{node.log()}"
    return node.proc.returncode


def still_running_without(node, text: str, seconds: float) -> None:
    """The process keeps running for ``seconds`` and never logs ``text``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert node.proc.poll() is None, f"{node.command} exited {node.proc.returncode}:\n{node.log()}"
        assert text not in node.log()
        time.sleep(0.5)


# -- custom CA bundles --------------------------------------------------------------------------------------------


class CA:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        fmt = serialization.PrivateFormat.PKCS8
        return self.key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def make_ca(cn: str, issuer: CA | None = None) -> CA:
    """A CA certificate (self-signed without ``issuer``) with SubjectKeyId and AuthorityKeyId, like k3s's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer = issuer.key if issuer else key
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return CA(cert, key)


def install_server_ca(data_dir, bundle: bytes, key_pem: bytes) -> None:
    """A custom server CA placed before the first start (k3s and the stand-in keep it): <D>/server/tls/server-ca.*"""
    tls = os.path.join(str(data_dir), "server", "tls")
    os.makedirs(tls, mode=0o700, exist_ok=True)
    with open(os.path.join(tls, "server-ca.crt"), "wb") as fh:
        fh.write(bundle)
    fd = os.open(os.path.join(tls, "server-ca.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
