"""Certificates of a server's data dir (K3S_BEHAVIOUR §3 server/tls): CAs, leaf certs, the listener certificate,
node certificates signed for agents. ECDSA P-256, leaf 365 days (renewed within 120 days of expiry), CA 10 years.
Works with python3-cryptography 38 (Debian bookworm) and newer."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import stat
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LEAF_DAYS = 365
RENEW_DAYS = 120
CA_DAYS = 3650
SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH

# tls-relative stem -> CA-name prefix (CN = <prefix>@<unix>)
CAS = {
    "server-ca": "k3s-server-ca",
    "client-ca": "k3s-client-ca",
    "request-header-ca": "k3s-request-header-ca",
    "etcd/server-ca": "etcd-server-ca",
    "etcd/peer-ca": "etcd-peer-ca",
}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key_pem(key) -> bytes:
    fmt = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def cert_pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_file(path: str, data: bytes, mode: int) -> None:
    """Replace ``path`` atomically. Like Go's os.WriteFile, ``mode`` is only used for a new file: an existing file
    keeps its mode (k3s writes certs/keys with certutil.WriteCert / keyutil.WriteKey, i.e. os.WriteFile)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if os.path.exists(path):
        mode = stat.S_IMODE(os.stat(path).st_mode)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """CERT was issued by CA: issuer name and signature (ECDSA or RSA; Debian's python3-cryptography 38 lacks
    verify_directly_issued_by)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    if cert.issuer != ca.subject:
        return False
    public = ca.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def load_cert(path: str):
    with open(path, "rb") as fh:
        return x509.load_pem_x509_certificate(fh.read())


def load_key(path: str):
    with open(path, "rb") as fh:
        return serialization.load_pem_private_key(fh.read(), None)


def not_after(cert) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def new_ca(cn_prefix: str):
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{cn_prefix}@{int(time.time())}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def sign(ca, cn: str, orgs=(), usages=(CLIENT,), dns=(), ips=(), key=None):
    ca_cert, ca_key = ca
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, tuple(orgs)))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    )
    sans = [x509.DNSName(d) for d in dict.fromkeys(dns) if d]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in dict.fromkeys(ips) if i]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


class ServerPKI:
    """The CAs and leaf certificates under <D>/server/tls."""

    def __init__(self, tls_dir: str):
        self.tls = tls_dir

    def path(self, stem: str, ext: str) -> str:
        return os.path.join(self.tls, f"{stem}.{ext}")

    def ca(self, stem: str):
        return load_cert(self.path(stem, "crt")), load_key(self.path(stem, "key"))

    def ensure_cas(self) -> list[str]:
        """Create missing CAs (custom CAs placed before the first start are kept). Returns created stems."""
        created = []
        for stem, prefix in CAS.items():
            if os.path.exists(self.path(stem, "crt")) and os.path.exists(self.path(stem, "key")):
                continue
            cert, key = new_ca(prefix)
            write_file(self.path(stem, "key"), key_pem(key), 0o600)
            write_file(self.path(stem, "crt"), cert_pem(cert), 0o644)
            created.append(stem)
        for stem in ("server-ca", "client-ca"):
            write_file(self.path(f"{stem}.nochain", "crt"), read(self.path(stem, "crt")), 0o644)
        if not os.path.exists(self.path("service", "key")):
            write_file(self.path("service", "key"), key_pem(ec.generate_private_key(ec.SECP256R1())), 0o600)
        return created

    def _leaf_ok(self, stem: str, ca_stem: str, want_sans: set[str] | None = None) -> bool:
        crt, key = self.path(stem, "crt"), self.path(stem, "key")
        if not (os.path.exists(crt) and os.path.exists(key)):
            return False
        cert = load_cert(crt)
        if not_after(cert) - _now() < datetime.timedelta(days=RENEW_DAYS):
            return False
        # k3s regenerates a leaf that does not verify against its CA (pkg/daemons/control/deps/deps.go, expired()):
        # after a restore onto a new server the CAs come back from the datastore and the leaves made before are
        # replaced on the next start.
        if not signed_by(cert, load_cert(self.path(ca_stem, "crt"))):
            return False
        return want_sans is None or sans_of(cert) == want_sans

    def ensure_leaf(self, stem: str, ca_stem: str, cn: str, orgs=(), usages=(CLIENT,), dns=(), ips=()) -> bool:
        want = {*(f"DNS:{d}" for d in dns if d), *(f"IP:{ipaddress.ip_address(i)}" for i in ips if i)}
        if self._leaf_ok(stem, ca_stem, want if (dns or ips) else None):
            return False
        cert, key = sign(self.ca(ca_stem), cn, orgs, usages, dns, ips)
        write_file(self.path(stem, "key"), key_pem(key), 0o600)
        ca_pem = read(self.path(ca_stem, "crt"))
        write_file(self.path(stem, "crt"), cert_pem(cert) + ca_pem, 0o644)
        return True

    def ensure_leaves(self, node_name: str, node_ips: list[str], sans: list[str]) -> None:
        loop_ips = ["127.0.0.1", *node_ips]
        self.ensure_leaf("client-admin", "client-ca", "system:admin", ("system:masters",))
        self.ensure_leaf("client-supervisor", "client-ca", "system:k3s-supervisor", ("system:masters",))
        self.ensure_leaf("client-controller", "client-ca", "system:kube-controller-manager")
        self.ensure_leaf("client-scheduler", "client-ca", "system:kube-scheduler")
        self.ensure_leaf("client-kube-apiserver", "client-ca", "system:apiserver", ("system:masters",))
        self.ensure_leaf("client-kube-proxy", "client-ca", "system:kube-proxy")
        self.ensure_leaf("client-k3s-controller", "client-ca", "system:k3s-controller")
        self.ensure_leaf(
            "serving-kube-apiserver",
            "server-ca",
            "kube-apiserver",
            usages=(SERVER,),
            dns=["kubernetes", "kubernetes.default", "localhost", *hostnames(sans)],
            ips=loop_ips + ip_sans(sans),
        )
        both = (SERVER, CLIENT)
        self.ensure_leaf(
            "etcd/server-client",
            "etcd/server-ca",
            "etcd-server",
            usages=both,
            dns=["localhost", node_name],
            ips=loop_ips,
        )
        self.ensure_leaf(
            "etcd/peer-server-client",
            "etcd/peer-ca",
            "etcd-peer",
            usages=both,
            dns=["localhost", node_name],
            ips=loop_ips,
        )
        self.ensure_leaf("etcd/client", "etcd/server-ca", "etcd-client")

    def listener_cert(self, sans: list[str]) -> tuple[str, str]:
        """The supervisor/apiserver listener certificate, cached in dynamic-cert.json; reissued when SANs change."""
        cache = os.path.join(self.tls, "dynamic-cert.json")
        want = {f"IP:{ipaddress.ip_address(s)}" if is_ip(s) else f"DNS:{s}" for s in sans}
        crt, key = os.path.join(self.tls, "dynamic-cert.crt"), os.path.join(self.tls, "dynamic-cert.key")
        try:
            with open(cache, encoding="utf-8") as fh:
                data = json.load(fh)
            cert = x509.load_pem_x509_certificate(data["cert"].encode())
            fresh = not_after(cert) - _now() > datetime.timedelta(days=RENEW_DAYS)
            if fresh and sans_of(cert) == want and data.get("ca") == self._ca_fingerprint():
                if not (os.path.exists(crt) and os.path.exists(key)):
                    self._write_listener(crt, key, data["cert"].encode(), data["key"].encode())
                return crt, key
        except (OSError, ValueError, KeyError):
            pass
        cert, k = sign(self.ca("server-ca"), "k3s", ("k3s",), (SERVER,), hostnames(sans), ip_sans(sans))
        chain = cert_pem(cert) + read(self.path("server-ca", "crt"))
        data = {"cert": chain.decode(), "key": key_pem(k).decode(), "ca": self._ca_fingerprint()}
        write_file(cache, json.dumps(data).encode(), 0o600)
        self._write_listener(crt, key, chain, key_pem(k))
        return crt, key

    @staticmethod
    def _write_listener(crt: str, key: str, chain: bytes, key_bytes: bytes) -> None:
        write_file(key, key_bytes, 0o600)
        write_file(crt, chain, 0o644)

    def _ca_fingerprint(self) -> str:
        return hashlib.sha256(read(self.path("server-ca", "crt"))).hexdigest()

    def node_cert(self, kind: str, node_name: str, node_ips: list[str]) -> bytes:
        """Cert chain + key PEM for an agent (GET /v1-k3s/<kind>.crt without a CSR)."""
        if kind == "client-kubelet":
            cert, key = sign(self.ca("client-ca"), f"system:node:{node_name}", ("system:nodes",))
            ca = "client-ca"
        elif kind == "serving-kubelet":
            cert, key = sign(
                self.ca("server-ca"), node_name, (), (SERVER,), [node_name, "localhost"], ["127.0.0.1", *node_ips]
            )
            ca = "server-ca"
        elif kind == "client-kube-proxy":
            cert, key = sign(self.ca("client-ca"), "system:kube-proxy")
            ca = "client-ca"
        elif kind == "client-k3s-controller":
            cert, key = sign(self.ca("client-ca"), "system:k3s-controller")
            ca = "client-ca"
        else:
            raise KeyError(kind)
        return cert_pem(cert) + read(self.path(ca, "crt")) + key_pem(key)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def hostnames(sans) -> list[str]:
    return [s for s in sans if s and not is_ip(s)]


def ip_sans(sans) -> list[str]:
    return [s for s in sans if s and is_ip(s)]


def sans_of(cert) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {f"DNS:{d}" for d in ext.get_values_for_type(x509.DNSName)} | {
        f"IP:{i}" for i in ext.get_values_for_type(x509.IPAddress)
    }


def split_pem(data: bytes) -> tuple[bytes, bytes]:
    """(certificates, private key) from a concatenated PEM answer."""
    marker = data.find(b"-----BEGIN PRIVATE KEY-----")
    if marker < 0:
        marker = data.find(b"-----BEGIN EC PRIVATE KEY-----")
    if marker < 0:
        return data, b""
    return data[:marker], data[marker:]
