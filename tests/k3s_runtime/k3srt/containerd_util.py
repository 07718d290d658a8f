"""Small helpers shared by the containerd modules: the error type, TOML string quoting, atomic file writes."""

from __future__ import annotations

import contextlib
import os
import tempfile


class ContainerdError(Exception):
    """A startup error of the embedded container runtime; the message is what k3s prints."""


def toml_str(value: str) -> str:
    """A TOML basic string ("...") for value, escaping what TOML requires."""
    out = []
    for ch in str(value):
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u%04X" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_bool(value: bool) -> str:
    return "true" if value else "false"


def as_bool(value) -> bool:
    """Flag values may arrive as bools or as the strings a config file/env gave."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "yes", "on")
    return bool(value)


def make_dir(path: str, mode: int = 0o700) -> None:
    """Create path (and parents) if missing; an existing directory keeps its mode."""
    os.makedirs(path, mode=mode, exist_ok=True)


def write_file(path: str, content: str, mode: int) -> None:
    """Write content to path atomically (temp file + rename) with exactly `mode`."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
