"""Per-server embedded-etcd state (kept on ctx) and the start/stop logic for the three start modes."""

from __future__ import annotations

import os
import shutil
import threading

from . import join, layout, migrate, promote, schedule
from .client import EtcdAPIError, EtcdClient, EtcdKV, EtcdUnavailable
from .process import EtcdProcess, build_args, wait_ready

_MAX_BACKUPS = 5
TOMBSTONE_NO_SERVER = (
    "tombstone file has been detected but --server is empty: backup and delete ${datadir}/server/db to create a "
    "new cluster, or set --server to rejoin"
)
REMOVED_MSG = "This node has been removed from the cluster - please restart k3s to rejoin the cluster"


class EtcdRuntime:
    def __init__(self, ctx, name: str):
        self.ctx = ctx
        self.name = name
        self.member_id = 0
        self.proc: EtcdProcess | None = None
        self.client = EtcdClient.for_ctx(ctx)
        self.peer_client_urls: list[str] = []  # other members' client URLs, refreshed by the promote loop
        self.removed = False
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._promoter: threading.Thread | None = None

    # called by the supervisor when etcd exits unexpectedly: restart unless we were removed
    def on_exit(self, code: int) -> bool:
        if self.stop_event.is_set():
            return False
        if self.proc is not None and "the member has been permanently removed from the cluster" in (
            self.proc.output_since_spawn()
        ):
            self.mark_removed()
            return False
        return not self.check_removed()

    def check_removed(self) -> bool:
        """True (and tombstone written) when another member's list no longer contains ours."""
        if self.removed:
            return True
        if not self.member_id or not self.peer_client_urls:
            return False
        try:
            others = EtcdClient.for_ctx(self.ctx, self.peer_client_urls, timeout=5.0).member_list()
        except Exception:  # noqa: BLE001 - peers unreachable: cannot tell
            return False
        if any(m["ID"] == self.member_id for m in others):
            return False
        self.mark_removed()
        return True

    def mark_removed(self) -> None:
        with self._lock:
            if self.removed:
                return
            self.removed = True
        layout.ensure_dir(layout.etcd_dir(self.ctx))
        with open(layout.tombstone_file(self.ctx), "w") as f:
            f.write("removed\n")
        layout.log(self.ctx, REMOVED_MSG, "info")
        if self.proc is not None:
            threading.Thread(target=self.proc.stop, daemon=True).start()
        hook = getattr(self.ctx, "on_etcd_removed", None)
        if callable(hook):
            hook()

    def start_promoter(self) -> None:
        self._promoter = threading.Thread(target=promote.loop, args=(self,), name="etcd-promote", daemon=True)
        self._promoter.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.proc is not None:
            self.proc.stop()
        if self._promoter is not None:
            self._promoter.join(10)
        self.client.close()


def get(ctx) -> EtcdRuntime | None:
    return getattr(ctx, "_etcd_runtime", None)


def _backup_etcd_dir(ctx) -> None:
    """Move server/db/etcd to etcd-backup-<unix>, keeping at most 5 backups."""
    db = layout.db_dir(ctx)
    os.rename(layout.etcd_dir(ctx), os.path.join(db, f"etcd-backup-{layout.unix_now()}"))
    backups = sorted(
        (d for d in os.listdir(db) if d.startswith("etcd-backup-")), key=lambda d: int(d.rsplit("-", 1)[1])
    )
    for old in backups[:-_MAX_BACKUPS]:
        shutil.rmtree(os.path.join(db, old), ignore_errors=True)


def _defragment(ctx, client: EtcdClient) -> None:
    """Like k3s release lines: defragment the local member on every start and report the datastore size."""
    layout.log(ctx, "Defragmenting etcd database")
    try:
        client.call("maintenance/defragment", {}, [layout.local_client_url(ctx)])
        status = client.status(layout.local_client_url(ctx))
        in_use, size = int(status.get("dbSizeInUse", 0)), int(status.get("dbSize", 0))
        layout.log(ctx, f"Datastore using {in_use} of {size} bytes after defragment")
    except (EtcdAPIError, EtcdUnavailable) as exc:
        layout.log(ctx, f"Failed to defragment etcd database: {exc}", "warning")


def start(ctx, mode: str, join_url: str | None = None) -> EtcdKV:
    if get(ctx) is not None and get(ctx).proc is not None and get(ctx).proc.alive():
        raise layout.EtcdError("etcd is already running")
    layout.ensure_dir(layout.db_dir(ctx))
    has_data = os.path.isdir(layout.wal_dir(ctx))
    if os.path.exists(layout.tombstone_file(ctx)):
        server = join_url or layout.cfg(ctx, "server")
        if not server:
            raise layout.EtcdError(TOMBSTONE_NO_SERVER)
        layout.log(ctx, "tombstone file has been detected, removing data dir to rejoin the cluster")
        _backup_etcd_dir(ctx)
        mode, join_url, has_data = "join", server, False
    elif has_data:
        mode = "existing"
    if mode not in ("new", "existing", "join"):
        raise ValueError(f"unknown etcd start mode {mode!r}")
    if mode == "existing" and not has_data:
        raise layout.EtcdError(f"etcd: no existing etcd data found in {layout.etcd_dir(ctx)}")
    if mode == "join" and not join_url:
        raise layout.EtcdError("a join URL is required to join an etcd cluster")
    if os.path.exists(layout.reset_flag(ctx)):
        os.remove(layout.reset_flag(ctx))
    layout.ensure_dir(layout.etcd_dir(ctx))
    name = layout.member_name(ctx)
    rt = EtcdRuntime(ctx, name)
    ctx._etcd_runtime = rt
    initial, state = None, None
    if mode == "new":
        initial, state = f"{name}={layout.advertise_peer_url(ctx)}", "new"
        layout.log(ctx, "Starting etcd for new cluster")
    elif mode == "join":
        initial, rt.peer_client_urls = join.join_cluster(ctx, name, join_url)
        state = "existing"
        layout.log(ctx, f"Starting etcd to join cluster with members [{initial.replace(',', ' ')}]")
    else:
        layout.log(ctx, "Starting etcd for existing cluster member")
    rt.proc = EtcdProcess(ctx, build_args(ctx, name, initial, state), on_exit=rt.on_exit)
    rt.proc.start()
    try:
        status = wait_ready(ctx, rt.client, rt.proc, layout.start_timeout(ctx), need_leader=True)
    except BaseException:
        rt.stop()
        raise
    rt.member_id = int(status["header"]["member_id"])
    if mode != "join":  # a learner refuses maintenance RPCs
        _defragment(ctx, rt.client)
    kv = EtcdKV(EtcdClient.for_ctx(ctx))
    if mode == "new" and not has_data:
        migrate.from_sqlite(ctx, kv)
    rt.start_promoter()
    schedule.start(rt)
    layout.log(ctx, f"etcd member {name} is serving on {layout.local_client_url(ctx)}")
    return kv


def stop(ctx) -> None:
    rt = get(ctx)
    if rt is not None:
        rt.stop()


def node_metadata(ctx) -> tuple[dict, dict]:
    """(labels, annotations) k3s puts on an etcd server's Node object."""
    rt = get(ctx)
    name = rt.name if rt is not None else layout.member_name(ctx)
    labels = {"node-role.kubernetes.io/etcd": "true"}
    annotations = {"etcd.k3s.cattle.io/node-name": name, "etcd.k3s.cattle.io/node-address": layout.node_ip(ctx)}
    return labels, annotations
