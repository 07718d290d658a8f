"""Bootstrap data: the cluster CAs, service key and passwd that every server shares (K3S_BEHAVIOUR §4, §5).

Served to joining servers at /v1-k3s/server-bootstrap and kept in the datastore under
``/bootstrap/<first 12 hex of sha256(password)>``, AES-GCM encrypted with a PBKDF2-SHA1 key (4096 rounds)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

# bootstrap field -> path relative to <D>/server
FILES = {
    "ServerCA": "tls/server-ca.crt",
    "ServerCAKey": "tls/server-ca.key",
    "ClientCA": "tls/client-ca.crt",
    "ClientCAKey": "tls/client-ca.key",
    "RequestHeaderCA": "tls/request-header-ca.crt",
    "RequestHeaderCAKey": "tls/request-header-ca.key",
    "ETCDServerCA": "tls/etcd/server-ca.crt",
    "ETCDServerCAKey": "tls/etcd/server-ca.key",
    "ETCDPeerCA": "tls/etcd/peer-ca.crt",
    "ETCDPeerCAKey": "tls/etcd/peer-ca.key",
    "ServiceKey": "tls/service.key",
    "PasswdFile": "cred/passwd",
    "IPSECKey": "cred/ipsec.psk",
}
DIFFERENT_TOKEN = "bootstrap data already found and encrypted with different token"


class BootstrapError(Exception):
    pass


def collect(server_dir: str) -> dict:
    out = {}
    for field, rel in FILES.items():
        path = os.path.join(server_dir, rel)
        if os.path.exists(path):
            with open(path, "rb") as fh:
                data = fh.read()
            stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
            out[field] = {"Timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "Content": base64.b64encode(data).decode()}
    return out


def write(server_dir: str, data: dict) -> None:
    for field, rel in FILES.items():
        if field not in data:
            continue
        path = os.path.join(server_dir, rel)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        content = base64.b64decode(data[field]["Content"])
        mode = 0o644 if rel.endswith(".crt") else 0o600
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)


def key_name(password: str) -> str:
    return "/bootstrap/" + hashlib.sha256(password.encode()).hexdigest()[:12]


def _derive(password: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(hashes.SHA1(), 32, salt, 4096).derive(password.encode())  # noqa: S303 - k3s' own choice


def encrypt(password: str, plain: bytes) -> bytes:
    salt = os.urandom(8)
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(password, salt)).encrypt(nonce, plain, None)
    return salt.hex().encode() + b":" + base64.b64encode(nonce + sealed)


def decrypt(password: str, value: bytes) -> bytes:
    salt_hex, _, b64 = value.partition(b":")
    raw = base64.b64decode(b64)
    return AESGCM(_derive(password, bytes.fromhex(salt_hex.decode()))).decrypt(raw[:12], raw[12:], None)


def save(kv, server_dir: str, password: str) -> None:
    """Store (or verify) this cluster's bootstrap data in the datastore."""
    others = [k for k, _, _ in kv.list("/bootstrap/") if k != key_name(password)]
    current = kv.get(key_name(password))
    if current is None and others:
        raise BootstrapError(DIFFERENT_TOKEN)
    if current is not None:
        try:
            decrypt(password, current[0])
        except Exception as exc:  # noqa: BLE001
            raise BootstrapError(DIFFERENT_TOKEN) from exc
        return
    kv.put(key_name(password), encrypt(password, json.dumps(collect(server_dir)).encode()))


def load(kv, password: str) -> dict | None:
    current = kv.get(key_name(password))
    if current is None:
        return None
    return json.loads(decrypt(password, current[0]))
