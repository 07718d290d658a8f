"""SQLite (kine) → etcd migration when a new etcd cluster is created over an existing server/db/state.db."""

from __future__ import annotations

import os

from ..kv import SqliteKV
from . import layout


def from_sqlite(ctx, kv) -> int:
    path = os.path.join(layout.db_dir(ctx), "state.db")
    if not os.path.isfile(path):
        return 0
    layout.log(ctx, f"Migrating content from sqlite to etcd: {path}")
    src = SqliteKV(path)
    try:
        rows = src.list("/registry/")
        for key, value, _rev in rows:
            kv.put(key, value)
    finally:
        src.close()
    os.rename(path, path + ".migrated")
    layout.log(ctx, f"Migrated {len(rows)} keys from sqlite to etcd")
    return len(rows)
