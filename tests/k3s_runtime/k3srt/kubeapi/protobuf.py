"""The Kubernetes protobuf encoding (``application/vnd.kubernetes.protobuf``) for the kinds in ``proto_tables``.

Newer kubectl and client-go send typed objects (``kubectl create configmap|namespace|deployment|secret|…``) as
protobuf. A body is the 4-byte magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message::

    Unknown  { 1 typeMeta: TypeMeta; 2 raw: bytes; 3 contentEncoding: string; 4 contentType: string }
    TypeMeta { 1 apiVersion: string; 2 kind: string }

with ``raw`` the object's own message (field numbers in ``proto_tables``). ``decode_object`` turns such a body into
the dict the JSON path would have received for the same object (Go ``encoding/json`` rules: ``omitempty`` zero
values dropped, pointer fields kept, embedded structs inlined); ``encode_object`` is its inverse. A field or kind
without a table entry raises ``Unsupported`` (never silently dropped); malformed bytes raise ``Malformed``.

Responses stay JSON: kubectl asks ``Accept: application/vnd.kubernetes.protobuf,application/json``, and content
negotiation lets the server pick the second.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone

from ..web import HTTPError
from .proto_tables import ANY_VERSION_KINDS, KINDS, MESSAGES, Field

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_MASK64 = (1 << 64) - 1


class ProtobufError(ValueError):
    """A body this codec cannot turn into an object."""


class Malformed(ProtobufError):
    """Not valid protobuf / not a Kubernetes protobuf envelope."""


class Unsupported(ProtobufError):
    """Valid protobuf, but a kind or field that has no entry in ``proto_tables``."""


# --- wire level -----------------------------------------------------------------------------------------------


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise Malformed("varint longer than 10 bytes")


def iter_fields(buf: bytes):
    """Yield ``(number, wire_type, value)``: an int for varint/fixed fields, bytes for length-delimited ones."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field number 0")
        if wire == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise Malformed(f"field {number}: length {size} runs past the end of the message")
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > len(buf):
                raise Malformed(f"field {number}: truncated fixed-width value")
            value, pos = int.from_bytes(buf[pos : pos + width], "little"), pos + width
        else:
            raise Malformed(f"field {number}: wire type {wire} (groups) is not used by Kubernetes")
        yield number, wire, value


def _varint(value: int) -> bytes:
    value &= _MASK64  # negative int32/int64 are sent as 10-byte two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _len_field(number: int, payload: bytes) -> bytes:
    return _tag(number, LEN) + _varint(len(payload)) + payload


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# --- envelope -------------------------------------------------------------------------------------------------


def unwrap(body: bytes) -> tuple[str, str, bytes]:
    """``(apiVersion, kind, raw)`` of a Kubernetes protobuf body."""
    if not body.startswith(MAGIC):
        raise Malformed("the body does not start with the Kubernetes protobuf magic k8s\\x00")
    api_version = kind = ""
    raw = b""
    for number, wire, value in iter_fields(body[len(MAGIC) :]):
        if wire != LEN or number not in (1, 2, 3, 4):
            raise Unsupported(f"runtime.Unknown: unexpected field {number} (wire type {wire})")
        if number == 1:
            for tnum, twire, tval in iter_fields(value):
                if twire != LEN or tnum not in (1, 2):
                    raise Unsupported(f"runtime.TypeMeta: unexpected field {tnum} (wire type {twire})")
                text = _utf8(tval, "typeMeta")
                api_version, kind = (text, kind) if tnum == 1 else (api_version, text)
        elif number == 2:
            raw = value
        elif value:  # contentEncoding / contentType: empty means plain protobuf
            what = "contentEncoding" if number == 3 else "contentType"
            if number == 3 or _utf8(value, what) != MEDIA_TYPE:
                raise Unsupported(f"runtime.Unknown {what} {_utf8(value, what)!r} is not supported")
    if not kind:
        raise Malformed("runtime.Unknown carries no kind")
    return api_version, kind, raw


