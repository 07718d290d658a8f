# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_snapshot.py: parsing k3s etcd-snapshot's output, the SQLite online backup, the backup set."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils import _layout
from ansible_collections.edgefleet.k3s.plugins.module_utils._snapshot import (
    SnapshotError,
    SnapshotManager,
    deleted_names,
    fatal_message,
    not_found_names,
    parse_list,
    prune_plan,
    saved_names,
    sqlite_backup,
)

# Lines as k3s prints them (logrus text format on stderr; pkg/cli/etcdsnapshot/etcd_snapshot.go).
SAVED = 'time="2025-07-22T10:02:03Z" level=info msg="Snapshot on-demand-node1-1753178523 saved."'
SAVED_S3 = 'time="2025-07-22T10:02:04Z" level=info msg="Snapshot on-demand-node1-1753178523 saved."'
DELETED = 'time="2025-07-22T10:05:00Z" level=info msg="Snapshot on-demand-node1-1753170000 deleted."'
NOT_FOUND = 'time="2025-07-22T10:05:00Z" level=warning msg="Snapshot nope not found."'
FATAL = 'time="2025-07-22T10:05:00Z" level=fatal msg="etcd datastore disabled, see server log for details"'


def listing(*items):
    """k3s etcd-snapshot ls -o json: a List of ETCDSnapshotFile (pkg/etcd/snapshot/types.go)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {
                    "apiVersion": "k3s.cattle.io/v1",
                    "kind": "ETCDSnapshotFile",
                    "spec": {"snapshotName": name, "nodeName": "node1", "location": location},
                    "status": {"creationTime": created, "size": str(size), "readyToUse": True},
                }
                for name, location, created, size in items
            ],
        }
    )


def test_saved_deleted_and_missing_names():
    assert saved_names("\n".join([SAVED, SAVED_S3])) == ["on-demand-node1-1753178523"]
    assert deleted_names(DELETED + "\n" + NOT_FOUND) == ["on-demand-node1-1753170000"]
    assert not_found_names(DELETED + "\n" + NOT_FOUND) == ["nope"]
    assert saved_names("Snapshot x saved") == []  # no final dot: not k3s's line


def test_fatal_message_prefers_errors():
    assert fatal_message("noise\n" + FATAL) == "etcd datastore disabled, see server log for details"
    assert fatal_message("first\nlast line\n") == "last line"
    assert fatal_message("") == "no output"


def test_parse_list_sorts_and_reads_locations():
    rows = parse_list(
        listing(
            ("b", "file:///snap/b", "2025-07-22T10:00:00Z", 20),
            ("a", "s3://bucket/folder/a", "2025-07-22T09:00:00Z", 10),
        )
    )
    assert [r["name"] for r in rows] == ["a", "b"]
    assert rows[0]["path"] is None and rows[1]["path"] == "/snap/b"
    assert rows[1]["size"] == 20 and rows[1]["node"] == "node1"
    with pytest.raises(SnapshotError, match="printed no JSON"):
        parse_list("Name Location Size Created\n")


def test_prune_plan_keeps_the_newest_local_ones_of_the_prefix():
    rows = parse_list(
        listing(
            ("nightly-n-1", "file:///s/nightly-n-1", "2025-01-01T00:00:01Z", 1),
            ("nightly-n-2", "file:///s/nightly-n-2", "2025-01-01T00:00:02Z", 1),
            ("other-n-3", "file:///s/other-n-3", "2025-01-01T00:00:03Z", 1),
            ("nightly-n-4", "s3://b/nightly-n-4", "2025-01-01T00:00:04Z", 1),
            ("nightly-n-5", "file:///s/nightly-n-5", "2025-01-01T00:00:05Z", 1),
        )
    )
    assert prune_plan(rows, "nightly", 2) == ["nightly-n-1"]
    assert prune_plan(rows, "nightly", 3) == []
    assert prune_plan(rows, "other", 1) == []


def _db(path, rows=3):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE kine (id INTEGER PRIMARY KEY, name TEXT, value BLOB)")
    con.executemany("INSERT INTO kine (name, value) VALUES (?, ?)", [("/k%d" % i, b"v" * i) for i in range(rows)])
    con.commit()
    return con


def test_sqlite_backup_is_a_consistent_verified_private_copy(tmp_path):
    live = _db(tmp_path / "state.db")  # the writer keeps its connection open, as kine does
    dest = tmp_path / "backup.db"
    sqlite_backup(str(tmp_path / "state.db"), str(dest))
    live.close()
    copy = sqlite3.connect(dest)
    assert copy.execute("SELECT count(*) FROM kine").fetchone() == (3,)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgefleet-")] == []


def test_sqlite_backup_refuses_a_missing_or_broken_database(tmp_path):
    with pytest.raises(SnapshotError, match="no SQLite datastore"):
        sqlite_backup(str(tmp_path / "missing.db"), str(tmp_path / "b.db"))
    (tmp_path / "bad.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SnapshotError, match="backup of .* failed"):
        sqlite_backup(str(tmp_path / "bad.db"), str(tmp_path / "b.db"))
    assert not (tmp_path / "b.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".edgefleet-")] == []


@pytest.fixture
def paths(tmp_path):
    values = {
        k: (str(tmp_path) + v if isinstance(v, str) and v.startswith("/") else v)
        for k, v in _layout.layout("server").items()
    }
    os.makedirs(os.path.dirname(values["server_token"]))
    with open(values["server_token"], "w") as handle:
        handle.write("K10" + "a" * 64 + "::server:secret-password\n")
    return values


def params(**values):
    base = {
        "command": "save",
        "name": "on-demand",
        "names": [],
        "retention": None,
        "datastore": "auto",
        "dir": None,
        "include_token": True,
        "node_name": "node1",
    }
    base.update(values)
    return base


class K3s:
    """k3s etcd-snapshot on a fake host: save writes the file k3s would write and prints k3s's line."""

    def __init__(self, paths, rc=0, configured_dir=None):
        self.paths = paths
        self.rc = rc
        self.calls = []
        self.default_dir = configured_dir or paths["snapshot_dir"]  # etcd-snapshot-dir of config.yaml

    def __call__(self, argv):
        self.calls.append(argv)
        if self.rc:
            return self.rc, "", FATAL
        sub = argv[2]
        directory = argv[argv.index("--dir") + 1] if "--dir" in argv else self.default_dir
        if sub == "save":
            name = "%s-node1-1753178523" % argv[argv.index("--name") + 1]
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, name), "wb") as handle:
                handle.write(b"etcd snapshot bytes")
            return 0, "", SAVED.replace("on-demand-node1-1753178523", name)
        if sub == "ls":
            files = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
            items = [
                (f, "file://" + os.path.join(directory, f), "2025-07-22T10:00:%02dZ" % i, 1)
                for i, f in enumerate(files)
            ]
            return 0, listing(*items), ""
        if sub in ("delete", "prune"):
            return 0, "", "\n".join(DELETED.replace("on-demand-node1-1753170000", n) for n in self.deletes(argv))
        raise AssertionError(argv)

    def deletes(self, argv):
        names = [a for a in argv[3:] if not a.startswith("--")] if argv[2] == "delete" else []
        directory = argv[argv.index("--dir") + 1] if "--dir" in argv else self.default_dir
        for name in names:
            os.unlink(os.path.join(directory, name))
        return names


