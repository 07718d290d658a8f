# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import hashlib
import io
import os
import socket
import stat

import pytest
from ansible.module_utils.urls import open_url
from ansible_collections.edgefleet.k3s.plugins.module_utils import _token
from ansible_collections.edgefleet.k3s.plugins.module_utils._token import (
    TokenError,
    ca_hash,
    fetch_and_verify_cacerts,
    format_token,
    parse_token,
)

HASH = "0123456789abcdef" * 4
PW = "s3cr3t-password"


# -- parsing -------------------------------------------------------------------------------------------


def test_full_password_token():
    token = parse_token("K10%s::server:%s" % (HASH, PW))
    assert (token.kind, token.ca_hash, token.username, token.password) == ("full", HASH, "server", PW)
    assert token.credential_type == "password"


def test_full_token_password_may_contain_colons():
    token = parse_token("K10%s::node:a:b:c" % HASH)
    assert (token.username, token.password) == ("node", "a:b:c")


def test_full_token_with_empty_hash():
    token = parse_token("K10::server:%s" % PW)
    assert token.kind == "full"
    assert token.ca_hash == ""
    assert token.password == PW


def test_full_bootstrap_token():
    token = parse_token("K10%s::abcdef.0123456789abcdef" % HASH)
    assert token.kind == "full"
    assert token.credential_type == "bootstrap"
    assert (token.bootstrap_id, token.bootstrap_secret) == ("abcdef", "0123456789abcdef")
    assert token.username is None and token.password is None


def test_short_password_token_keeps_colons():
    token = parse_token("my:short:token")
    assert (token.kind, token.ca_hash, token.username, token.password) == ("short", "", "", "my:short:token")


def test_short_bootstrap_token():
    token = parse_token("abcdef.0123456789abcdef")
    assert token.kind == "bootstrap"
    assert token.credential_type == "bootstrap"
    assert token.credentials == "abcdef.0123456789abcdef"


@pytest.mark.parametrize(
    "text",
    ["ABCDEF.0123456789abcdef", "abcdef.0123456789abcde", "abcde.0123456789abcdef", "abcdef-0123456789abcdef"],
)
def test_not_quite_bootstrap_is_a_password(text):
    token = parse_token(text)
    assert token.kind == "short"
    assert token.password == text


def test_k10_without_separator_is_credentials_only():
    token = parse_token("K10user:pw")
    assert (token.ca_hash, token.username, token.password) == ("", "user", "pw")


@pytest.mark.parametrize("text", ["", None])
def test_empty_token(text):
    with pytest.raises(TokenError, match="^token must not be empty$"):
        parse_token(text)


@pytest.mark.parametrize("bad_hash", ["abc", HASH + "0", HASH[:-1]])
def test_bad_hash_length(bad_hash):
    with pytest.raises(TokenError, match="^invalid token CA hash length$"):
        parse_token("K10%s::server:%s" % (bad_hash, PW))


@pytest.mark.parametrize(
    "text",
    ["K10%s::nopassword" % HASH, "K10%s::server:" % HASH, "K10%s::" % HASH, "K10", "K10nocolon"],
)
def test_bad_credentials(text):
    with pytest.raises(TokenError, match="^invalid token format$"):
        parse_token(text)


def test_repr_hides_secret():
    assert PW not in repr(parse_token("K10%s::server:%s" % (HASH, PW)))
    assert "0123456789abcdef" not in repr(parse_token("abcdef.0123456789abcdef"))


# -- formatting ------------------------------------------------------------------------------------------


def test_format_roundtrip():
    text = "K10%s::server:%s" % (HASH, PW)
    assert format_token(HASH, parse_token(text)) == text


def test_format_short_password_gets_default_user():
    assert format_token(HASH, parse_token(PW), "node") == "K10%s::node:%s" % (HASH, PW)


def test_format_keeps_explicit_user():
    assert format_token(HASH, parse_token("K10::custom:" + PW), "node") == "K10%s::custom:%s" % (HASH, PW)


