"""The datastore interface (what kine/etcd are to k3s) and its SQLite implementation.

Both ``SqliteKV`` (single server, ``server/db/state.db``) and ``k3srt.etcd.EtcdKV`` (embedded etcd) implement
``KV``. Revisions are store-wide and strictly increasing, like etcd's.
"""

from __future__ import annotations

import sqlite3
import threading


class Conflict(Exception):
    """A compare-and-swap precondition (expect_revision) did not hold."""


class KV:
    def get(self, key: str) -> tuple[bytes, int] | None:
        raise NotImplementedError

    def list(self, prefix: str) -> list[tuple[str, bytes, int]]:
        raise NotImplementedError

    def put(self, key: str, value: bytes | str, expect_revision: int | None = None) -> int:
        """Write key. expect_revision=None: unconditional; 0: key must not exist; n: key's mod_revision must be n."""
        raise NotImplementedError

    def delete(self, key: str, expect_revision: int | None = None) -> bool:
        raise NotImplementedError

    def revision(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _b(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


class SqliteKV(KV):
    """A small kine-like store: one table, a global revision counter."""

    def __init__(self, path: str):
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, mod_revision INTEGER NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('revision', 1)")

    def revision(self) -> int:
        with self._lock:
            return self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()[0]

    def get(self, key):
        with self._lock:
            row = self._db.execute("SELECT value, mod_revision FROM kv WHERE key=?", (key,)).fetchone()
        return (bytes(row[0]), row[1]) if row else None

    def list(self, prefix):
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value, mod_revision FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()
        return [(k, bytes(v), r) for k, v, r in rows]

    def _check(self, key, expect_revision):
        if expect_revision is None:
            return
        row = self._db.execute("SELECT mod_revision FROM kv WHERE key=?", (key,)).fetchone()
        current = row[0] if row else 0
        if current != expect_revision:
            raise Conflict(f"{key}: revision {current} != {expect_revision}")

    def put(self, key, value, expect_revision=None):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._check(key, expect_revision)
                rev = self.revision() + 1
                self._db.execute("UPDATE meta SET value=? WHERE name='revision'", (rev,))
                self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, _b(value), rev))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return rev

    def delete(self, key, expect_revision=None):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._check(key, expect_revision)
                cur = self._db.execute("DELETE FROM kv WHERE key=?", (key,))
                if cur.rowcount:
                    self._db.execute("UPDATE meta SET value=value+1 WHERE name='revision'")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cur.rowcount > 0

    def close(self):
        with self._lock:
            self._db.close()
