"""Test-only PKI: the etcd certificate set core's pki creates under <D>/server/tls/etcd/, plus a supervisor CA."""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NOW = datetime.datetime.now(datetime.timezone.utc)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: str, cert, key) -> None:
    with open(path + ".crt", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(path + ".key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def make_ca(cn: str):
    key = _key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(hours=1))
        .not_valid_after(_NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


LOOPBACK_IPS = tuple(f"127.0.0.{i}" for i in range(1, 10))  # test nodes use 127.0.0.2.. as their node IP


def make_leaf(ca, cn: str, server: bool, client: bool, ips=LOOPBACK_IPS, dns=("localhost",)):
    ca_cert, ca_key = ca
    key = _key()
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(hours=1))
        .not_valid_after(_NOW + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if server:
        sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


class ClusterPKI:
    """One set of CAs shared by every server of a test cluster (what bootstrap data distributes)."""

    def __init__(self):
        self.server_ca = make_ca("etcd-server-ca@1")
        self.peer_ca = make_ca("etcd-peer-ca@1")
        self.cluster_ca = make_ca("k3s-server-ca@1")

    def install(self, tls_dir: str) -> None:
        """Write tls/etcd/* and tls/server-ca.crt + a supervisor serving cert (tls/serving-test.*)."""
        etcd_dir = os.path.join(tls_dir, "etcd")
        os.makedirs(etcd_dir, mode=0o700, exist_ok=True)
        _write(os.path.join(etcd_dir, "server-ca"), *self.server_ca)
        _write(os.path.join(etcd_dir, "peer-ca"), *self.peer_ca)
        _write(os.path.join(etcd_dir, "server-client"), *make_leaf(self.server_ca, "etcd-server", True, True))
        _write(os.path.join(etcd_dir, "peer-server-client"), *make_leaf(self.peer_ca, "etcd-peer", True, True))
        _write(os.path.join(etcd_dir, "client"), *make_leaf(self.server_ca, "etcd-client", False, True))
        _write(os.path.join(tls_dir, "server-ca"), *self.cluster_ca)
        _write(os.path.join(tls_dir, "serving-test"), *make_leaf(self.cluster_ca, "k3s", True, False))
