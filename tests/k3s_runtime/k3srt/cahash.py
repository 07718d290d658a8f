"""The token CA hash as k3s computes it (pkg/clientaccess/token.go hashCA), with the chain check of Go's
crypto/x509 that it relies on for bundles of several certificates.

hashCA: the bundle is parsed like certutil.ParseCertsPEM (CERTIFICATE blocks without headers; none → error).
One certificate: SHA-256 of the raw bytes. More: the certificates after the first go into a roots pool (no
AuthorityKeyId, or AuthorityKeyId == SubjectKeyId) or an intermediates pool, and the first certificate is verified
with x509.Verify (default key usage ServerAuth); on success the DER of the last certificate of the first chain is
hashed, otherwise the raw bytes. The chain building below follows Go's buildChains/isValid/CheckSignatureFrom:
parents by exact subject bytes (key-id matches first), roots before intermediates, cycle check by subject + public
key + SAN, CA and keyCertSign required of a signer, validity period, path length, extended key usage, no unhandled
critical extension, no SHA-1/MD5 signature, no RSA key under 1024 bits. Not modelled: name constraints.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

_BLOCK = re.compile(rb"-----BEGIN ([^\r\n]*?)-----\r?\n(.*?)-----END \1-----", re.S)
_INSECURE_HASHES = ("md5", "sha1", "md2")
_MAX_SIGNATURE_CHECKS = 100
_PSS_OID = "1.2.840.113549.1.1.10"


class CAHashError(ValueError):
    """The bundle holds no certificate, or one that does not parse (k3s: hashCA returns an error)."""


def pem_certificates(data: bytes) -> list[bytes]:
    """DER of each PEM CERTIFICATE block without headers, in order (certutil.ParseCertsPEM skips the others)."""
    out = []
    for kind, body in _BLOCK.findall(data):
        lines = body.splitlines()
        if lines and b":" in lines[0]:
            continue  # a block with headers
        try:
            der = base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
        except (binascii.Error, ValueError):
            continue  # pem.Decode rejects the block and scans on
        if kind == b"CERTIFICATE":
            out.append(der)
    return out


def _ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension; Go would refuse the certificate at parse time
        raise CAHashError("x509: malformed certificate extension") from None


def _der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _subject(cert) -> bytes:
    return cert.subject.public_bytes()


def _issuer(cert) -> bytes:
    return cert.issuer.public_bytes()


def _ski(cert) -> bytes:
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    return ski.digest if ski is not None else b""


def _aki(cert) -> bytes:
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    return (aki.key_identifier or b"") if aki is not None else b""


def _validity(cert):
    before = getattr(cert, "not_valid_before_utc", None)
    if before is not None:
        return before, cert.not_valid_after_utc
    utc = datetime.timezone.utc  # cryptography < 42: naive UTC datetimes
    return cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc)


class _Pool:
    """x509.CertPool: deduplicated by content, candidates looked up by raw subject."""

    def __init__(self):
        self.certs: list = []
        self._seen: set[bytes] = set()

    def add(self, cert) -> None:
        der = _der(cert)
        if der not in self._seen:
            self._seen.add(der)
            self.certs.append(cert)

    def contains(self, cert) -> bool:
        return _der(cert) in self._seen

    def parents(self, child) -> list:
        """findPotentialParents: same subject as the child's issuer; key-id match, then one key id, then others."""
        aki = _aki(child)
        exact, one, other = [], [], []
        for cand in self.certs:
            if _subject(cand) != _issuer(child):
                continue
            ski = _ski(cand)
            if ski == aki:
                exact.append(cand)
            elif bool(ski) != bool(aki):
                one.append(cand)
            else:
                other.append(cand)
        return exact + one + other


def _key_usage_allows_cert_sign(cert) -> bool:
    ku = _ext(cert, x509.KeyUsage)
    if ku is None:
        return True
    bits = [
        ku.digital_signature,
        ku.content_commitment,
        ku.key_encipherment,
        ku.data_encipherment,
        ku.key_agreement,
        ku.key_cert_sign,
        ku.crl_sign,
    ]
    if ku.key_agreement:
        bits += [ku.encipher_only, ku.decipher_only]
    return ku.key_cert_sign or not any(bits)  # KeyUsage == 0 counts as absent in Go


