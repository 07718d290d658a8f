"""Where embedded etcd keeps its files under <D>/server, the ports it uses, and small ctx helpers.

Optional ctx attributes (core passes the defaults; local tests override them to avoid 2379/2380/2381):
``etcd_client_port`` (2379), ``etcd_peer_port`` (2380), ``etcd_metrics_port`` (2381),
``etcd_promote_interval`` (seconds between leader promotion checks, 5.0),
``etcd_start_timeout`` (seconds start() waits for etcd to serve, 120.0).
"""

from __future__ import annotations

import os
import secrets
import time


class EtcdError(Exception):
    """A fatal embedded-etcd error; the message is what k3s would print."""


def db_dir(ctx) -> str:
    return os.path.join(ctx.server_dir, "db")


def etcd_dir(ctx) -> str:
    return os.path.join(db_dir(ctx), "etcd")


def name_file(ctx) -> str:
    return os.path.join(etcd_dir(ctx), "name")


def tombstone_file(ctx) -> str:
    return os.path.join(etcd_dir(ctx), "tombstone")


def reset_flag(ctx) -> str:
    return os.path.join(db_dir(ctx), "reset-flag")


def log_file(ctx) -> str:
    return os.path.join(db_dir(ctx), "etcd.log")


def wal_dir(ctx) -> str:
    return os.path.join(etcd_dir(ctx), "member", "wal")


def tls(ctx, name: str) -> str:
    """Path of tls/etcd/<name> (e.g. "client.crt")."""
    return os.path.join(ctx.tls_dir, "etcd", name)


def client_port(ctx) -> int:
    return int(getattr(ctx, "etcd_client_port", 2379))


def peer_port(ctx) -> int:
    return int(getattr(ctx, "etcd_peer_port", 2380))


def metrics_port(ctx) -> int:
    return int(getattr(ctx, "etcd_metrics_port", 2381))


def promote_interval(ctx) -> float:
    return float(getattr(ctx, "etcd_promote_interval", 5.0))


def start_timeout(ctx) -> float:
    return float(getattr(ctx, "etcd_start_timeout", 120.0))


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def node_ip(ctx) -> str:
    return getattr(ctx, "node_ip", None) or "127.0.0.1"


def local_client_url(ctx) -> str:
    return f"https://127.0.0.1:{client_port(ctx)}"


def advertise_client_url(ctx) -> str:
    return f"https://{_host(node_ip(ctx))}:{client_port(ctx)}"


def advertise_peer_url(ctx) -> str:
    return f"https://{_host(node_ip(ctx))}:{peer_port(ctx)}"


def listen_urls(ctx, port: int, loopback_only: bool = False) -> list[str]:
    urls = [f"https://127.0.0.1:{port}"]
    ip = node_ip(ctx)
    if not loopback_only and ip not in ("127.0.0.1", "localhost"):
        urls.append(f"https://{_host(ip)}:{port}")
    return urls


def cfg(ctx, key: str, default=None):
    config = getattr(ctx, "config", None) or {}
    value = config.get(key)
    return default if value is None else value


def log(ctx, msg: str, level: str = "info") -> None:
    logger = getattr(ctx, "log", None)
    if logger is not None:
        logger(msg, level=level)


def ensure_dir(path: str, mode: int = 0o700) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)
    os.chmod(path, mode)


def member_name(ctx, force_new: bool = False) -> str:
    """The persistent member name <node-name>-<8 hex> from server/db/etcd/name (created on first use)."""
    path = name_file(ctx)
    if not force_new and os.path.exists(path):
        with open(path) as f:
            name = f.read().strip()
        if name:
            return name
    name = f"{ctx.node_name}-{secrets.token_hex(4)}"
    ensure_dir(etcd_dir(ctx))
    with open(path, "w") as f:
        f.write(name)
    return name


def node_of_member(name: str) -> str:
    """Node name of a member name: the member name minus its last '-suffix'."""
    return name.rsplit("-", 1)[0] if "-" in name else name


def unix_now() -> int:
    return int(time.time())