def wrap(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _len_field(1, api_version.encode()) + _len_field(2, kind.encode())
    return MAGIC + _len_field(1, type_meta) + _len_field(2, raw) + _len_field(3, b"") + _len_field(4, b"")


def message_for(api_version: str, kind: str) -> str:
    name = KINDS.get((api_version, kind)) or ANY_VERSION_KINDS.get(kind)
    if name is None:
        raise Unsupported(f"no protobuf field table for {api_version or '?'} {kind}")
    return name


# --- well-known messages --------------------------------------------------------------------------------------


def _utf8(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{where}: string is not valid UTF-8") from None


def _sub(value: bytes, where: str, allowed: dict[int, int]) -> dict[int, int | bytes]:
    """The fields of a small fixed message (number -> wire type); last occurrence wins."""
    out: dict[int, int | bytes] = {}
    for number, wire, item in iter_fields(value):
        if allowed.get(number) != wire:
            raise Unsupported(f"{where}: unexpected field {number} (wire type {wire})")
        out[number] = item
    return out


def _format_time(seconds: int, nanos: int) -> str:
    # metav1.Time marshals to RFC 3339 in UTC with whole seconds.
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text, where: str) -> tuple[int, int]:
    if not isinstance(text, str):
        raise Unsupported(f"{where}: a time must be an RFC 3339 string")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unsupported(f"{where}: {text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() // 1), moment.microsecond * 1000


def _decode_well_known(ftype: str, value: bytes, where: str):
    if ftype == "Time":
        parts = _sub(value, where, {1: VARINT, 2: VARINT})
        seconds, nanos = _signed(parts.get(1, 0), 64), _signed(parts.get(2, 0), 32)
        return None if seconds == 0 and nanos == 0 else _format_time(seconds, nanos)
    if ftype == "Quantity":
        return _utf8(_sub(value, where, {1: LEN}).get(1, b"0"), where)
    if ftype == "IntOrString":
        parts = _sub(value, where, {1: VARINT, 2: VARINT, 3: LEN})
        if parts.get(1, 0) == 1:
            return _utf8(parts.get(3, b""), where)
        return _signed(parts.get(2, 0), 32)
    if ftype == "RawJSON":
        raw = _sub(value, where, {1: LEN}).get(1, b"")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Unsupported(f"{where}: embedded raw object is not JSON") from None
    raise AssertionError(ftype)


def _encode_well_known(ftype: str, value, where: str) -> bytes:
    if ftype == "Time":
        seconds, nanos = _parse_time(value, where)
        return _tag(1, VARINT) + _varint(seconds) + (_tag(2, VARINT) + _varint(nanos) if nanos else b"")
    if ftype == "Quantity":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Unsupported(f"{where}: a quantity must be a string or a number")
        return _len_field(1, str(value).encode())
    if ftype == "IntOrString":
        if isinstance(value, str):
            return _tag(1, VARINT) + _varint(1) + _len_field(3, value.encode())
        if isinstance(value, int) and not isinstance(value, bool):
            return _tag(1, VARINT) + _varint(0) + _tag(2, VARINT) + _varint(value)
        raise Unsupported(f"{where}: an int-or-string must be an integer or a string")
    if ftype == "RawJSON":
        return _len_field(1, json.dumps(value, separators=(",", ":")).encode())
    raise AssertionError(ftype)


# --- scalars --------------------------------------------------------------------------------------------------

_SCALAR_WIRE = {"string": LEN, "bytes": LEN, "bool": VARINT, "int32": VARINT, "int64": VARINT}


def _decode_scalar(ftype: str, wire: int, value, where: str):
    if wire != _SCALAR_WIRE[ftype]:
        raise Malformed(f"{where}: wire type {wire} for a {ftype}")
    if ftype == "string":
        return _utf8(value, where)
    if ftype == "bytes":
        return base64.b64encode(value).decode("ascii")
    if ftype == "bool":
        return bool(value)
    return _signed(value, 32 if ftype == "int32" else 64)


def _encode_scalar(ftype: str, number: int, value, where: str) -> bytes:
    if ftype == "string":
        if not isinstance(value, str):
            raise Unsupported(f"{where}: expected a string, got {type(value).__name__}")
        return _len_field(number, value.encode())
    if ftype == "bytes":
        if not isinstance(value, str):
            raise Unsupported(f"{where}: expected base64 text, got {type(value).__name__}")
        try:
            return _len_field(number, base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise Unsupported(f"{where}: not valid base64") from None
    if ftype == "bool":
        if not isinstance(value, bool):
            raise Unsupported(f"{where}: expected a boolean, got {type(value).__name__}")
        return _tag(number, VARINT) + _varint(int(value))
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unsupported(f"{where}: expected an integer, got {type(value).__name__}")
    bits = 32 if ftype == "int32" else 64
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise Unsupported(f"{where}: {value} does not fit an {ftype}")
    return _tag(number, VARINT) + _varint(value)


def _is_zero(value) -> bool:
    return value is None or value == "" or value is False or (type(value) is int and value == 0)


# --- messages -------------------------------------------------------------------------------------------------


def _decode_value(f: Field, wire: int, value, where: str):
    if f.type in _SCALAR_WIRE:
        return _decode_scalar(f.type, wire, value, where)
    if wire != LEN:
        raise Malformed(f"{where}: wire type {wire} for a message")
    if f.type in ("Time", "Quantity", "IntOrString", "RawJSON"):
        return _decode_well_known(f.type, value, where)
    return decode_message(f.type, value, where)


def _decode_map_entry(f: Field, wire: int, value, where: str) -> tuple[str, object]:
    if wire != LEN:
        raise Malformed(f"{where}: wire type {wire} for a map entry")
    key, item = "", None
    for number, ewire, evalue in iter_fields(value):
        if number == 1 and ewire == LEN:
            key = _utf8(evalue, where)
        elif number == 2:
            vfield = Field(2, f.json, f.map_value or "string")
            item = _decode_value(vfield, ewire, evalue, f"{where}[{key}]")
        else:
            raise Unsupported(f"{where}: unexpected map entry field {number} (wire type {ewire})")
    if item is None:  # an absent value is the zero value of the value type
        item = {"string": "", "bytes": "", "Quantity": "0", "Time": None}[f.map_value or "string"]
    return key, item


def _packed(f: Field, value: bytes, where: str) -> list[int]:
    out, pos = [], 0
    while pos < len(value):
        item, pos = _read_varint(value, pos)
        out.append(_decode_scalar(f.type, VARINT, item, where))
    return out


def decode_message(name: str, raw: bytes, where: str | None = None) -> dict:
    """Decode message ``name`` into its JSON form (see the module docstring for the rules)."""
    table = MESSAGES[name]
    where = where or name
    singles: dict[int, object] = {}
    repeated: dict[int, list] = {}
    maps: dict[int, dict] = {}
    for number, wire, value in iter_fields(raw):
        f = table.get(number)
        if f is None:
            raise Unsupported(f"{where}: field {number} (wire type {wire}) of {name} is not in this runtime's tables")
        here = f"{where}.{f.json}"
        if f.type == "map":
            key, item = _decode_map_entry(f, wire, value, here)
            maps.setdefault(number, {})[key] = item
        elif f.repeated:
            if wire == LEN and f.type in ("bool", "int32", "int64"):
                repeated.setdefault(number, []).extend(_packed(f, value, here))
            else:
                repeated.setdefault(number, []).append(_decode_value(f, wire, value, here))
        elif f.type in _SCALAR_WIRE or f.type in ("Time", "Quantity", "IntOrString", "RawJSON"):
            singles[number] = _decode_value(f, wire, value, here)  # the last occurrence wins
        elif wire != LEN:
            raise Malformed(f"{here}: wire type {wire} for a message")
        else:  # repeated occurrences of an embedded message merge, i.e. their bytes concatenate
            singles[number] = singles.get(number, b"") + value
    out: dict = {}
    for number, f in table.items():
        if number in maps:
            out[f.json] = maps[number]
        elif number in repeated:
            out[f.json] = repeated[number]
        elif number in singles:
            value = singles[number]
            if isinstance(value, bytes):
                value = decode_message(f.type, value, f"{where}.{f.json}")
                if f.inline:
                    for key, item in value.items():
                        out.setdefault(key, item)
                    continue
            elif value is None or (_is_zero(value) and not f.keep):
                continue
            out[f.json] = value
    return out


def _inline_names(name: str) -> set[str]:
    names: set[str] = set()
    for f in MESSAGES[name].values():
        names |= _inline_names(f.type) if f.inline else {f.json}
    return names


def _encode_field(f: Field, value, where: str) -> bytes:
    if f.type == "map":
        if not isinstance(value, dict):
            raise Unsupported(f"{where}: expected an object")
        out = b""
        vfield = Field(2, f.json, f.map_value or "string")
        for key in sorted(value):
            entry = _len_field(1, str(key).encode()) + _encode_single(vfield, value[key], f"{where}[{key}]")
            out += _len_field(f.number, entry)
        return out
    if f.repeated:
        if not isinstance(value, list):
            raise Unsupported(f"{where}: expected a list")
        return b"".join(_encode_single(f, item, f"{where}[{i}]") for i, item in enumerate(value))
    return _encode_single(f, value, where)


def _encode_single(f: Field, value, where: str) -> bytes:
    if f.type in _SCALAR_WIRE:
        return _encode_scalar(f.type, f.number, value, where)
    if f.type in ("Time", "Quantity", "IntOrString", "RawJSON"):
        return _len_field(f.number, _encode_well_known(f.type, value, where))
    return _len_field(f.number, encode_message(f.type, value, where))


def encode_message(name: str, obj: dict, where: str | None = None) -> bytes:
    """Encode the JSON form of message ``name``; fields in number order, map entries sorted by key."""
    where = where or name
    if not isinstance(obj, dict):
        raise Unsupported(f"{where}: expected an object, got {type(obj).__name__}")
    left = set(obj)
    out = b""
    for number in sorted(MESSAGES[name]):
        f = MESSAGES[name][number]
        if f.inline:
            names = _inline_names(f.type)
            part = {k: v for k, v in obj.items() if k in names}
            left -= set(part)
            if part:
                out += _len_field(number, encode_message(f.type, part, where))
            continue
        if f.json not in obj:
            continue
        left.discard(f.json)
        if obj[f.json] is not None:
            out += _encode_field(f, obj[f.json], f"{where}.{f.json}")
    if left:
        raise Unsupported(f"{where}: {', '.join(sorted(left))} not in this runtime's protobuf table for {name}")
    return out


# --- objects --------------------------------------------------------------------------------------------------


def decode_object(body: bytes) -> dict:
    """A Kubernetes protobuf body -> the object dict (with ``apiVersion`` and ``kind``)."""
    api_version, kind, raw = unwrap(body)
    obj = {"apiVersion": api_version, "kind": kind} if api_version else {"kind": kind}
    obj.update(decode_message(message_for(api_version, kind), raw, kind))
    return obj


def encode_object(obj: dict) -> bytes:
    """The inverse of ``decode_object``."""
    api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
    rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return wrap(api_version, kind, encode_message(message_for(api_version, kind), rest, kind))


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == MEDIA_TYPE


def request_object(body: bytes) -> dict:
    """Decode a request body sent as ``application/vnd.kubernetes.protobuf``; errors become API errors
    (415 for a kind/field this runtime has no table for, 400 for bytes that are not a protobuf object)."""
    try:
        return decode_object(body or b"")
    except Unsupported as exc:
        raise HTTPError(
            415,
            "UnsupportedMediaType",
            f"this test runtime cannot decode this protobuf body: {exc} (send the object as JSON instead, "
            "e.g. kubectl create -f / apply -f)",
        ) from None
    except Malformed as exc:
        raise HTTPError(400, "BadRequest", f"the protobuf request body is malformed: {exc}") from None