def _etcd(paths):
    os.makedirs(paths["etcd_wal"])


def test_etcd_save_seals_the_backup_with_token_and_manifest(paths):
    _etcd(paths)
    k3s = K3s(paths)
    result = SnapshotManager(params(name="nightly"), paths, k3s, check_mode=False).execute()
    assert k3s.calls == [[paths["bin"], "etcd-snapshot", "save", "--name", "nightly"]]
    name = "nightly-node1-1753178523"
    assert (result["name"], result["datastore"], result["changed"]) == (name, "etcd", True)
    assert result["sha256"] == hashlib.sha256(b"etcd snapshot bytes").hexdigest()
    with open(result["token_file"]) as handle:
        assert handle.read().endswith("::server:secret-password\n")
    # nothing but the snapshot in k3s's snapshot directory: k3s lists every file there as a snapshot
    assert os.listdir(paths["snapshot_dir"]) == [name]
    assert os.path.dirname(result["manifest"]) == paths["backup_dir"]
    with open(result["manifest"]) as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "%s  %s" % (result["sha256"], name)
    assert lines[1].endswith("  %s.token" % name)
    assert len(lines) == 2 and result["agent_token_file"] is None  # this server has no agents' password file
    for path in (result["path"], result["token_file"], result["manifest"]):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_the_agents_password_file_is_saved_with_the_backup_and_goes_with_it(paths):
    _etcd(paths)
    os.makedirs(os.path.dirname(paths["agent_token_file"]), exist_ok=True)
    with open(paths["agent_token_file"], "w") as handle:
        handle.write("agent-password-0123456789\n")
    saved = SnapshotManager(params(), paths, K3s(paths), check_mode=False).execute()
    with open(saved["agent_token_file"]) as handle:
        assert handle.read() == "agent-password-0123456789\n"
    assert stat.S_IMODE(os.stat(saved["agent_token_file"]).st_mode) == 0o600
    with open(saved["manifest"]) as handle:
        manifest = dict(reversed(line.split("  ")) for line in handle.read().splitlines())
    assert (
        manifest[os.path.basename(saved["agent_token_file"])]
        == hashlib.sha256(b"agent-password-0123456789\n").hexdigest()
    )
    SnapshotManager(params(command="delete", names=[saved["name"]]), paths, K3s(paths), check_mode=False).execute()
    assert os.listdir(paths["backup_dir"]) == []


