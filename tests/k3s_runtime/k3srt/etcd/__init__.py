"""Embedded etcd for the k3s test runtime: a real etcd child process managed the way k3s embeds etcd.

Public interface (see docs/dev/architecture.md "Runtime internal interfaces"):
has_etcd_data, start, cluster_reset, handle_db, stop, run_snapshot_cli, on_node_deleted, EtcdKV.
"""

from __future__ import annotations

import os

from . import layout
from .client import EtcdAPIError, EtcdClient, EtcdKV, EtcdUnavailable
from .dbhandler import handle_db
from .layout import EtcdError
from .members import on_node_deleted
from .reset import cluster_reset
from .runtime import start, stop

__all__ = [
    "EtcdAPIError",
    "EtcdClient",
    "EtcdError",
    "EtcdKV",
    "EtcdUnavailable",
    "cluster_reset",
    "handle_db",
    "has_etcd_data",
    "on_node_deleted",
    "run_snapshot_cli",
    "start",
    "stop",
]


def has_etcd_data(ctx) -> bool:
    """<D>/server/db/etcd/member/wal exists."""
    return os.path.isdir(layout.wal_dir(ctx))


def run_snapshot_cli(argv: list[str], env) -> int:
    from ..snapshotcmd import run_snapshot_cli as _run

    return _run(argv, env)
