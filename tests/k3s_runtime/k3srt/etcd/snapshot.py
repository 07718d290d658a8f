"""On-disk etcd snapshots: save (etcdctl), list, delete, prune by base name with retention."""

from __future__ import annotations

import datetime
import hashlib
import os
import subprocess
import tempfile
import zipfile

from . import layout

ETCDCTL_BIN = os.environ.get("K3SRT_ETCDCTL_BIN", "etcdctl")


class SnapshotError(Exception):
    pass


def default_dir(ctx) -> str:
    return os.path.join(layout.db_dir(ctx), "snapshots")


def resolve_dir(ctx, requested: str | None) -> str:
    """The snapshot dir: created (0700) only for the default path; a custom dir must exist."""
    path = requested or layout.cfg(ctx, "etcd-snapshot-dir") or default_dir(ctx)
    if path == default_dir(ctx):
        layout.ensure_dir(path)
    elif not os.path.isdir(path):
        raise SnapshotError(f"snapshot directory {path} does not exist")
    return path


def etcdctl(ctx, *args: str, endpoint: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run etcdctl (API 3) with cert *paths* (no secrets on the command line)."""
    cmd = [ETCDCTL_BIN]
    if endpoint:
        cmd += [
            f"--endpoints={endpoint}",
            f"--cacert={layout.tls(ctx, 'server-ca.crt')}",
            f"--cert={layout.tls(ctx, 'client.crt')}",
            f"--key={layout.tls(ctx, 'client.key')}",
        ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL")}
    env["ETCDCTL_API"] = "3"
    res = subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if res.returncode != 0:
        raise SnapshotError(f"etcdctl {args[0]} {args[1] if len(args) > 1 else ''} failed: {res.stderr.strip()}")
    return res


def _created(name: str, path: str) -> datetime.datetime:
    stem = name[:-4] if name.endswith(".zip") else name
    suffix = stem.rsplit("-", 1)[-1]
    ts = int(suffix) if suffix.isdigit() else int(os.stat(path).st_mtime)
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


def _files(directory: str) -> list[tuple[datetime.datetime, str, str]]:
    """(created, name, path) of every regular file in directory, oldest first then by name."""
    out = []
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and not name.startswith(".") and not name.endswith(".part"):
            out.append((_created(name, path), name, path))
    return sorted(out)


def object_name(ctx, name: str) -> str:
    """local-<snapshot name>-<6 hex of the node name hash>."""
    suffix = hashlib.sha256(ctx.node_name.encode()).hexdigest()[:6]
    return f"local-{name.lower().replace('_', '-')}-{suffix}"


def file_object(ctx, name: str, path: str, created: datetime.datetime) -> dict:
    """An ETCDSnapshotFile (k3s.cattle.io/v1) describing a local snapshot."""
    node = ctx.node_name
    return {
        "apiVersion": "k3s.cattle.io/v1",
        "kind": "ETCDSnapshotFile",
        "metadata": {
            "name": object_name(ctx, name),
            "labels": {"etcd.k3s.cattle.io/snapshot-storage-node": node},
        },
        "spec": {
            "snapshotName": name,
            "nodeName": node,
            "location": "file://" + path,
            **({"compressed": True} if name.endswith(".zip") else {}),
        },
        "status": {
            "creationTime": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "size": str(os.path.getsize(path)),
            "readyToUse": True,
        },
    }


def _record(ctx, obj: dict | None, name: str | None = None) -> None:
    """Mirror a snapshot as an ETCDSnapshotFile object when the Kubernetes API subset is present (optional)."""
    kv = getattr(ctx, "kv", None)
    if kv is None:
        return
    try:
        from ..kubeapi import inproc
    except ImportError:
        return
    try:
        if obj is not None:
            inproc.apply(kv, obj)
        else:
            inproc.delete(kv, "k3s.cattle.io/v1", "ETCDSnapshotFile", object_name(ctx, name))
    except Exception as exc:  # noqa: BLE001 - the file operation itself succeeded
        layout.log(ctx, f"Failed to record ETCDSnapshotFile for snapshot: {exc}", "warning")


def save(ctx, base: str, directory: str | None, compress: bool, retention: int) -> tuple[list[str], list[str]]:
    directory = resolve_dir(ctx, directory)
    name = f"{base}-{ctx.node_name}-{layout.unix_now()}"
    path = os.path.join(directory, name)
    layout.log(ctx, f"Saving etcd snapshot to {path}")
    etcdctl(ctx, "snapshot", "save", path, endpoint=layout.local_client_url(ctx))
    os.chmod(path, 0o600)
    if compress:
        zpath = path + ".zip"
        with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(path, arcname=name)
        os.chmod(zpath, 0o600)
        os.remove(path)
        name, path = name + ".zip", zpath
    _record(ctx, file_object(ctx, name, path, _created(name, path)))
    deleted = prune(ctx, base, retention, directory) if retention > 0 else []
    return [name], deleted


def list_objects(ctx, directory: str | None) -> dict:
    directory = resolve_dir(ctx, directory)
    items = [file_object(ctx, name, path, created) for created, name, path in _files(directory)]
    return {"apiVersion": "v1", "kind": "List", "items": items}


def delete(ctx, names: list[str], directory: str | None) -> list[str]:
    directory = resolve_dir(ctx, directory)
    deleted = []
    for name in names:
        path = os.path.join(directory, os.path.basename(name))
        if os.path.isfile(path):
            os.remove(path)
            layout.log(ctx, f"Removing local snapshot {path}")
            _record(ctx, None, os.path.basename(name))
            deleted.append(name)
    return deleted


def prune(ctx, base: str, retention: int, directory: str | None) -> list[str]:
    """Delete the oldest snapshots whose file name starts with base, keeping `retention` of them."""
    directory = resolve_dir(ctx, directory)
    if retention < 1:
        return []
    matching = [(c, n, p) for c, n, p in _files(directory) if n.startswith(base)]
    deleted = []
    for _created_at, name, path in matching[: max(0, len(matching) - retention)]:
        os.remove(path)
        layout.log(ctx, f"Removing local snapshot {path}")
        _record(ctx, None, name)
        deleted.append(name)
    return deleted


def unpack(path: str, workdir: str) -> str:
    """A restorable db file for path: .zip snapshots are extracted into workdir."""
    if not path.endswith(".zip"):
        return path
    with zipfile.ZipFile(path) as zf:
        members = [m for m in zf.namelist() if not m.endswith("/")]
        if not members:
            raise SnapshotError(f"no snapshot found in {path}")
        target = tempfile.mkdtemp(dir=workdir)
        zf.extract(members[0], target)
        return os.path.join(target, members[0])


def handle_request(ctx, req: dict) -> dict:
    """Serve one /db/snapshot request: {"operation": save|list|prune|delete, "name": [...], "dir", ...}."""
    op = req.get("operation")
    names = req.get("name") or []
    if isinstance(names, str):
        names = [names]
    directory = req.get("dir")
    if req.get("s3"):
        raise SnapshotError("S3 snapshot storage is not supported by this runtime")
    retention_default = int(layout.cfg(ctx, "etcd-snapshot-retention", 5))
    retention = int(req["retention"]) if req.get("retention") is not None else retention_default
    compress = req.get("compress")
    if compress is None:
        compress = layout.cfg(ctx, "etcd-snapshot-compress") in (True, "true")
    if op == "save":
        created, deleted = save(ctx, names[0] if names else "on-demand", directory, bool(compress), retention)
        return {"created": created, "deleted": deleted}
    if op == "list":
        return list_objects(ctx, directory)
    if op == "delete":
        return {"created": [], "deleted": delete(ctx, names, directory)}
    if op == "prune":
        return {"created": [], "deleted": prune(ctx, names[0] if names else "on-demand", retention, directory)}
    raise SnapshotError(f"unsupported operation: {op}")
