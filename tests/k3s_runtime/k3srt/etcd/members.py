"""Member removal when a server's Node object is deleted (core/kubeapi call ctx.on_node_deleted → here)."""

from __future__ import annotations

import threading
import time

from . import layout, runtime
from .client import EtcdAPIError, EtcdUnavailable


def _remove(ctx, rt, member: dict, node_name: str, timeout: float) -> bool:
    """member/remove with retries: etcd refuses ("unhealthy cluster") until a new voter has been up ~5 s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rt.client.member_remove(member["ID"])
            layout.log(ctx, f"Removed etcd member {member['name']} of deleted node {node_name}")
            return True
        except (EtcdAPIError, EtcdUnavailable) as exc:
            if "member not found" in str(exc):
                return True
            if time.monotonic() > deadline or rt.stop_event.is_set():
                layout.log(ctx, f"Failed to remove etcd member {member['name']}: {exc}", "error")
                return False
            layout.log(ctx, f"Retrying removal of etcd member {member['name']}: {exc}", "warning")
            time.sleep(1.0)


def on_node_deleted(ctx, node_name: str, wait: bool = False, timeout: float = 60.0) -> list[str]:
    """Remove every etcd member named <node_name>-<8hex>; returns their names.

    By default the removal (with retries) runs in a background thread so the Node DELETE is not held up;
    wait=True removes synchronously.
    """
    rt = runtime.get(ctx)
    if rt is None:
        return []
    matches = [m for m in rt.client.member_list() if m["name"] and layout.node_of_member(m["name"]) == node_name]

    def work():
        for m in matches:
            _remove(ctx, rt, m, node_name, timeout)

    if wait:
        work()
    elif matches:
        threading.Thread(target=work, name=f"etcd-remove-{node_name}", daemon=True).start()
    return [m["name"] for m in matches]
