"""Token parsing and CA hash rules (K3S_BEHAVIOUR §4)."""

from __future__ import annotations

import hashlib

import pytest
from k3srt import pki, tokens


def test_full_token_parse():
    h = "a" * 64
    tok = tokens.parse(f"K10{h}::server:pa:ss")
    assert (tok.ca_hash, tok.username, tok.password, tok.bootstrap) == (h, "server", "pa:ss", False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "token must not be empty"),
        ("K10abc::server:x", "invalid token CA hash length"),
        ("K10" + "a" * 64 + "::server:", "invalid token format"),
    ],
)
def test_bad_tokens(text, message):
    with pytest.raises(tokens.TokenError, match=message):
        tokens.parse(text)


def test_short_and_bootstrap_tokens():
    assert tokens.parse("abcdef.0123456789abcdef").bootstrap
    short = tokens.parse("just-a-password")
    assert (short.ca_hash, short.username, short.password) == ("", "", "just-a-password")


def test_normalize_server_token():
    assert tokens.normalize_server_token("K10" + "b" * 64 + "::server:secret") == "secret"
    assert tokens.normalize_server_token("plain") == "plain"
    with pytest.raises(tokens.TokenError, match="failed to normalize server token"):
        tokens.normalize_server_token("K10" + "b" * 64 + "::abcdef.0123456789abcdef")


def test_ca_hash_single_cert_is_raw_bytes(tmp_path):
    cert, _ = pki.new_ca("k3s-server-ca")
    pem = pki.cert_pem(cert)
    assert tokens.ca_hash(pem) == hashlib.sha256(pem).hexdigest()


def test_ca_hash_chain_hashes_root_der():
    root = pki.new_ca("root")
    inter, _ = pki.sign(root, "intermediate")
    bundle = pki.cert_pem(inter) + pki.cert_pem(root[0])
    from cryptography.hazmat.primitives.serialization import Encoding

    assert tokens.ca_hash(bundle) == hashlib.sha256(root[0].public_bytes(Encoding.DER)).hexdigest()