def test_a_snapshot_dir_from_config_yaml_is_found_through_k3s_ls(paths, tmp_path):
    _etcd(paths)
    configured = str(tmp_path / "site-snapshots")
    k3s = K3s(paths, configured_dir=configured)
    result = SnapshotManager(params(), paths, k3s, check_mode=False).execute()
    assert result["path"] == os.path.join(configured, "on-demand-node1-1753178523")
    assert [c[2] for c in k3s.calls] == ["save", "ls"]
    assert result["sha256"] == hashlib.sha256(b"etcd snapshot bytes").hexdigest()


def test_save_without_a_token_removes_the_snapshot_and_fails(paths):
    _etcd(paths)
    os.unlink(paths["server_token"])
    with pytest.raises(SnapshotError, match="a backup without it cannot be restored"):
        SnapshotManager(params(), paths, K3s(paths), check_mode=False).execute()
    assert os.listdir(paths["snapshot_dir"]) == []
    assert not os.path.exists(paths["backup_dir"]) or os.listdir(paths["backup_dir"]) == []


def test_failing_k3s_gives_its_message(paths):
    _etcd(paths)
    with pytest.raises(SnapshotError, match="save failed: etcd datastore disabled"):
        SnapshotManager(params(), paths, K3s(paths, rc=1), check_mode=False).execute()


def test_a_named_directory_must_exist_and_be_writable(paths, tmp_path):
    _etcd(paths)
    with pytest.raises(SnapshotError, match="does not exist"):
        SnapshotManager(params(dir=str(tmp_path / "nope")), paths, K3s(paths), check_mode=False).execute()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(str(locked), os.W_OK):  # root may write anyway: make it a file instead
        locked.rmdir()
        locked.write_text("")
        with pytest.raises(SnapshotError, match="does not exist"):
            SnapshotManager(params(dir=str(locked)), paths, K3s(paths), check_mode=False).execute()
    else:
        with pytest.raises(SnapshotError, match="not writable"):
            SnapshotManager(params(dir=str(locked)), paths, K3s(paths), check_mode=False).execute()


