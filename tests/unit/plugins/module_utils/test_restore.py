# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks restore.yml makes before anything stops (module_utils/_restore.py)."""

from __future__ import annotations

import hashlib

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._restore import parse_manifest, restore_plan, stem

TOKEN = "K10" + "a" * 64 + "::server:" + "p" * 32 + "\n"
NAME = "edgefleet-server-1-1764770000"


def backup(name=NAME, files=None):
    """A backup set: (manifest text, checksums as the controller computed them)."""
    files = files or {name: b"snapshot bytes", stem(name) + ".token": TOKEN.encode()}
    sums = {f: hashlib.sha256(data).hexdigest() for f, data in files.items()}
    return "".join("%s  %s\n" % (sums[f], f) for f in files), sums


def servers(*data):
    return [
        {"name": "server-%d" % (i + 1), "etcd_data": d == "etcd", "sqlite_data": d == "sqlite"}
        for i, d in enumerate(data)
    ]


def test_an_intact_backup_of_this_cluster_restores():
    manifest, sums = backup()
    plan = restore_plan(NAME, manifest, sums, TOKEN, servers("etcd", "etcd", "etcd"), TOKEN)
    assert plan == {"kind": "etcd", "fresh": False, "agent_token": False, "problems": []}


def test_rebuilt_servers_are_the_disaster_case_and_the_agent_token_comes_along():
    files = {NAME + ".zip": b"zip", NAME + ".token": TOKEN.encode(), NAME + ".agent-token": b"agent-pw\n"}
    manifest, sums = backup(NAME + ".zip", files)
    plan = restore_plan(NAME + ".zip", manifest, sums, TOKEN, servers(None, None, None), "")
    assert plan == {"kind": "etcd", "fresh": True, "agent_token": True, "problems": []}


def test_sqlite_backup_on_a_single_server():
    files = {NAME + ".db": b"db", NAME + ".token": TOKEN.encode()}
    manifest, sums = backup(NAME + ".db", files)
    assert restore_plan(NAME + ".db", manifest, sums, TOKEN, servers("sqlite"), TOKEN)["problems"] == []
    assert restore_plan(NAME + ".db", manifest, sums, TOKEN, servers(None), "")["fresh"] is True


def only(plan):
    (problem,) = plan["problems"]
    return problem


def test_a_changed_or_missing_file_is_not_an_intact_backup():
    manifest, sums = backup()
    changed = dict(sums, **{NAME: "0" * 64})
    assert "the sha256 of %s does not match" % NAME in only(
        restore_plan(NAME, manifest, changed, TOKEN, servers("etcd"), TOKEN)
    )
    gone = dict(sums, **{NAME + ".token": ""})
    assert only(restore_plan(NAME, manifest, gone, TOKEN, servers("etcd"), TOKEN)).startswith(NAME + ".token missing")
    for text in ("", "not a manifest\n", "%s  ../x\n" % ("0" * 64)):
        assert "not a complete, intact backup" in only(restore_plan(NAME, text, sums, TOKEN, servers("etcd"), TOKEN))


def test_a_manifest_that_leaves_out_the_token_is_refused():
    manifest, sums = backup(files={NAME: b"snapshot bytes"})
    assert "does not list %s.token" % NAME in only(restore_plan(NAME, manifest, sums, TOKEN, servers("etcd"), TOKEN))


def test_no_token_no_restore():
    manifest, sums = backup()
    assert "holds no token" in only(restore_plan(NAME, manifest, sums, " \n", servers(None), ""))


def test_another_clusters_token_is_refused_and_not_shown():
    manifest, sums = backup()
    other = "K10" + "a" * 64 + "::server:" + "q" * 32
    problem = only(restore_plan(NAME, manifest, sums, TOKEN, servers("etcd"), other))
    assert "must be this cluster's own" in problem
    assert "p" * 32 not in problem and "q" * 32 not in problem


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (NAME, ("sqlite",), "the backup's datastore (etcd) must be the cluster's (sqlite)"),
        (NAME + ".db", ("etcd",), "the backup's datastore (sqlite) must be the cluster's (etcd)"),
        (NAME + ".db", (None, None, None), "it restores onto a single server, but k3s_servers has 3"),
        (NAME, (None, "etcd", "etcd"), "server-1 has no datastore while server-2, server-3 hold one"),
    ],
)
def test_datastore_and_topology_must_fit(name, data, expected):
    files = {name: b"x", stem(name) + ".token": TOKEN.encode()}
    manifest, sums = backup(name, files)
    assert expected in only(restore_plan(name, manifest, sums, TOKEN, servers(*data), TOKEN))


def test_manifest_parsing():
    digest = "ab" * 32
    assert parse_manifest("%s  a.db\n\n%s  a.token\n" % (digest, digest)) == {"a.db": digest, "a.token": digest}
    assert parse_manifest("%s a.db\n" % digest) is None
    assert parse_manifest("") == {}
