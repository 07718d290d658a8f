"""Label selectors (equality and set based) and field selectors, as list/watch filters."""

from __future__ import annotations

import re

from . import errors

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def parse_labels(text: str | None):
    """Return a predicate over a labels dict."""
    if not text:
        return lambda labels: True
    reqs = []
    for part in _split_top(text):
        m = _SET_RE.match(part)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            reqs.append((key, op, vals))
        elif part.startswith("!"):
            reqs.append((part[1:].strip(), "!exists", None))
        elif "!=" in part:
            key, val = part.split("!=", 1)
            reqs.append((key.strip(), "!=", val.strip()))
        elif "==" in part:
            key, val = part.split("==", 1)
            reqs.append((key.strip(), "=", val.strip()))
        elif "=" in part:
            key, val = part.split("=", 1)
            reqs.append((key.strip(), "=", val.strip()))
        elif re.match(r"^[A-Za-z0-9./_-]+$", part):
            reqs.append((part, "exists", None))
        else:
            raise errors.bad_request(f"unable to parse requirement: {part!r}")

    def match(labels: dict) -> bool:
        labels = labels or {}
        for key, op, val in reqs:
            present = key in labels
            if op == "exists" and not present:
                return False
            if op == "!exists" and present:
                return False
            if op == "=" and labels.get(key) != val:
                return False
            if op == "!=" and present and labels.get(key) == val:
                return False
            if op == "in" and labels.get(key) not in val:
                return False
            if op == "notin" and present and labels.get(key) in val:
                return False
        return True

    return match


def field_value(obj: dict, path: str) -> str:
    cur = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def parse_fields(text: str | None):
    """Return a predicate over an object (``metadata.name=x``, ``spec.nodeName!=y``, comma separated)."""
    if not text:
        return lambda obj: True
    reqs = []
    for part in _split_top(text):
        if "!=" in part:
            key, val = part.split("!=", 1)
            reqs.append((key.strip(), False, val.strip()))
        elif "=" in part:
            key, val = part.split("==", 1) if "==" in part else part.split("=", 1)
            reqs.append((key.strip(), True, val.strip()))
        else:
            raise errors.bad_request(f"invalid field selector: {part!r}")
    return lambda obj: all((field_value(obj, k) == v) == eq for k, eq, v in reqs)


def name_from_fields(text: str | None) -> str | None:
    """The name a ``metadata.name=x`` field selector pins, if any (watch uses it)."""
    for part in _split_top(text or ""):
        if "!=" not in part and part.replace("==", "=").startswith("metadata.name="):
            return part.replace("==", "=").split("=", 1)[1].strip()
    return None
