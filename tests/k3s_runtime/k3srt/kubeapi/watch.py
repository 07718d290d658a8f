"""``?watch=true``: a stream of JSON lines ``{"type": ADDED|MODIFIED|DELETED, "object": {...}}``.

There is no event history in the KV interface, so a watch polls the KV every ``POLL`` seconds and diffs snapshots
(keyed by storage key, compared by mod_revision). With ``resourceVersion=N`` only objects changed after N are
reported as ADDED at the start; without it every current match is ADDED first. A watch pinned to one name by
``fieldSelector=metadata.name=X`` that finds nothing at start while ``resourceVersion`` is given reports that object
as DELETED right away (it was deleted between the client's list and its watch).

The response body is a generator of ``bytes`` chunks (the listener writes it with chunked transfer encoding); it
also yields ``b""`` on every idle poll so the listener can notice a closed connection — empty chunks must not be
written (an empty chunk ends a chunked body).
"""

from __future__ import annotations

import json
import time

POLL = 0.5
DEFAULT_TIMEOUT = 300.0


def _event(kind: str, obj: dict) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def stream(store, res, namespace, match, since: int | None, timeout: float, render, pinned_name: str | None):
    """Generator of watch event lines. ``match(obj)`` filters, ``render(obj)`` shapes each event's object."""
    deadline = time.monotonic() + timeout
    seen: dict[str, tuple[int, dict]] = {}
    first = True
    while True:
        current: dict[str, tuple[int, dict]] = {}
        try:
            rows = store.list_raw(res, namespace)
        except Exception:  # noqa: BLE001 - datastore gone or failing: end the watch, the client lists again
            return
        for key, value, rev in rows:
            obj = store.decode(res, value, rev)
            if match(obj):
                current[key] = (rev, obj)
        out = []
        if first:
            for _key, (rev, obj) in current.items():
                if since is None or rev > since:
                    out.append(_event("ADDED", render(obj)))
            if since is not None and pinned_name and not current:
                stub = {
                    "apiVersion": res.api_version,
                    "kind": res.kind,
                    "metadata": {"name": pinned_name, "resourceVersion": str(store.revision())},
                }
                if res.namespaced and namespace:
                    stub["metadata"]["namespace"] = namespace
                out.append(_event("DELETED", render(stub)))
            first = False
        else:
            for key, (rev, obj) in current.items():
                if key not in seen:
                    out.append(_event("ADDED", render(obj)))
                elif seen[key][0] != rev:
                    out.append(_event("MODIFIED", render(obj)))
            for key, (_rev, obj) in seen.items():
                if key not in current:
                    obj = dict(obj)
                    obj["metadata"] = dict(obj["metadata"], resourceVersion=str(store.revision()))
                    out.append(_event("DELETED", render(obj)))
        seen = current
        yield from out or [b""]
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL)
