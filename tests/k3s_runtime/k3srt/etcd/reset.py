"""--cluster-reset [--cluster-reset-restore-path]: shrink to (or restore as) a single-member cluster."""

from __future__ import annotations

import os
import shutil
import tempfile

from . import layout, snapshot
from .client import EtcdAPIError, EtcdClient, EtcdKV, EtcdUnavailable
from .process import EtcdProcess, build_args, wait_ready

RESET_DONE = (
    "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. Backup and delete "
    "${datadir}/server/db on each peer etcd server and rejoin the nodes"
)


def previously_reset(flag_path: str) -> str:
    return (
        "Managed etcd cluster membership was previously reset, please remove the cluster-reset flag and start k3s "
        "normally. If you need to perform another cluster reset, you must first manually delete the file at "
        f"{flag_path}"
    )


def _restore(ctx, restore_path: str) -> str:
    """Move the old data aside and restore the snapshot as a single member under a new name."""
    db = layout.db_dir(ctx)
    layout.ensure_dir(db)
    workdir = tempfile.mkdtemp(prefix=".restore-", dir=db)
    try:
        db_file = snapshot.unpack(restore_path, workdir)
        if os.path.exists(layout.etcd_dir(ctx)):
            old = os.path.join(db, f"etcd-old-{layout.unix_now()}")
            os.rename(layout.etcd_dir(ctx), old)
            layout.log(ctx, f"Moved existing etcd data to {old}")
        target = os.path.join(workdir, "etcd")
        name = f"{ctx.node_name}-{os.urandom(4).hex()}"
        peer = layout.advertise_peer_url(ctx)
        layout.log(ctx, f"Pre-restore etcd database moved; restoring snapshot {restore_path} as member {name}")
        snapshot.etcdctl(
            ctx,
            "snapshot",
            "restore",
            db_file,
            f"--name={name}",
            f"--data-dir={target}",
            f"--initial-cluster={name}={peer}",
            f"--initial-advertise-peer-urls={peer}",
        )
        os.rename(target, layout.etcd_dir(ctx))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    os.chmod(layout.etcd_dir(ctx), 0o700)
    with open(layout.name_file(ctx), "w") as f:
        f.write(name)
    return name


def _verify(ctx, name: str, force_new_cluster: bool) -> None:
    """Run etcd with loopback-only listeners until it serves as a one-member cluster, then stop it."""
    args = build_args(ctx, name, None, None, loopback_only=True, force_new_cluster=force_new_cluster)
    proc = EtcdProcess(ctx, args, restart=False)
    proc.start()
    client = EtcdClient.for_ctx(ctx)
    try:
        wait_ready(ctx, client, proc, layout.start_timeout(ctx), need_leader=True)
        members = client.member_list()
        if len(members) != 1:
            raise layout.EtcdError(f"etcd cluster still has {len(members)} members after reset")
        hook = getattr(ctx, "on_etcd_reset", None)
        if callable(hook):  # core may re-extract bootstrap data while the reset member runs
            hook(EtcdKV(client))
    finally:
        proc.stop()
        client.close()


def cluster_reset(ctx, restore_path: str | None) -> int:
    flag = layout.reset_flag(ctx)
    try:
        if restore_path:
            if not os.path.exists(restore_path):
                raise layout.EtcdError(f"etcd: snapshot path does not exist: {restore_path}")
            if os.path.isdir(restore_path):
                raise layout.EtcdError(f"etcd: snapshot path must be a file, not a directory: {restore_path}")
            name = _restore(ctx, restore_path)
            force_new = False
        else:
            if os.path.exists(flag):
                raise layout.EtcdError(previously_reset(flag))
            if not os.path.isdir(layout.wal_dir(ctx)):
                raise layout.EtcdError(f"etcd: no existing etcd data found in {layout.etcd_dir(ctx)} to reset")
            name = layout.member_name(ctx)
            force_new = True
            layout.log(ctx, "Resetting etcd cluster membership to this member only")
        _verify(ctx, name, force_new)
    except (layout.EtcdError, snapshot.SnapshotError, EtcdAPIError, EtcdUnavailable, OSError) as exc:
        layout.log(ctx, str(exc), "fatal")
        return 1
    with open(flag, "w") as f:
        f.write("")
    layout.log(ctx, f'Shutdown request received: "{RESET_DONE}"', "error")
    return 0