def _signature_ok(child, parent) -> bool:
    """parent.CheckSignature(child.SignatureAlgorithm, …) without SHA-1/MD5, DSA or RSA keys under 1024 bits."""
    try:
        hash_alg = child.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    if hash_alg is not None and hash_alg.name in _INSECURE_HASHES:
        return False
    try:
        key = parent.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return False
    data, sig = child.tbs_certificate_bytes, child.signature
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 1024:
                return False
            if child.signature_algorithm_oid.dotted_string == _PSS_OID:
                pss = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
                key.verify(sig, data, pss, hash_alg)
            else:
                key.verify(sig, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey):
            return False
        else:  # Ed25519 / Ed448
            key.verify(sig, data)
    except (InvalidSignature, TypeError, ValueError, UnsupportedAlgorithm):
        return False
    return True


def _check_signature_from(child, parent) -> bool:
    bc = _ext(parent, x509.BasicConstraints)
    if (parent.version == x509.Version.v3 and bc is None) or (bc is not None and not bc.ca):
        return False
    if not _key_usage_allows_cert_sign(parent):
        return False
    return _signature_ok(child, parent)


def _eku_allows_server_auth(cert) -> bool:
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None or len(eku) == 0:
        return True
    wanted = {x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    return any(usage in wanted for usage in eku)


def _unhandled_critical(cert) -> bool:
    return any(ext.critical and isinstance(ext.value, x509.UnrecognizedExtension) for ext in cert.extensions)


def _is_valid(cert, kind: str, chain: list, now) -> bool:
    """isValid for a leaf / intermediate / root candidate appended to ``chain``."""
    if _unhandled_critical(cert):
        return False
    if chain and _issuer(chain[-1]) != _subject(cert):
        return False
    before, after = _validity(cert)
    if now < before or now > after:
        return False
    if not _eku_allows_server_auth(cert):
        return False
    bc = _ext(cert, x509.BasicConstraints)
    if kind == "intermediate" and (bc is None or not bc.ca):
        return False
    return not (bc is not None and bc.path_length is not None and len(chain) - 1 > bc.path_length)


def _same_identity(a, b) -> bool:
    """alreadyInChain: equal subject bytes, public key and SAN extension (both absent counts as equal)."""
    if _subject(a) != _subject(b):
        return False
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        if a.public_key().public_bytes(*fmt) != b.public_key().public_bytes(*fmt):
            return False
    except (UnsupportedAlgorithm, ValueError):
        return False
    san_a, san_b = _ext(a, x509.SubjectAlternativeName), _ext(b, x509.SubjectAlternativeName)
    if san_a is None or san_b is None:
        return san_a is None and san_b is None
    return san_a == san_b


def _build(cert, chain: list, roots: _Pool, inters: _Pool, now, budget: list) -> list:
    chains = []
    for kind, pool in (("root", roots), ("intermediate", inters)):
        for cand in pool.parents(cert):
            if any(_same_identity(cand, c) for c in chain):
                continue
            budget[0] += 1
            if budget[0] > _MAX_SIGNATURE_CHECKS:
                return chains
            if not _check_signature_from(cert, cand) or not _is_valid(cand, kind, chain, now):
                continue
            if kind == "root":
                chains.append([*chain, cand])
            else:
                chains += _build(cand, [*chain, cand], roots, inters, now, budget)
    return chains


def verified_root(certs: list, now=None):
    """The last certificate of the first chain x509.Verify finds for certs[0], or None when it does not verify."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    roots, inters = _Pool(), _Pool()
    for cert in certs[1:]:
        aki = _aki(cert)
        (roots if not aki or aki == _ski(cert) else inters).add(cert)
    leaf = certs[0]
    if not _is_valid(leaf, "leaf", [], now):
        return None
    if roots.contains(leaf):
        return leaf
    chains = _build(leaf, [leaf], roots, inters, now, [0])
    return chains[0][-1] if chains else None


def ca_hash(bundle: bytes, now=None) -> str:
    """hashCA: hex SHA-256 of the raw bundle, or of the verified root's DER for a bundle of several certificates."""
    ders = pem_certificates(bundle)
    if not ders:
        raise CAHashError("data does not contain any valid RSA or ECDSA certificates")
    try:
        certs = [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise CAHashError(f"x509: {exc}") from None
    if len(certs) > 1:
        root = verified_root(certs, now)
        if root is not None:
            return hashlib.sha256(_der(root)).hexdigest()
    return hashlib.sha256(bundle).hexdigest()