def test_format_bootstrap():
    assert format_token(HASH, parse_token("abcdef.0123456789abcdef"), "server") == (
        "K10%s::abcdef.0123456789abcdef" % HASH
    )


def test_format_rejects_bad_hash():
    with pytest.raises(TokenError, match="invalid token CA hash length"):
        format_token("abc", parse_token(PW))


# -- CA hash ---------------------------------------------------------------------------------------------


def test_single_cert_hash_is_raw_bytes(pki):
    bundle = pki.ca.pem
    assert bundle.endswith(b"\n")
    assert ca_hash(bundle) == (hashlib.sha256(bundle).hexdigest(), "raw")
    # Raw bytes: the trailing newline matters, exactly as in k3s.
    assert ca_hash(bundle.rstrip(b"\n"))[0] != ca_hash(bundle)[0]
    assert ca_hash(bundle.decode())[0] == ca_hash(bundle)[0]


def test_chain_hash_is_root_der(cert_factory):
    root = cert_factory("root-ca", ca=True)
    intermediate = cert_factory("intermediate-ca", issuer=root, ca=True)
    bundle = intermediate.pem + root.pem
    assert ca_hash(bundle) == (hashlib.sha256(root.der).hexdigest(), "root-der")
    assert ca_hash(bundle)[0] != hashlib.sha256(bundle).hexdigest()


def test_chain_hash_survives_intermediate_renewal(cert_factory):
    root = cert_factory("root-ca", ca=True)
    first = cert_factory("intermediate-ca", issuer=root, ca=True)
    renewed = cert_factory("intermediate-ca", issuer=root, ca=True)
    assert ca_hash(first.pem + root.pem)[0] == ca_hash(renewed.pem + root.pem)[0]


def test_three_level_chain_in_any_order(cert_factory):
    root = cert_factory("root-ca", ca=True)
    mid = cert_factory("mid-ca", issuer=root, ca=True)
    low = cert_factory("low-ca", issuer=mid, ca=True)
    expected = hashlib.sha256(root.der).hexdigest()
    assert ca_hash(low.pem + mid.pem + root.pem) == (expected, "root-der")
    assert ca_hash(low.pem + root.pem + mid.pem) == (expected, "root-der")


def test_unverifiable_chain_falls_back_to_raw(cert_factory):
    bundle = cert_factory("ca-one", ca=True).pem + cert_factory("ca-two", ca=True).pem
    assert ca_hash(bundle) == (hashlib.sha256(bundle).hexdigest(), "raw")


def test_expired_root_falls_back_to_raw(cert_factory):
    long_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=100)
    root = cert_factory("old-root", ca=True, days=10, not_before=long_ago)
    intermediate = cert_factory("intermediate-ca", issuer=root, ca=True)
    bundle = intermediate.pem + root.pem
    assert ca_hash(bundle) == (hashlib.sha256(bundle).hexdigest(), "raw")


def test_non_ca_parent_is_not_accepted(cert_factory):
    root = cert_factory("root-ca", ca=True)
    not_a_ca = cert_factory("leafy", issuer=root)
    child = cert_factory("child", issuer=not_a_ca, ca=True)
    bundle = child.pem + not_a_ca.pem + root.pem
    assert ca_hash(bundle)[1] == "raw"


def test_several_certificates_without_cryptography_is_an_error(cert_factory, monkeypatch):
    """Without cryptography the k3s hash of a multi-certificate bundle cannot be computed: a clear error, never a
    raw-bytes hash that k3s would not produce."""
    root = cert_factory("root-ca", ca=True)
    bundle = cert_factory("intermediate-ca", issuer=root, ca=True).pem + root.pem
    monkeypatch.setattr(_token, "HAS_CRYPTOGRAPHY", False)
    with pytest.raises(TokenError, match="needs the Python cryptography library"):
        ca_hash(bundle)
    assert ca_hash(root.pem)[1] == "raw"  # one certificate needs no parsing


