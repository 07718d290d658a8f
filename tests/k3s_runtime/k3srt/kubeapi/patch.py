"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge patch (the subset kubectl and kubelets send) and
JSON patch (RFC 6902).

Strategic merge patch here is a merge patch in which lists of objects listed in ``MERGE_KEYS`` merge item by item on
their key (containers by ``name``, conditions by ``type`` …), ``finalizers`` merge as a set, and
the directives ``$patch`` (merge/replace/delete), ``$retainKeys``, ``$deleteFromPrimitiveList/<f>`` are honoured;
``$setElementOrder/<f>`` is accepted and ignored (list order is not significant to this runtime). Lists without a
patch strategy in the Kubernetes types are replaced whole — notably ``spec.taints`` of a Node (``kubectl taint … key-``
sends the remaining list) and ``tolerations``.
"""

from __future__ import annotations

import copy
import json

from . import errors

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "env": "name",
    "conditions": "type",
    "addresses": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_SET_LISTS = {"finalizers"}

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def apply(content_type: str, target: dict, body: bytes) -> dict:
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        patch = json.loads(body or b"null")
    except ValueError as exc:
        raise errors.bad_request(f"invalid JSON in patch body: {exc}") from None
    if ctype == MERGE:
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        return merge_patch(target, patch)
    if ctype == STRATEGIC:
        if not isinstance(patch, dict):
            raise errors.bad_request("a strategic merge patch must be a JSON object")
        return strategic_merge(target, patch)
    if ctype == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request("a JSON patch must be a JSON array of operations")
        return json_patch(target, patch)
    raise errors.unsupported_media(ctype)


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge patch ------------------------------------------------------------------------------------


def strategic_merge(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _list_key(field: str, items: list) -> str | None:
    if field == "ports":
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field)


def _merge_list(field: str, current, patch_items: list):
    current = current if isinstance(current, list) else []
    if field in PRIMITIVE_SET_LISTS:
        out = list(current)
        out.extend(v for v in patch_items if v not in out)
        return out
    key = _list_key(field, patch_items + current)
    if key is None or not all(isinstance(i, dict) for i in patch_items):
        return [v for v in copy.deepcopy(patch_items) if not (isinstance(v, dict) and v.get("$patch"))]
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch_items):
        return [copy.deepcopy(i) for i in patch_items if i.get("$patch") is None]
    out = copy.deepcopy(current)
    for item in patch_items:
        kval = item.get(key)
        idx = next((n for n, cur in enumerate(out) if isinstance(cur, dict) and cur.get(key) == kval), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


# --- JSON patch -------------------------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc, parts: list[str]):
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[_index(cur, part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            raise errors.HTTPError(422, "Invalid", f"the path {'/'.join(parts)!r} does not exist")
    return cur


def _index(lst: list, part: str, for_add: bool = False) -> int:
    if part == "-" and for_add:
        return len(lst)
    try:
        idx = int(part)
    except ValueError:
        raise errors.HTTPError(422, "Invalid", f"invalid list index {part!r}") from None
    if idx < 0 or idx > len(lst) or (idx == len(lst) and not for_add):
        raise errors.HTTPError(422, "Invalid", f"list index {idx} out of range")
    return idx


def _get(doc, parts):
    if not parts:
        return doc
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    raise errors.HTTPError(422, "Invalid", f"the path /{'/'.join(parts)} does not exist")


def _add(doc, parts, value):
    if not parts:
        return value
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise errors.HTTPError(422, "Invalid", "cannot add to a scalar")
    return doc


def _remove(doc, parts):
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    raise errors.HTTPError(422, "Invalid", f"the path /{'/'.join(parts)} does not exist")


def json_patch(target, ops: list):
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request("each JSON patch operation needs 'op' and 'path'")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _get(doc, parts)
            if not parts:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_get(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise errors.HTTPError(422, "Invalid", f"test operation failed at {op['path']}")
        else:
            raise errors.bad_request(f"unknown JSON patch operation {kind!r}")
    return doc
