"""Embedded etcd for the k3s test runtime: a real etcd child process managed the way k3s embeds etcd.

Public interface (see docs/dev/architecture.md "Runtime internal interfaces"):
has_etcd_data, start, cluster_reset, handle_db, stop, run_snapshot_cli, on_node_deleted, node_metadata,
EtcdKV.

ctx attributes used: data_dir, server_dir, node_name, node_ip, tls_dir (tls/etcd/* and tls/server-ca.crt),
server_password (join: basic auth to <server>/db/info), config (etcd-arg, etcd-expose-metrics, server,
etcd-snapshot-*, etcd-disable-snapshots), log(msg, level), kv (optional: ETCDSnapshotFile objects).
Optional, with defaults: etcd_client_port 2379, etcd_peer_port 2380, etcd_metrics_port 2381,
etcd_promote_interval 5.0 s, etcd_join_retry_interval 5.0 s, etcd_start_timeout 120.0 s.
Optional hooks: on_etcd_removed() (this member was removed; tombstone written), on_etcd_reset(kv) (called
while the reset single member runs, e.g. to re-extract bootstrap data).

Modules: layout (paths/ports), process (etcd child + supervision), client (JSON gateway, EtcdKV), runtime
(start/stop, tombstone), join (learner add), promote (leader loop, removal detection), members (removal),
snapshot + schedule (/db/snapshot operations, cron), reset (--cluster-reset), migrate (sqlite → etcd),
dbhandler (/db/info, /db/snapshot).
"""

from __future__ import annotations

import os

from . import layout
from .client import EtcdAPIError, EtcdClient, EtcdKV, EtcdUnavailable
from .dbhandler import handle_db
from .layout import EtcdError
from .members import on_node_deleted
from .reset import cluster_reset
from .runtime import node_metadata, start, stop

__all__ = [
    "EtcdAPIError",
    "EtcdClient",
    "EtcdError",
    "EtcdKV",
    "EtcdUnavailable",
    "cluster_reset",
    "handle_db",
    "has_etcd_data",
    "node_metadata",
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