def test_signature_check(cert_factory):
    root = cert_factory("root-ca", ca=True)
    other = cert_factory("root-ca", ca=True)  # same name, different key
    child = cert_factory("child-ca", issuer=root, ca=True)
    assert _token._check_signature_from(child.cert, root.cert)
    assert not _token._check_signature_from(child.cert, other.cert)
    assert not _token._check_signature_from(child.cert, child.cert)


# Cases where Go's x509.Verify (and so k3s's hashCA, pkg/clientaccess/token.go) differs from a naive
# "find the self-signed root" walk.


def test_two_roots_hash_raw(cert_factory):
    """hashCA: the first of two unrelated roots does not verify against the second: raw bytes."""
    bundle = cert_factory("root-a", ca=True).pem + cert_factory("root-b", ca=True).pem
    assert ca_hash(bundle) == (hashlib.sha256(bundle).hexdigest(), "raw")


def test_same_root_twice_hashes_its_der(cert_factory):
    """x509.Verify returns [c] when the roots pool already contains the first certificate."""
    root = cert_factory("root-ca", ca=True)
    assert ca_hash(root.pem + root.pem) == (hashlib.sha256(root.der).hexdigest(), "root-der")


def test_first_certificate_limited_to_client_auth_hashes_raw(cert_factory):
    """Verify's default key usage is ServerAuth; a first certificate with only clientAuth does not verify."""
    root = cert_factory("root-ca", ca=True)
    client = cert_factory("client-only", issuer=root, client=True)
    assert ca_hash(client.pem + root.pem)[1] == "raw"
    server = cert_factory("server", issuer=root)
    assert ca_hash(server.pem + root.pem) == (hashlib.sha256(root.der).hexdigest(), "root-der")


def test_chain_stops_at_a_roots_pool_certificate_without_authority_key_id(cert_factory):
    """Certificates without AuthorityKeyId go to the roots pool even when not self-signed: the chain ends there."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    root = cert_factory("root-ca", ca=True)
    mid = cert_factory("mid-ca", issuer=root, ca=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    plain = (
        x509.CertificateBuilder()
        .subject_name(mid.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(mid.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    low = cert_factory("low-ca", issuer=mid, ca=True)
    bundle = low.pem + plain.public_bytes(serialization.Encoding.PEM) + root.pem
    expected = hashlib.sha256(plain.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert ca_hash(bundle) == (expected, "root-der")


def test_renewed_root_with_same_key_does_not_chain_to_itself(cert_factory):
    """alreadyInChain: same subject and public key count as the same certificate: no chain, raw bytes."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    root = cert_factory("root-ca", ca=True)
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
    assert ca_hash(bundle) == (hashlib.sha256(bundle).hexdigest(), "raw")


def test_upper_case_hash_is_kept_and_never_matches(pki):
    """parseToken keeps the hash as written; k3s compares it byte for byte with the served CA's hash."""
    upper = hashlib.sha256(pki.ca.pem).hexdigest().upper()
    assert parse_token("K10%s::node:pw" % upper).ca_hash == upper
    assert upper != ca_hash(pki.ca.pem)[0]


def test_no_certificates():
    with pytest.raises(TokenError, match="no certificates"):
        ca_hash(b"not a pem")


# -- /cacerts validation against a live HTTPS server ------------------------------------------------------


def _server_hash(pki):
    return hashlib.sha256(pki.ca.pem).hexdigest()


def test_validation_matches(pki, k3s_server):
    result = fetch_and_verify_cacerts(k3s_server.url + "/", _server_hash(pki))
    assert result.server_hash == _server_hash(pki)
    assert result.bundle == pki.ca.pem
    assert not result.host_trusted
    assert result.warnings == []
    # Unverified download, then verified download; the host-trust attempt fails during the handshake.
    assert [r["path"] for r in k3s_server.requests] == ["/cacerts", "/cacerts"]
    assert all("authorization" not in r["headers"] for r in k3s_server.requests)