def test_check_mode_saves_nothing(paths):
    _etcd(paths)
    k3s = K3s(paths)
    assert SnapshotManager(params(), paths, k3s, check_mode=True).execute()["changed"] is True
    assert k3s.calls == []


def test_sqlite_save_keeps_earlier_backups(paths):
    os.makedirs(os.path.dirname(paths["sqlite_db"]), exist_ok=True)
    _db(paths["sqlite_db"]).close()
    clock = iter([1700000000, 1700000100])
    manager = SnapshotManager(params(), paths, K3s(paths), check_mode=False, now=lambda: next(clock))
    first = manager.execute()
    second = manager.execute()
    assert (first["datastore"], first["name"]) == ("sqlite", "on-demand-node1-1700000000.db")
    assert second["name"] == "on-demand-node1-1700000100.db"
    assert os.path.isfile(first["path"]) and os.path.isfile(first["token_file"])
    listed = SnapshotManager(params(command="list"), paths, K3s(paths), check_mode=False).execute()["snapshots"]
    assert [r["name"] for r in listed] == [first["name"], second["name"]]


def test_sqlite_companions_are_named_after_the_backup_without_db_and_go_with_it(paths):
    # playbooks/restore.yml looks for <name without .db>.token and .sha256 next to <name>.db
    os.makedirs(os.path.dirname(paths["sqlite_db"]), exist_ok=True)
    _db(paths["sqlite_db"]).close()
    clock = iter([1700000000, 1700000100])
    manager = SnapshotManager(params(retention=1), paths, K3s(paths), check_mode=False, now=lambda: next(clock))
    first = manager.execute()
    stem = "on-demand-node1-1700000000"
    assert (first["path"], first["token_file"], first["manifest"]) == tuple(
        os.path.join(paths["backup_dir"], stem + suffix) for suffix in (".db", ".token", ".sha256")
    )
    with open(first["manifest"]) as handle:
        assert [line.split("  ")[1] for line in handle.read().splitlines()] == [stem + ".db", stem + ".token"]
    second = manager.execute()
    pruned = SnapshotManager(params(command="prune", retention=1), paths, K3s(paths), check_mode=False).execute()
    assert pruned["deleted"] == [first["name"]]
    assert sorted(os.listdir(paths["backup_dir"])) == sorted(
        os.path.basename(second[key]) for key in ("path", "token_file", "manifest")
    )


def test_delete_and_prune_remove_the_companions(paths):
    _etcd(paths)

    def manager(**p):
        return SnapshotManager(params(**p), paths, K3s(paths), check_mode=False)

    saved = manager().execute()
    assert manager(command="delete", names=[saved["name"], "nope"]).execute() == {
        "changed": True,
        "deleted": [saved["name"]],
        "not_found": ["nope"],
    }
    assert os.listdir(paths["snapshot_dir"]) == []
    assert os.listdir(paths["backup_dir"]) == []  # token copy and manifest went with it
    assert manager(command="delete", names=["nope"]).execute()["changed"] is False


def test_prune_in_check_mode_names_what_would_go(paths):
    _etcd(paths)
    os.makedirs(paths["snapshot_dir"])
    for i in range(3):
        with open(os.path.join(paths["snapshot_dir"], "nightly-node1-%d" % i), "w") as handle:
            handle.write("x")
    result = SnapshotManager(
        params(command="prune", name="nightly", retention=1), paths, K3s(paths), check_mode=True
    ).execute()
    assert result == {"changed": True, "deleted": ["nightly-node1-0", "nightly-node1-1"]}
    assert len(os.listdir(paths["snapshot_dir"])) == 3


def test_no_local_datastore(paths):
    with pytest.raises(SnapshotError, match="no local datastore on this host"):
        SnapshotManager(params(), paths, K3s(paths), check_mode=False).execute()
