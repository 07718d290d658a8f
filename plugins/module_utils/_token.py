# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""k3s join tokens: parsing, formatting, CA hashing and validation against a server's /cacerts.

Behaviour follows k3s (pkg/clientaccess/token.go): a token is either the full form
``K10<sha256 of the cluster CA>::<credentials>`` or a short form (a bare password or a bootstrap token).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import tempfile
import traceback

from ansible.module_utils.urls import open_url

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised only on hosts without cryptography
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

TOKEN_PREFIX = "K10"  # noqa: S105 - a format prefix, not a secret
CA_HASH_LENGTH = 64
HTTP_TIMEOUT = 10

_BOOTSTRAP_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_PEM_CERT_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----",
    re.DOTALL,
)

MSG_EMPTY = "token must not be empty"
MSG_HASH_LENGTH = "invalid token CA hash length"
MSG_FORMAT = "invalid token format"
MSG_HASH_MISMATCH = "token CA hash does not match the Cluster CA certificate hash: {0} != {1}"
MSG_CA_VALIDATION = "CA cert validation failed"
MSG_HOST_TRUSTED = "Cluster CA certificate is trusted by the host CA bundle. Token CA hash will not be validated."
MSG_NO_HASH = (
    "Cluster CA certificate is not trusted by the host CA bundle, but the token does not include a CA hash. "
    "Use the full token from the server's node-token file to enable Cluster CA validation."
)


class TokenError(Exception):
    """A token or CA problem, with a message worded like k3s's.

    ``reason`` tells callers what kind of problem it is: ``unreachable`` (the server could not be asked, so an
    existing token may still be right), ``missing`` (no token file) or ``invalid`` (the token or the CA is wrong).
    """

    def __init__(self, message, reason="invalid"):
        super().__init__(message)
        self.reason = reason


class Token:
    """A parsed k3s token.

    ``kind`` is ``full`` (``K10`` prefix), ``short`` (bare password) or ``bootstrap`` (short bootstrap token).
    ``credential_type`` is ``password`` or ``bootstrap``.
    """

    def __init__(self, kind, ca_hash, username=None, password=None, bootstrap_id=None, bootstrap_secret=None):
        self.kind = kind
        self.ca_hash = ca_hash
        self.username = username
        self.password = password
        self.bootstrap_id = bootstrap_id
        self.bootstrap_secret = bootstrap_secret

    @property
    def credential_type(self):
        return "bootstrap" if self.bootstrap_id is not None else "password"

    @property
    def credentials(self):
        """The credential part as it appears after ``::`` (a secret)."""
        if self.bootstrap_id is not None:
            return "%s.%s" % (self.bootstrap_id, self.bootstrap_secret)
        return "%s:%s" % (self.username or "", self.password)

    def __repr__(self):
        # Never show the secret part.
        return "Token(kind=%r, ca_hash=%r, credential_type=%r, username=%r)" % (
            self.kind,
            self.ca_hash,
            self.credential_type,
            self.username,
        )


def _parse_bootstrap(text):
    match = _BOOTSTRAP_RE.match(text)
    if match:
        return match.group(1), match.group(2)
    return None


def parse_token(text):
    """Parse a k3s token string; raise TokenError with k3s's wording on malformed input."""
    if text is None or len(text) == 0:
        raise TokenError(MSG_EMPTY)

    if not text.startswith(TOKEN_PREFIX):
        bootstrap = _parse_bootstrap(text)
        if bootstrap:
            return Token("bootstrap", "", bootstrap_id=bootstrap[0], bootstrap_secret=bootstrap[1])
        # The whole string is the password (colons allowed), no username and no CA hash.
        return Token("short", "", username="", password=text)

    rest = text[len(TOKEN_PREFIX) :]
    ca_hash = ""
    parts = rest.split("::", 1)
    creds = parts[0]
    if len(parts) > 1:
        if len(parts[0]) not in (0, CA_HASH_LENGTH):
            raise TokenError(MSG_HASH_LENGTH)
        ca_hash = parts[0]
        creds = parts[1]

    bootstrap = _parse_bootstrap(creds)
    if bootstrap:
        return Token("full", ca_hash, bootstrap_id=bootstrap[0], bootstrap_secret=bootstrap[1])

    user_pass = creds.split(":", 1)
    if len(user_pass) != 2 or len(user_pass[1]) == 0:
        raise TokenError(MSG_FORMAT)
    return Token("full", ca_hash, username=user_pass[0], password=user_pass[1])