def test_validation_mismatch(pki, k3s_server):
    with pytest.raises(TokenError) as err:
        fetch_and_verify_cacerts(k3s_server.url, HASH)
    assert str(err.value) == (
        "token CA hash does not match the Cluster CA certificate hash: %s != %s" % (HASH, _server_hash(pki))
    )


def test_validation_without_hash_warns(pki, k3s_server):
    result = fetch_and_verify_cacerts(k3s_server.url, "")
    assert result.server_hash == _server_hash(pki)
    assert result.warnings == [_token.MSG_NO_HASH]


def test_server_cert_not_from_served_ca(pki, k3s_server, cert_factory):
    k3s_server.routes[("*", "/cacerts")] = (200, cert_factory("impostor-ca", ca=True).pem, "text/plain")
    with pytest.raises(TokenError, match="^CA cert validation failed: "):
        fetch_and_verify_cacerts(k3s_server.url, "")


def test_server_cert_for_another_host(pki, https_server_factory, cert_factory):
    wrong_name = cert_factory("k3s", issuer=pki.ca, sans=("k3s.example.invalid",))
    server = https_server_factory(wrong_name.pem, wrong_name.key_pem)
    server.routes[("*", "/cacerts")] = (200, pki.ca.pem, "text/plain")
    with pytest.raises(TokenError, match="^CA cert validation failed: "):
        fetch_and_verify_cacerts(server.url, _server_hash(pki))


def test_intermediate_ca_bundle(https_server_factory, cert_factory):
    root = cert_factory("root-ca", ca=True)
    intermediate = cert_factory("k3s-server-ca", issuer=root, ca=True)
    listener = cert_factory("k3s", issuer=intermediate, sans=("127.0.0.1",))
    server = https_server_factory(listener.pem, listener.key_pem, chain_pem=intermediate.pem)
    server.routes[("*", "/cacerts")] = (200, intermediate.pem + root.pem, "text/plain")
    expected = hashlib.sha256(root.der).hexdigest()
    assert fetch_and_verify_cacerts(server.url, expected).server_hash == expected


def test_only_https_urls():
    with pytest.raises(TokenError, match="^only https:// URLs are supported"):
        fetch_and_verify_cacerts("http://127.0.0.1:6443", HASH)


def test_unreachable_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TokenError, match="^failed to get CA certs from https://127.0.0.1:%d/cacerts" % port):
        fetch_and_verify_cacerts("https://127.0.0.1:%d" % port, HASH, timeout=2)


def test_bundle_temp_file_is_private_and_removed(pki, k3s_server):
    seen = {}

    def opener(url, **kwargs):
        if kwargs.get("ca_path"):
            path = kwargs["ca_path"]
            seen["path"] = path
            seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
            with open(path, "rb") as handle:
                seen["content"] = handle.read()
        return open_url(url, **kwargs)

    fetch_and_verify_cacerts(k3s_server.url, _server_hash(pki), opener=opener)
    assert seen["mode"] == 0o600
    assert seen["content"] == pki.ca.pem
    assert not os.path.exists(seen["path"])
    assert not os.path.exists(os.path.dirname(seen["path"]))


def test_publicly_trusted_ca_skips_hash_check(pki):
    calls = []

    def opener(url, **kwargs):
        calls.append(kwargs)
        return io.BytesIO(pki.ca.pem)

    result = fetch_and_verify_cacerts("https://k3s.example.invalid", HASH, opener=opener)
    assert result.host_trusted
    assert result.warnings == [_token.MSG_HOST_TRUSTED]
    assert len(calls) == 1
    assert calls[0]["validate_certs"] is True and "ca_path" not in calls[0]


def test_upper_case_token_hash_is_refused_by_the_server_check(pki, k3s_server):
    """validateCACerts (pkg/clientaccess/token.go): string comparison, so an upper-case hash is a mismatch."""
    upper = _server_hash(pki).upper()
    with pytest.raises(TokenError, match="token CA hash does not match the Cluster CA certificate hash: %s" % upper):
        fetch_and_verify_cacerts(k3s_server.url, upper)
