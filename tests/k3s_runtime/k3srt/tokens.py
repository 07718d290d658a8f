"""Token formats, CA hash, server passwords and the passwd file (K3S_BEHAVIOUR §3, §4)."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass

BOOTSTRAP_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
NORMALIZE_ERROR = (
    "failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>"
)


class TokenError(ValueError):
    pass


@dataclass
class Token:
    ca_hash: str  # "" when the token carries none
    username: str
    password: str  # the password, or "<id>.<secret>" for a bootstrap token
    bootstrap: bool = False


def ca_hash(bundle: bytes) -> str:
    """SHA-256 of the CA bundle as served at /cacerts: raw bytes for one certificate, else the root's DER."""
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", bundle, re.S)
    if len(blocks) <= 1:
        return hashlib.sha256(bundle).hexdigest()
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        certs = [x509.load_pem_x509_certificate(b) for b in blocks]
        roots = [c for c in certs if c.issuer == c.subject]
        if roots:
            return hashlib.sha256(roots[-1].public_bytes(Encoding.DER)).hexdigest()
    except Exception:  # noqa: BLE001, S110 - k3s falls back to the raw bytes when the chain does not verify
        pass
    return hashlib.sha256(bundle).hexdigest()


def parse(text: str) -> Token:
    text = (text or "").strip()
    if not text:
        raise TokenError("token must not be empty")
    if not text.startswith("K10"):
        m = BOOTSTRAP_RE.match(text)
        if m:
            return Token("", "", text, bootstrap=True)
        return Token("", "", text)
    hash_part, sep, creds = text[3:].partition("::")
    if not sep:
        raise TokenError("invalid token format")
    if hash_part and len(hash_part) != 64:
        raise TokenError("invalid token CA hash length")
    if BOOTSTRAP_RE.match(creds):
        return Token(hash_part.lower(), "", creds, bootstrap=True)
    user, sep, password = creds.partition(":")
    if not sep or not password:
        raise TokenError("invalid token format")
    return Token(hash_part.lower(), user, password)


def format_token(ca_hash_hex: str, username: str, password: str) -> str:
    return f"K10{ca_hash_hex}::{username}:{password}"


def normalize_server_token(text: str) -> str:
    """The server password from --token: a bare password or K10<hash>::<user>:<password>."""
    text = text.strip()
    if not text.startswith("K10"):
        return text
    try:
        tok = parse(text)
    except TokenError as exc:
        raise TokenError(NORMALIZE_ERROR) from exc
    if tok.bootstrap:
        raise TokenError(NORMALIZE_ERROR)
    return tok.password


def random_password() -> str:
    return secrets.token_hex(16)


def read_token_value(config: dict, key: str = "token") -> str:
    """--token wins over --token-file (both may come from config.yaml or K3S_* env)."""
    value = config.get(key) or ""
    if not value and config.get(f"{key}-file"):
        with open(config[f"{key}-file"], encoding="utf-8") as fh:
            value = fh.read().strip()
    return value.strip()


# --- server/cred/passwd -----------------------------------------------------------------------------------------


def read_passwd(path: str) -> dict[str, tuple[str, str]]:
    """user -> (password, group)."""
    out: dict[str, tuple[str, str]] = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.strip().split(",")
            if len(parts) >= 4:
                out[parts[1]] = (parts[0], parts[3])
    return out


def write_secret_file(path: str, text: str) -> bool:
    """Write a 0600 file atomically; return True when its content changed."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                os.chmod(path, 0o600)
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    if os.path.islink(path):
        os.unlink(path)
    os.replace(tmp, path)
    return True


def write_passwd(path: str, server_pw: str, agent_pw: str) -> None:
    text = f"{server_pw},server,server,k3s:server\n{agent_pw},node,node,k3s:agent\n"
    write_secret_file(path, text)


def symlink(target: str, link: str) -> None:
    if os.path.islink(link) and os.readlink(link) == target:
        return
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)


def write_token_files(server_dir: str, hash_hex: str, server_pw: str, agent_pw: str, agent_token_set: bool) -> None:
    """server/token (0600), node-token -> token, agent-token (file when --agent-token is set, else -> token)."""
    write_secret_file(os.path.join(server_dir, "token"), format_token(hash_hex, "server", server_pw) + "\n")
    symlink("token", os.path.join(server_dir, "node-token"))
    agent_path = os.path.join(server_dir, "agent-token")
    if agent_token_set:
        write_secret_file(agent_path, format_token(hash_hex, "node", agent_pw) + "\n")
    else:
        symlink("token", agent_path)
