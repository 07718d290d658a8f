# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""The work behind edgefleet.k3s.k3s_snapshot: back up the datastore of a k3s server.

* Embedded etcd: ``k3s etcd-snapshot save|ls|delete|prune`` (pkg/cli/etcdsnapshot), whose output is parsed here.
* SQLite: an online copy of ``server/db/state.db`` through SQLite's backup API (never a file copy of a live
  database), checked with ``PRAGMA integrity_check`` before it is kept.

Every backup gets a copy of the server token (a restore needs it) and a sha256 manifest, kept in the layout's
``backup_dir``: k3s takes every file of its snapshot directory for a snapshot, so nothing else may live there. SQLite
backups live in ``backup_dir`` too. All files are 0600 and written through a private temporary file, so a full disk
or an error never leaves a half file or touches earlier backups.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time

from ansible_collections.edgefleet.k3s.plugins.module_utils._k3slog import messages
from ansible_collections.edgefleet.k3s.plugins.module_utils._restore import stem as backup_stem

SAVED = re.compile(r"^Snapshot (\S+) saved\.$")
DELETED = re.compile(r"^Snapshot (\S+) deleted\.$")
NOT_FOUND = re.compile(r"^Snapshot (\S+) not found\.$")
PRIVATE = 0o600


class SnapshotError(Exception):
    pass


# -- k3s output ---------------------------------------------------------------------------------------------------


def saved_names(text):
    """Names of ``Snapshot <name> saved.`` lines (one per copy: the local file, and the S3 copy if any)."""
    return _matching(text, SAVED)


def deleted_names(text):
    return _matching(text, DELETED)


def not_found_names(text):
    return _matching(text, NOT_FOUND)


def _matching(text, pattern):
    out = []
    for _level, msg in messages(text):
        match = pattern.match(msg)
        if match and match.group(1) not in out:
            out.append(match.group(1))
    return out


