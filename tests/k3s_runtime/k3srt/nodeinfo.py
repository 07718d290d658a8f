"""Node identity shared by server and agent: name, IP, node password, labels/taints, node-args annotations."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import sys
import threading
import time

# K3SRT_ETC_DIR exists only in the test runtime, so local contract tests need not write to /etc/rancher.
ETC_DIR = os.environ.get("K3SRT_ETC_DIR", "/etc/rancher")
NODE_DIR = os.path.join(ETC_DIR, "node")
DEFAULT_KUBECONFIG = os.path.join(ETC_DIR, "k3s", "k3s.yaml")
SECRET_ARGS = {
    "--token",
    "-t",
    "--agent-token",
    "--datastore-endpoint",
    "--etcd-s3-access-key",
    "--etcd-s3-secret-key",
    "--etcd-s3-session-token",
    "--vpn-auth",
}
SECRET_ENV = ("K3S_TOKEN", "K3S_AGENT_TOKEN", "K3S_DATASTORE_ENDPOINT", "K3S_CLUSTER_SECRET", "K3S_VPN_AUTH")

_log_lock = threading.Lock()


def log(msg: str, level: str = "info") -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = msg.replace("\\", "\\\\").replace('"', '\\"')
    with _log_lock:
        print(f'time="{stamp}" level={level} msg="{line}"', file=sys.stderr, flush=True)


def node_name(config: dict) -> str:
    name = (config.get("node-name") or socket.gethostname()).lower()
    if config.get("with-node-id"):
        path = os.path.join(NODE_DIR, "id")
        if not os.path.exists(path):
            os.makedirs(NODE_DIR, exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_hex(4))
        with open(path, encoding="utf-8") as fh:
            name = f"{name}-{fh.read().strip()}"
    return name


def node_ip(config: dict) -> str:
    ips = config.get("node-ip") or []
    if ips:
        return ips[0]
    for probe in ("10.255.255.255", "192.0.2.1"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addr = s.getsockname()[0]
                if addr and not addr.startswith("0."):
                    return addr
        except OSError:
            continue
    return "127.0.0.1"


def node_password() -> str:
    """/etc/rancher/node/password, created on first use (0600)."""
    path = os.path.join(NODE_DIR, "password")
    if not os.path.exists(path):
        os.makedirs(NODE_DIR, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(16))
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def password_hash(password: str) -> str:
    return base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()


def parse_labels(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def parse_taints(items: list[str]) -> list[dict]:
    out = []
    for item in items or []:
        kv, _, effect = item.partition(":")
        key, _, value = kv.partition("=")
        taint = {"key": key, "effect": effect or "NoSchedule"}
        if value:
            taint["value"] = value
        out.append(taint)
    return out


def redacted_args(args: list[str]) -> list[str]:
    out = []
    hide_next = False
    for arg in args:
        if hide_next:
            out.append("********")
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if name in SECRET_ARGS or name.lstrip("-") in {a.lstrip("-") for a in SECRET_ARGS}:
            if eq:
                out.append(f"{name}=********")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(arg)
    return out


def node_config_annotations(command: str, args: list[str], env: dict) -> dict:
    node_args = [command, *redacted_args(args)]
    node_env = {k: ("********" if k in SECRET_ENV else v) for k, v in sorted(env.items()) if k.startswith("K3S_")}
    digest = hashlib.sha256((json.dumps(node_args) + json.dumps(node_env)).encode()).digest()
    return {
        "k3s.io/node-args": json.dumps(node_args),
        "k3s.io/node-env": json.dumps(node_env),
        "k3s.io/node-config-hash": base64.b32encode(digest).decode().rstrip("="),
    }
