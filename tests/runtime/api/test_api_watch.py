"""watch=true: ADDED for current matches, MODIFIED/DELETED by polling the KV."""

from __future__ import annotations

import json
import threading
import time


def _collect(gen, out, stop_after):
    for chunk in gen:
        if chunk:
            out.append(json.loads(chunk))
            if len(out) >= stop_after:
                break
    gen.close()


def test_watch_streams_added_modified_deleted(client):
    client("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a", "labels": {"w": "1"}}})
    client("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "other"}})
    status, gen = client(
        "GET",
        "/api/v1/namespaces/default/configmaps",
        query={"watch": "true", "labelSelector": "w", "timeoutSeconds": "10"},
    )
    assert status == 200
    events = []
    reader = threading.Thread(target=_collect, args=(gen, events, 4))
    reader.start()
    time.sleep(0.3)
    client("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b", "labels": {"w": "1"}}})
    time.sleep(0.7)
    client(
        "PATCH", "/api/v1/namespaces/default/configmaps/a", {"data": {"x": "1"}}, ctype="application/merge-patch+json"
    )
    time.sleep(0.7)
    client("DELETE", "/api/v1/namespaces/default/configmaps/b")
    reader.join(timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]


def test_watch_from_resource_version_skips_old_objects_and_reports_vanished_name(client):
    _, obj = client("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "a"}})
    rv = obj["metadata"]["resourceVersion"]
    status, gen = client(
        "GET",
        "/api/v1/namespaces/default/configmaps",
        query={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"},
    )
    assert [c for c in gen if c] == []
    client("DELETE", "/api/v1/namespaces/default/configmaps/a")
    _, gen = client(
        "GET",
        "/api/v1/namespaces/default/configmaps",
        query={"watch": "1", "resourceVersion": rv, "fieldSelector": "metadata.name=a", "timeoutSeconds": "1"},
    )
    events = [json.loads(c) for c in gen if c]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "a")]


def test_watch_ends_at_timeout(client):
    start = time.monotonic()
    _, gen = client("GET", "/api/v1/nodes", query={"watch": "true", "timeoutSeconds": "1"})
    list(gen)
    assert 0.9 < time.monotonic() - start < 3
