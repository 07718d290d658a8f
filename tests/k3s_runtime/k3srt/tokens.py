"""Token formats, CA hash, server passwords, the passwd file and the token files (K3S_BEHAVIOUR §3, §4).

The one token parser and CA hash of the runtime: every command (server, agent, token, etcd-snapshot) uses these.
Sources: pkg/clientaccess/token.go (parseToken, hashCA), pkg/util/token.go (NormalizeToken), pkg/passwd/passwd.go
(EnsureUser), pkg/daemons/control/deps/deps.go (getServerPass, getNodePass), pkg/server/server.go (printTokens),
pkg/server/handlers/token.go (WriteToken), pkg/util/file.go (ReadFile).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from dataclasses import dataclass

from . import cahash

BOOTSTRAP_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
CA_HASH_LENGTH = 64
NORMALIZE_ERROR = (
    "failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>"
)
FILE_WAIT_INTERVAL = 2.0
FILE_WAIT_TIMEOUT = 240.0


class TokenError(ValueError):
    pass


@dataclass
class Token:
    ca_hash: str  # "" when the token carries none; compared byte for byte with the served CA's hash
    username: str
    password: str  # the password, or "<id>.<secret>" for a bootstrap token
    bootstrap: bool = False


def ca_hash(bundle: bytes) -> str:
    """k3s's hashCA; a bundle without a parsable certificate is a TokenError."""
    try:
        return cahash.ca_hash(bundle)
    except cahash.CAHashError as exc:
        raise TokenError(str(exc)) from None


def hash_matches(bundle: bytes, token_hash: str) -> tuple[bool, str]:
    """validateCACerts: (token hash == hash of bundle, the bundle's hash); an unhashable bundle hashes to ""."""
    try:
        got = cahash.ca_hash(bundle)
    except cahash.CAHashError:
        got = ""
    return token_hash == got, got


def parse(text: str) -> Token:
    """parseToken: a bare password or bootstrap token becomes ``K10::<creds>``; ``K10<hash>::<creds>`` or
    ``K10<creds>`` (no ``::``: no hash). The hash part must be empty or 64 characters; it is not case-folded."""
    if not text:
        raise TokenError("token must not be empty")
    if not text.startswith("K10"):
        text = ("K10::" if BOOTSTRAP_RE.match(text) else "K10:::") + text
    rest = text[3:]
    hash_part = ""
    if "::" in rest:
        hash_part, rest = rest.split("::", 1)
        if hash_part and len(hash_part) != CA_HASH_LENGTH:
            raise TokenError("invalid token CA hash length")
    if BOOTSTRAP_RE.match(rest):
        return Token(hash_part, "", rest, bootstrap=True)
    user, sep, password = rest.partition(":")
    if not sep or not password:
        raise TokenError("invalid token format")
    return Token(hash_part, user, password)


def format_token(ca_hash_hex: str, username: str, password: str) -> str:
    return f"K10{ca_hash_hex}::{username}:{password}"


def normalize_server_token(text: str) -> str:
    """util.NormalizeToken: the password of a ``user:password`` token; bootstrap tokens and unparsable text fail."""
    try:
        tok = parse(text)
    except TokenError:
        raise TokenError(NORMALIZE_ERROR) from None
    if tok.bootstrap:
        raise TokenError(NORMALIZE_ERROR)
    return tok.password


def passwd_value(text: str, user: str) -> str:
    """passwd.EnsureUser: a ``K10…::<user>:`` prefix is stripped, anything else is stored as given."""
    marker = f"::{user}:"
    idx = text.find(marker)
    if idx > 0 and text.startswith("K10"):
        return text[idx + len(marker) :]
    return text


def node_password_for(server_pass: str) -> str:
    """getNodePass without --agent-token: the password part of the server token, else the whole value."""
    try:
        tok = parse(server_pass)
    except TokenError:
        return server_pass
    return server_pass if tok.bootstrap else tok.password


def random_password() -> str:
    return secrets.token_hex(16)


def read_file_waiting(path: str, log=None) -> str:
    """util.ReadFile: wait (2 s polls, 4 min) for the file to exist, return its content without surrounding space."""
    deadline = time.monotonic() + FILE_WAIT_TIMEOUT
    while True:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except FileNotFoundError:
            if time.monotonic() > deadline:
                raise TokenError(f"timed out waiting for file {path!r}") from None
            if log is not None:
                log(f'Waiting for file "{path}" to be created')
            time.sleep(FILE_WAIT_INTERVAL)


def read_token_value(config: dict, key: str = "token", log=None) -> str:
    """--<key>-file wins over --<key> when both are set (pkg/cli/server/server.go, pkg/cli/agent/agent.go read the
    file after copying the flag). The flag value is used as given; the file content is trimmed."""
    if config.get(f"{key}-file"):
        return read_file_waiting(config[f"{key}-file"], log)
    return config.get(key) or ""


# --- server/cred/passwd and the token files ---------------------------------------------------------------------


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


def _write_atomic(path: str, text: str, mode: int) -> None:
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_secret_file(path: str, text: str, mode: int = 0o600) -> bool:
    """os.WriteFile(path, text, 0600): ``mode`` only for a new file, an existing file keeps its mode; a symlink is
    written through. Returns True when the content changed."""
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
        target = os.path.realpath(path)
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        target = os.path.realpath(path) if os.path.islink(path) else path
    _write_atomic(target, text, mode)
    return True


def write_passwd(path: str, server_pw: str, agent_pw: str) -> None:
    """passwd.Write: only when an entry changed, then as a new 0600 file (create .tmp, chmod 0600, rename)."""
    current = read_passwd(path)
    want = {"server": (server_pw, "k3s:server"), "node": (agent_pw, "k3s:agent")}
    if all(current.get(user) == entry for user, entry in want.items()):
        return
    text = f"{server_pw},server,server,k3s:server\n{agent_pw},node,node,k3s:agent\n"
    _write_atomic(path, text, 0o600)


def _is_link(path: str) -> bool:
    return os.path.islink(path)


def write_token_files(server_dir: str, hash_hex: str, server_pw: str, agent_pw: str, agent_token_set: bool) -> None:
    """printTokens: server/token (K10<hash>::server:<pw>, 0600 when new); node-token, when it is not a symlink
    already, becomes a symlink to the absolute path of token; agent-token is a file when --agent-token is set
    (a symlink there is removed first), else (when it is not a symlink) a symlink to the token file."""
    token_path = os.path.join(os.path.abspath(server_dir), "token")
    write_secret_file(token_path, format_token(hash_hex, "server", server_pw) + "\n")
    node_token = os.path.join(server_dir, "node-token")
    if not _is_link(node_token):
        _remove_all(node_token)
        os.symlink(token_path, node_token)
    agent_path = os.path.join(server_dir, "agent-token")
    if agent_token_set:
        if _is_link(agent_path):
            os.unlink(agent_path)
        write_secret_file(agent_path, format_token(hash_hex, "node", agent_pw) + "\n")
    elif not _is_link(agent_path):
        _remove_all(agent_path)
        os.symlink(token_path, agent_path)


def _remove_all(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        import shutil

        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def symlink(target: str, link: str) -> None:
    if os.path.islink(link) and os.readlink(link) == target:
        return
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
