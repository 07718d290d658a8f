"""The stand-in's token parser and CA hash (k3srt.tokens, k3srt.cahash) against k3s's rules, case by case.

In-process tests of the stand-in's Python code (hence `standin`); the same rules are checked on running processes in
test_token_contract.py. Sources: pkg/clientaccess/token.go (parseToken, hashCA), pkg/util/token.go (NormalizeToken),
pkg/passwd/passwd.go (EnsureUser), Go crypto/x509 verify.go (the chain check hashCA relies on)."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from core_helpers import make_ca
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from k3srt import cahash, tokens

H = "a" * 64


def test_full_token_parse_keeps_colons_in_the_password():
    """parseToken: SplitN(creds, ":", 2) — everything after the first colon is the password."""
    tok = tokens.parse(f"K10{H}::server:pa:ss")
    assert (tok.ca_hash, tok.username, tok.password, tok.bootstrap) == (H, "server", "pa:ss", False)


def test_upper_case_hash_is_kept_as_given():
    """parseToken stores the hash part unchanged; validateCACerts compares strings, so case matters."""
    tok = tokens.parse("K10" + "A" * 64 + "::node:x")
    assert tok.ca_hash == "A" * 64
    assert tokens.hash_matches(b"not a bundle", "A" * 64) == (False, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K10user:pw", ("", "user", "pw", False)),  # no "::": credentials only, no hash
        (f"K10{H}::user:pw", (H, "user", "pw", False)),
        ("K10::user:pw", ("", "user", "pw", False)),
        ("K10abcdef.0123456789abcdef", ("", "", "abcdef.0123456789abcdef", True)),
        (f"K10{H}::abcdef.0123456789abcdef", (H, "", "abcdef.0123456789abcdef", True)),
        ("abcdef.0123456789abcdef", ("", "", "abcdef.0123456789abcdef", True)),
        ("just-a-password", ("", "", "just-a-password", False)),
        ("pass:with:colons", ("", "", "pass:with:colons", False)),
        (" spaced ", ("", "", " spaced ", False)),  # a --token value is used as given
    ],
)
def test_token_forms(text, expected):
    tok = tokens.parse(text)
    assert (tok.ca_hash, tok.username, tok.password, tok.bootstrap) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "token must not be empty"),
        ("K10abc::server:x", "invalid token CA hash length"),
        ("K10" + "a" * 64 + "::server:", "invalid token format"),
        ("K10nocolon", "invalid token format"),
    ],
)
def test_bad_tokens(text, message):
    with pytest.raises(tokens.TokenError, match=message):
        tokens.parse(text)


def test_normalize_server_token_refuses_bootstrap_tokens():
    assert tokens.normalize_server_token("K10" + "b" * 64 + "::server:secret") == "secret"
    assert tokens.normalize_server_token("plain") == "plain"
    for bad in ("abcdef.0123456789abcdef", "K10" + "b" * 64 + "::abcdef.0123456789abcdef", ""):
        with pytest.raises(tokens.TokenError, match="failed to normalize server token"):
            tokens.normalize_server_token(bad)


def test_passwd_value_strips_only_the_own_users_prefix():
    assert tokens.passwd_value(f"K10{H}::server:pw", "server") == "pw"
    assert tokens.passwd_value(f"K10{H}::node:pw", "server") == f"K10{H}::node:pw"
    assert tokens.passwd_value("pw", "node") == "pw"


def test_token_file_wins_and_is_trimmed(tmp_path):
    path = tmp_path / "t"
    path.write_text("  from-file\n")
    assert tokens.read_token_value({"token": "flag", "token-file": str(path)}) == "from-file"
    assert tokens.read_token_value({"token": " flag ", "token-file": None}) == " flag "


# -- hashCA -----------------------------------------------------------------------------------------------------


def _leaf(cn, issuer, eku=None, ca=False, days=30, start=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = start or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_single_certificate_hashes_the_file_bytes():
    root = make_ca("k3s-server-ca")
    assert tokens.ca_hash(root.pem) == sha(root.pem)
    assert tokens.ca_hash(root.pem + b"\n# comment\n") == sha(root.pem + b"\n# comment\n")


def test_intermediate_then_root_hashes_the_root_der():
    root = make_ca("root")
    inter = make_ca("intermediate", issuer=root)
    assert tokens.ca_hash(inter.pem + root.pem) == sha(root.der)


def test_three_levels_in_any_order_after_the_first():
    root = make_ca("root")
    mid = make_ca("mid", issuer=root)
    low = make_ca("low", issuer=mid)
    assert tokens.ca_hash(low.pem + mid.pem + root.pem) == sha(root.der)
    assert tokens.ca_hash(low.pem + root.pem + mid.pem) == sha(root.der)


def test_root_first_does_not_verify_and_hashes_raw():
    root = make_ca("root")
    inter = make_ca("intermediate", issuer=root)
    bundle = root.pem + inter.pem
    assert tokens.ca_hash(bundle) == sha(bundle)


def test_two_roots_hash_raw():
    bundle = make_ca("root-a").pem + make_ca("root-b").pem
    assert tokens.ca_hash(bundle) == sha(bundle)


def test_the_same_root_twice_hashes_its_der():
    """x509.Verify returns the chain [c] at once when the roots pool contains the certificate itself."""
    root = make_ca("root")
    assert tokens.ca_hash(root.pem + root.pem) == sha(root.der)


def test_chain_ends_at_the_first_roots_pool_certificate():
    """Certificates without AuthorityKeyId go to the roots pool, self-signed or not: the chain stops there."""
    root = make_ca("root")
    mid = make_ca("mid", issuer=root)
    mid_no_aki = x509.load_pem_x509_certificate(mid.pem)
    builder = (
        x509.CertificateBuilder()
        .subject_name(mid_no_aki.subject)
        .issuer_name(root.cert.subject)
        .public_key(mid.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(mid_no_aki.not_valid_before_utc)
        .not_valid_after(mid_no_aki.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    mid_plain = builder.sign(root.key, hashes.SHA256())
    mid_plain_pem = mid_plain.public_bytes(serialization.Encoding.PEM)
    low = make_ca("low", issuer=mid)
    assert tokens.ca_hash(low.pem + mid_plain_pem + root.pem) == sha(mid_plain.public_bytes(serialization.Encoding.DER))


def test_first_certificate_without_server_auth_usage_hashes_raw():
    """Verify's default key usage is ServerAuth: a first certificate restricted to clientAuth does not verify."""
    root = make_ca("root")
    pem, _ = _leaf("client-only", root, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    assert tokens.ca_hash(pem + root.pem) == sha(pem + root.pem)
    pem2, _ = _leaf("server", root, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    assert tokens.ca_hash(pem2 + root.pem) == sha(root.der)


def test_expired_first_certificate_hashes_raw():
    root = make_ca("root")
    long_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)
    pem, _ = _leaf("old", root, ca=True, days=10, start=long_ago)
    assert tokens.ca_hash(pem + root.pem) == sha(pem + root.pem)


def test_non_ca_parent_breaks_the_chain():
    root = make_ca("root")
    not_ca_pem, _ = _leaf("not-a-ca", root)
    bundle = make_ca("child", issuer=root).pem + not_ca_pem
    assert tokens.ca_hash(bundle) == sha(bundle)


def test_renewed_root_with_same_key_and_subject_is_not_a_parent_of_itself():
    """alreadyInChain: same subject, public key and SAN count as the same certificate, so no chain is found."""
    root = make_ca("root")
    now = datetime.datetime.now(datetime.timezone.utc)
    renewed = (
        x509.CertificateBuilder()
        .subject_name(root.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(root.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    bundle = renewed.public_bytes(serialization.Encoding.PEM) + root.pem
    assert tokens.ca_hash(bundle) == sha(bundle)


def test_bundle_without_certificates_is_an_error():
    with pytest.raises(tokens.TokenError, match="does not contain any valid"):
        tokens.ca_hash(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert cahash.pem_certificates(b"garbage") == []
