"""Go's strconv.ParseBool, strconv.ParseInt(s, 0, 64) and time.ParseDuration, with Go's error texts: k3s flags are
urfave/cli v2 flags on Go's flag package, so flag values are parsed by these (K3S_BEHAVIOUR §1.2)."""

from __future__ import annotations

TRUE = ("1", "t", "T", "TRUE", "true", "True")
FALSE = ("0", "f", "F", "FALSE", "false", "False")
_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_INT64 = 1 << 63


class GoParseError(ValueError):
    """``str(exc)`` is the Go error text; ``kind`` is ``syntax`` or ``range`` (flag's errParse / errRange)."""

    def __init__(self, message: str, kind: str = "syntax"):
        super().__init__(message)
        self.kind = kind


def quote(s: str) -> str:
    """strconv.Quote for the printable strings flag values are."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_bool(s: str) -> bool:
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise GoParseError(f"strconv.ParseBool: parsing {quote(s)}: invalid syntax")


def _underscore_ok(s: str) -> bool:
    """Underscores only between digits (a base prefix counts as a digit)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for ch in s[i:]:
        if ch.isdigit() and ch.isascii() or hexa and ch.lower() in "abcdef":
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def parse_int(s: str) -> int:
    """strconv.ParseInt(s, 0, 64): optional sign, 0x/0o/0b or a leading 0 (octal), underscores between digits."""

    def fail(kind="syntax"):
        reason = "invalid syntax" if kind == "syntax" else "value out of range"
        return GoParseError(f"strconv.ParseInt: parsing {quote(s)}: {reason}", kind)

    body = s
    neg = False
    if body[:1] in ("+", "-"):
        neg, body = body[0] == "-", body[1:]
    if not body:
        raise fail()
    base, digits = 10, body
    if body[0] == "0" and len(body) > 1:
        prefix = body[1].lower()
        base, digits = {"x": (16, body[2:]), "o": (8, body[2:]), "b": (2, body[2:])}.get(prefix, (8, body[1:]))
    if "_" in body:
        if not _underscore_ok(body):
            raise fail()
        digits = digits.replace("_", "")
    alphabet = "0123456789abcdef"[:base]
    if not digits or any(ch.lower() not in alphabet or not ch.isascii() for ch in digits):
        raise fail()
    value = int(digits, base)
    value = -value if neg else value
    if not -_INT64 <= value < _INT64:
        raise fail("range")
    return value


def parse_duration(s: str) -> float:
    """time.ParseDuration, in seconds: ``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+``; "0" alone needs no unit."""
    orig = s
    invalid = GoParseError(f"time: invalid duration {quote(orig)}")
    neg = False
    if s[:1] in ("+", "-"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise invalid
    total = 0.0
    while s:
        if not (s[0] == "." or s[0].isdigit() and s[0].isascii()):
            raise invalid
        i = 0
        while i < len(s) and s[i].isascii() and s[i].isdigit():
            i += 1
        whole, s = s[:i], s[i:]
        frac = ""
        if s[:1] == ".":
            j = 1
            while j < len(s) and s[j].isascii() and s[j].isdigit():
                j += 1
            frac, s = s[1:j], s[j:]
            if not whole and not frac:
                raise invalid
        k = 0
        while k < len(s) and not (s[k] == "." or s[k].isascii() and s[k].isdigit()):
            k += 1
        if k == 0:
            raise GoParseError(f"time: missing unit in duration {quote(orig)}")
        unit, s = s[:k], s[k:]
        if unit not in _UNITS:
            raise GoParseError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        total += float(f"{whole or '0'}.{frac or '0'}") * _UNITS[unit]
    if total > 9223372036.854775807:
        raise invalid
    return -total if neg else total


def parse_int_base(s: str, base: int) -> int:
    """strconv.ParseInt(s, base, 0) for an explicit base: optional sign, digits of that base only."""
    body = s[1:] if s[:1] in ("+", "-") else s
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    if not body or any(ch.lower() not in alphabet or not ch.isascii() for ch in body):
        raise GoParseError(f"strconv.ParseInt: parsing {quote(s)}: invalid syntax")
    value = int(body, base) * (-1 if s[:1] == "-" else 1)
    if not -_INT64 <= value < _INT64:
        raise GoParseError(f"strconv.ParseInt: parsing {quote(s)}: value out of range", "range")
    return value