def fatal_message(text):
    """The last error or fatal message of a failed k3s command, else its last line."""
    found = [msg for level, msg in messages(text) if level in ("error", "fatal")]
    if found:
        return found[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def parse_list(text):
    """``k3s etcd-snapshot ls -o json`` → one dict per ETCDSnapshotFile, oldest first then by name."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SnapshotError("k3s etcd-snapshot ls -o json printed no JSON: %s" % exc) from exc
    rows = []
    for item in data.get("items") or []:
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        location = spec.get("location") or ""
        rows.append(
            {
                "name": spec.get("snapshotName") or "",
                "node": spec.get("nodeName") or "",
                "location": location,
                "path": location[len("file://") :] if location.startswith("file://") else None,
                "size": int(status.get("size") or 0),
                "created": status.get("creationTime") or "",
                "ready": bool(status.get("readyToUse", True)),
            }
        )
    rows.sort(key=lambda r: (r["created"], r["name"]))
    return rows


def prune_plan(rows, prefix, retention):
    """Which local snapshots k3s's prune would delete: those named ``<prefix>…``, oldest first, beyond retention."""
    local = [r for r in rows if r["path"] is not None and r["name"].startswith(prefix)]
    return [r["name"] for r in local[: max(0, len(local) - retention)]]


# -- files ----------------------------------------------------------------------------------------------------------


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def private_temp(directory, suffix=""):
    """A 0600 temporary file in DIRECTORY, removed unless the caller renamed it away."""
    fd, path = tempfile.mkstemp(prefix=".edgefleet-", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def write_private(path, data):
    with private_temp(os.path.dirname(path)) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, PRIVATE)
        os.rename(tmp, path)


def manifest_text(files):
    """sha256sum's format for each (path, sha256)."""
    return "".join("%s  %s\n" % (digest, os.path.basename(path)) for path, digest in files)


def sqlite_backup(db_path, dest_path):
    """Copy a live SQLite database consistently (backup API), verify the copy, keep it only when it is intact."""
    if not os.path.isfile(db_path):
        raise SnapshotError("no SQLite datastore at %s" % db_path)
    with private_temp(os.path.dirname(dest_path), ".db") as tmp:
        source = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
                result = target.execute("PRAGMA integrity_check").fetchall()
            finally:
                target.close()
        except sqlite3.Error as exc:
            raise SnapshotError("the SQLite backup of %s failed: %s" % (db_path, exc)) from exc
        finally:
            source.close()
        if result != [("ok",)]:
            raise SnapshotError("the copy of %s failed its integrity check: %s" % (db_path, result))
        os.chmod(tmp, PRIVATE)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.rename(tmp, dest_path)


def detect_datastore(paths):
    if os.path.isdir(paths["etcd_wal"]):
        return "etcd"
    if os.path.isfile(paths["sqlite_db"]):
        return "sqlite"
    raise SnapshotError(
        "no local datastore on this host: neither embedded etcd (%s) nor SQLite (%s); an external datastore is backed "
        "up with its own tools" % (paths["etcd_wal"], paths["sqlite_db"])
    )


# -- the manager ----------------------------------------------------------------------------------------------------


class SnapshotManager:
    """``run(argv) -> (rc, stdout, stderr)`` runs a command on the host."""

    def __init__(self, params, paths, run, check_mode, now=time.time):
        self.p = params
        self.paths = paths
        self.run = run
        self.check_mode = check_mode
        self.now = now

    def datastore(self):
        kind = self.p["datastore"]
        return detect_datastore(self.paths) if kind == "auto" else kind

    def directory(self):
        """Where the backups themselves are: k3s's snapshot directory for etcd, the backup directory for SQLite."""
        if self.p["dir"]:
            return self.p["dir"]
        return self.paths["snapshot_dir"] if self.datastore() == "etcd" else self.paths["backup_dir"]

    def meta_dir(self):
        """Token copies and manifests; created (0700) when missing."""
        directory = self.paths["backup_dir"]
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700)
        return directory

    def _k3s(self, *args):
        argv = [self.paths["bin"], "etcd-snapshot", *args]
        if self.p["dir"]:
            argv += ["--dir", self.p["dir"]]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise SnapshotError("k3s etcd-snapshot %s failed: %s" % (args[0], fatal_message(err + "\n" + out)))
        return out, err

    def rows(self):
        out, _err = self._k3s("ls", "-o", "json")
        return parse_list(out)

    # -- operations -------------------------------------------------------------------------------------------------

    def save(self):
        kind = self.datastore()
        directory = self.directory()
        if self.check_mode:
            return {"changed": True, "datastore": kind, "dir": directory}
        if not os.path.isdir(directory):
            if self.p["dir"]:  # as k3s: a directory you name must exist
                raise SnapshotError("the snapshot directory %s does not exist" % directory)
            if kind == "sqlite":  # k3s creates its default directory for etcd itself
                os.makedirs(directory, mode=0o700)
        elif not os.access(directory, os.W_OK):
            raise SnapshotError("the snapshot directory %s is not writable" % directory)
        if kind == "etcd":
            out, err = self._k3s("save", "--name", self.p["name"])
            names = saved_names(err + "\n" + out)
            if not names:
                raise SnapshotError("k3s etcd-snapshot save reported no saved snapshot: %s" % fatal_message(err + out))
            name = names[0]
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                # etcd-snapshot-dir set in config.yaml (or a drop-in): k3s knows where it wrote the file.
                listed = [r["path"] for r in self.rows() if r.get("name") == name and r.get("path")]
                path = listed[0] if listed else path
            if not os.path.isfile(path):
                raise SnapshotError("k3s reported snapshot %s saved, but %s does not exist" % (name, path))
        else:
            name = "%s-%s-%d.db" % (self.p["name"], self.p["node_name"], int(self.now()))
            path = os.path.join(directory, name)
            sqlite_backup(self.paths["sqlite_db"], path)
        os.chmod(path, PRIVATE)
        result = self._seal(name, path, self.meta_dir(), kind)
        result["changed"] = True
        return result

    def _seal(self, name, path, directory, kind):
        """Token copy and sha256 manifest in DIRECTORY; a restore refuses a set that does not add up."""
        stem = backup_stem(name)
        files = [(path, sha256_file(path))]
        token_path = agent_token_path = None
        if self.p["include_token"]:
            try:
                with open(self.paths["server_token"], "rb") as handle:
                    token = handle.read()
            except OSError as exc:
                os.unlink(path)
                raise SnapshotError(
                    "cannot read the server token %s (a backup without it cannot be restored): %s"
                    % (self.paths["server_token"], exc)
                ) from exc
            token_path = os.path.join(directory, stem + ".token")
            write_private(token_path, token)
            files.append((token_path, sha256_file(token_path)))
            # The agents' password file the roles write: with it, servers rebuilt from this backup hand the agents
            # the password they already hold.
            try:
                with open(self.paths["agent_token_file"], "rb") as handle:
                    agent_token = handle.read()
            except FileNotFoundError:
                agent_token = None
            if agent_token is not None:
                agent_token_path = os.path.join(directory, stem + ".agent-token")
                write_private(agent_token_path, agent_token)
                files.append((agent_token_path, sha256_file(agent_token_path)))
        manifest = os.path.join(directory, stem + ".sha256")
        write_private(manifest, manifest_text(files).encode())
        return {
            "name": name,
            "path": path,
            "size": os.path.getsize(path),
            "sha256": files[0][1],
            "node": self.p["node_name"],
            "datastore": kind,
            "token_file": token_path,
            "agent_token_file": agent_token_path,
            "manifest": manifest,
        }

    def list(self):
        kind = self.datastore()
        if kind == "etcd":
            return {"changed": False, "datastore": kind, "snapshots": self.rows()}
        directory = self.directory()
        rows = []
        for entry in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            path = os.path.join(directory, entry)
            if entry.endswith(".db") and not entry.startswith(".") and os.path.isfile(path):
                rows.append(
                    {
                        "name": entry,
                        "node": self.p["node_name"],
                        "location": "file://" + path,
                        "path": path,
                        "size": os.path.getsize(path),
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(path))),
                        "ready": True,
                    }
                )
        rows.sort(key=lambda r: (r["created"], r["name"]))
        return {"changed": False, "datastore": kind, "snapshots": rows}

    def delete(self):
        names = self.p["names"]
        if not names:
            raise SnapshotError("no snapshots given for removal")
        existing = [r["name"] for r in self.list()["snapshots"]]
        present = [n for n in names if n in existing]
        if self.check_mode or not present:
            return {"changed": bool(present), "deleted": present, "not_found": [n for n in names if n not in present]}
        if self.datastore() == "etcd":
            out, err = self._k3s("delete", *present)
            deleted = deleted_names(err + "\n" + out)
        else:
            deleted = []
            for name in present:
                os.unlink(os.path.join(self.directory(), name))
                deleted.append(name)
        for name in deleted:
            self._drop_companions(name)
        return {"changed": bool(deleted), "deleted": deleted, "not_found": [n for n in names if n not in deleted]}

    def prune(self):
        retention = self.p["retention"]
        rows = self.list()["snapshots"]
        planned = prune_plan(rows, self.p["name"], retention)
        if self.check_mode or not planned:
            return {"changed": bool(planned), "deleted": planned}
        if self.datastore() == "etcd":
            out, err = self._k3s("prune", "--name", self.p["name"], "--snapshot-retention", str(retention))
            deleted = deleted_names(err + "\n" + out)
        else:
            deleted = []
            for name in planned:
                os.unlink(os.path.join(self.directory(), name))
                deleted.append(name)
        for name in deleted:
            self._drop_companions(name)
        return {"changed": bool(deleted), "deleted": deleted}

    def _drop_companions(self, name):
        stem = backup_stem(name)
        for suffix in (".token", ".agent-token", ".sha256"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.paths["backup_dir"], stem + suffix))

    def execute(self):
        return getattr(self, self.p["command"])()
