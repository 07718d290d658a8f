"""Background controllers (one daemon thread per server; every server runs them against the shared KV, so every
write is a compare-and-swap and losing a race only means the next pass does the work)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from . import manifests, nodes, workloads


class Controllers:
    def __init__(self, api, grace: float, node_interval: float, manifest_interval: float):
        self.api = api
        self.grace = grace
        self.node_interval = node_interval
        self.manifest_interval = manifest_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="kubeapi-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def node_pass(self) -> None:
        store = self.api.store
        now = datetime.now(timezone.utc)
        # like the node-lifecycle controller after a restart: every node gets one full grace period first
        if time.monotonic() - self._started >= self.grace:
            nodes.each_node(store, lambda n: nodes.lifecycle_update(n, now, self.grace))
        present = nodes.device_plugin_present(store)
        nodes.each_node(store, lambda n: nodes.gpu_update(n, present))
        for name in nodes.etcd_removal_pass(store, getattr(self.api.ctx, "on_node_deleted", None)):
            self.api.log(f"Removed etcd member of node {name} (annotation {nodes.ETCD_REMOVE})")
        workloads.workload_pass(store, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.api.finalize_namespaces()

    def manifest_pass(self) -> None:
        for directory in self.api.manifest_dirs():
            manifests.deploy(self.api, directory)

    def _run(self) -> None:
        next_manifests = time.monotonic() + self.manifest_interval
        while not self._stop.wait(self.node_interval):
            for name, step in (("node", self.node_pass), ("manifest", self.manifest_pass)):
                if name == "manifest" and time.monotonic() < next_manifests:
                    continue
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - a controller must survive a datastore hiccup
                    self.api.log(f"{name} controller pass failed: {exc}", "error")
                if name == "manifest":
                    next_manifests = time.monotonic() + self.manifest_interval