def format_token(ca_hash, token, username=None):
    """Build the full ``K10<hash>::<creds>`` form from a CA hash and a parsed token.

    ``username`` replaces an empty username of a password token (k3s writes ``server`` or ``node``).
    """
    if len(ca_hash) != CA_HASH_LENGTH:
        raise TokenError(MSG_HASH_LENGTH)
    if token.credential_type == "bootstrap":
        creds = token.credentials
    else:
        creds = "%s:%s" % (token.username or username or "", token.password)
    return "%s%s::%s" % (TOKEN_PREFIX, ca_hash, creds)


def split_pem_certificates(data):
    """Return the PEM certificate blocks (bytes) found in a bundle, in order."""
    return _PEM_CERT_RE.findall(data)


def _sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _validity(cert):
    before = getattr(cert, "not_valid_before_utc", None)
    after = getattr(cert, "not_valid_after_utc", None)
    if before is None:  # cryptography < 42 returns naive UTC datetimes
        before = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
        after = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return before, after


# -- hashCA: the chain check of Go's crypto/x509 that k3s relies on (pkg/clientaccess/token.go) -------------------
#
# The certificates after the first go into a roots pool (no AuthorityKeyId, or AuthorityKeyId == SubjectKeyId,
# self-signed or not) or an intermediates pool; the first certificate is verified with the default key usage
# ServerAuth. Parents are found by exact subject bytes (key-id matches first), roots before intermediates; a signer
# must be a CA allowed to sign certificates, every certificate must be valid now, allow ServerAuth (or any usage),
# respect path lengths and have no unhandled critical extension; SHA-1/MD5 signatures, DSA and RSA keys under 1024
# bits are refused. Not modelled: name constraints.

_INSECURE_HASHES = ("md5", "sha1", "md2")
_PSS_OID = "1.2.840.113549.1.1.10"
_MAX_SIGNATURE_CHECKS = 100


def _ext(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _ski(cert):
    ski = _ext(cert, x509.SubjectKeyIdentifier)
    return ski.digest if ski is not None else b""


def _aki(cert):
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    return (aki.key_identifier or b"") if aki is not None else b""


def _parents(pool, child):
    """findPotentialParents: same subject as the child's issuer; key-id match, then one key id, then the rest."""
    aki = _aki(child)
    exact, one, other = [], [], []
    for cand in pool:
        if cand.subject.public_bytes() != child.issuer.public_bytes():
            continue
        ski = _ski(cand)
        if ski == aki:
            exact.append(cand)
        elif bool(ski) != bool(aki):
            one.append(cand)
        else:
            other.append(cand)
    return exact + one + other


def _may_sign_certificates(cert):
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
    return ku.key_cert_sign or not any(bits)  # an empty KeyUsage counts as absent in Go


def _signature_ok(child, parent):
    try:
        hash_alg = child.signature_hash_algorithm
        key = parent.public_key()
    except Exception:  # noqa: BLE001 - an algorithm this cryptography (or Go) does not support
        return False
    if hash_alg is not None and hash_alg.name in _INSECURE_HASHES:
        return False
    data, sig = child.tbs_certificate_bytes, child.signature
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 1024:
                return False
            if child.signature_algorithm_oid.dotted_string == _PSS_OID:
                pad = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
            else:
                pad = padding.PKCS1v15()
            key.verify(sig, data, pad, hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(hash_alg))
        elif isinstance(key, dsa.DSAPublicKey):
            return False
        else:  # Ed25519 / Ed448
            key.verify(sig, data)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def _check_signature_from(child, parent):
    """CheckSignatureFrom: the parent must be a CA (v3 without BasicConstraints is not) allowed to sign certs."""
    bc = _ext(parent, x509.BasicConstraints)
    if (parent.version == x509.Version.v3 and bc is None) or (bc is not None and not bc.ca):
        return False
    return _may_sign_certificates(parent) and _signature_ok(child, parent)


def _server_auth_allowed(cert):
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is None or len(eku) == 0:
        return True
    wanted = (x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)
    return any(usage in wanted for usage in eku)


def _is_valid(cert, kind, chain, now):
    """isValid of a leaf / intermediate / root candidate appended to ``chain``."""
    if any(ext.critical and isinstance(ext.value, x509.UnrecognizedExtension) for ext in cert.extensions):
        return False
    if chain and chain[-1].issuer.public_bytes() != cert.subject.public_bytes():
        return False
    before, after = _validity(cert)
    if now < before or now > after or not _server_auth_allowed(cert):
        return False
    bc = _ext(cert, x509.BasicConstraints)
    if kind == "intermediate" and (bc is None or not bc.ca):
        return False
    return not (bc is not None and bc.path_length is not None and len(chain) - 1 > bc.path_length)


def _same_identity(a, b):
    """alreadyInChain: same subject bytes, public key and SubjectAltName (both absent counts as equal)."""
    if a.subject.public_bytes() != b.subject.public_bytes():
        return False
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        if a.public_key().public_bytes(*fmt) != b.public_key().public_bytes(*fmt):
            return False
    except Exception:  # noqa: BLE001 - unsupported key types are simply not equal
        return False
    san_a, san_b = _ext(a, x509.SubjectAlternativeName), _ext(b, x509.SubjectAlternativeName)
    if san_a is None or san_b is None:
        return san_a is None and san_b is None
    return san_a == san_b


def _build_chains(cert, chain, roots, intermediates, now, budget):
    chains = []
    for kind, pool in (("root", roots), ("intermediate", intermediates)):
        for cand in _parents(pool, cert):
            if any(_same_identity(cand, c) for c in chain):
                continue
            budget[0] += 1
            if budget[0] > _MAX_SIGNATURE_CHECKS:
                return chains
            if not _check_signature_from(cert, cand) or not _is_valid(cand, kind, chain, now):
                continue
            if kind == "root":
                chains.append(chain + [cand])
            else:
                chains.extend(_build_chains(cand, chain + [cand], roots, intermediates, now, budget))
    return chains


def _dedup(certs):
    seen, out = set(), []
    for cert in certs:
        der = _der(cert)
        if der not in seen:
            seen.add(der)
            out.append(cert)
    return out


def verified_root(certs, now=None):
    """The last certificate of the first chain x509.Verify finds for ``certs[0]``, or None."""
    now = now or _utcnow()
    roots, intermediates = [], []
    for cert in certs[1:]:
        aki = _aki(cert)
        (roots if not aki or aki == _ski(cert) else intermediates).append(cert)
    roots, intermediates = _dedup(roots), _dedup(intermediates)
    leaf = certs[0]
    if not _is_valid(leaf, "leaf", [], now):
        return None
    if any(_der(r) == _der(leaf) for r in roots):
        return leaf
    chains = _build_chains(leaf, [leaf], roots, intermediates, now, [0])
    return chains[0][-1] if chains else None


def ca_hash(bundle):
    """SHA-256 (hex) of a CA bundle exactly as k3s's hashCA computes the token CA hash.

    One certificate: hash of the raw bytes. Several: the first certificate is verified against the others the way
    Go's x509.Verify does; on success the DER of the root its first chain ends at is hashed, otherwise the raw bytes.
    A bundle of several certificates needs ``cryptography`` (without it the hash cannot be computed like k3s).
    Returns ``(hash, method)`` with method ``raw`` or ``root-der``.
    """
    if isinstance(bundle, str):
        bundle = bundle.encode("utf-8")
    blocks = split_pem_certificates(bundle)
    if not blocks:
        raise TokenError("no certificates found in the CA bundle")
    if len(blocks) == 1:
        return _sha256_hex(bundle), "raw"
    if not HAS_CRYPTOGRAPHY:
        raise TokenError(
            "the CA bundle holds %d certificates; hashing it like k3s needs the Python cryptography library"
            % len(blocks)
        )
    try:
        certs = [x509.load_pem_x509_certificate(block) for block in blocks]
        root = verified_root(certs)
    except ValueError as exc:
        raise TokenError("failed to parse the CA bundle: %s" % exc) from exc
    if root is None:
        return _sha256_hex(bundle), "raw"
    return _sha256_hex(_der(root)), "root-der"


def normalize_url(url):
    """k3s accepts only https:// server URLs and strips trailing slashes."""
    if not url or not url.startswith("https://"):
        raise TokenError("only https:// URLs are supported, invalid scheme: %s" % url)
    return url.rstrip("/")


def _read(response):
    try:
        return response.read()
    finally:
        response.close()


class CAValidation:
    """Outcome of :func:`fetch_and_verify_cacerts`."""

    def __init__(self, bundle, server_hash, host_trusted, warnings):
        self.bundle = bundle
        self.server_hash = server_hash
        self.host_trusted = host_trusted
        self.warnings = warnings


def fetch_and_verify_cacerts(server_url, token_hash="", timeout=HTTP_TIMEOUT, check_host_trust=True, opener=None):
    """Validate a server's CA the way a joining k3s node does, before any credential is sent.

    1. GET ``/cacerts`` trusting the host CA bundle; success means the CA is publicly trusted and the token hash
       is not validated (k3s warns and carries on).
    2. Otherwise GET ``/cacerts`` without verification, then again trusting only the downloaded bundle
       (``CA cert validation failed`` if the server certificate does not chain to it, or names another host).
    3. Compare the token hash, when the token has one, with the bundle's hash.

    Returns a :class:`CAValidation`; raises :class:`TokenError` on any failure.
    """
    opener = opener or open_url
    url = normalize_url(server_url) + "/cacerts"
    warnings = []

    if check_host_trust:
        try:
            bundle = _read(opener(url, method="GET", timeout=timeout, validate_certs=True))
        except Exception:  # noqa: BLE001 - any failure means "not trusted by the host bundle", as in k3s
            bundle = None
        if bundle is not None:
            if token_hash:
                warnings.append(MSG_HOST_TRUSTED)
            return CAValidation(bundle, ca_hash(bundle)[0], True, warnings)

    try:
        bundle = _read(opener(url, method="GET", timeout=timeout, validate_certs=False))
    except Exception as exc:  # noqa: BLE001 - network errors become one clear message
        raise TokenError("failed to get CA certs from %s: %s" % (url, exc), reason="unreachable") from exc

    tmpdir = tempfile.mkdtemp(prefix="k3s-cacerts-")
    try:
        ca_file = os.path.join(tmpdir, "cacerts.pem")
        fd = os.open(ca_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bundle)
        try:
            _read(opener(url, method="GET", timeout=timeout, validate_certs=True, ca_path=ca_file))
        except Exception as exc:  # noqa: BLE001
            raise TokenError("%s: %s" % (MSG_CA_VALIDATION, exc)) from exc
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    server_hash = ca_hash(bundle)[0]
    if token_hash:
        if token_hash != server_hash:
            raise TokenError(MSG_HASH_MISMATCH.format(token_hash, server_hash))
    else:
        warnings.append(MSG_NO_HASH)
    return CAValidation(bundle, server_hash, False, warnings)
