"""The etcd child process: command line (k3s's embedded-etcd settings), supervision, readiness."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import threading
import time

from . import layout
from .client import EtcdAPIError, EtcdClient, EtcdUnavailable

ETCD_BIN = os.environ.get("K3SRT_ETCD_BIN", "etcd")
_PR_SET_PDEATHSIG = 1

try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _libc = None


def _die_with_parent(parent: int) -> None:  # runs in the child between fork and exec
    """k3s runs etcd inside its own process (pkg/executor/embed/etcd/etcd.go), so etcd dies the instant k3s does,
    kill -9 included: the child gets SIGKILL when the thread that spawned it (the long-lived supervisor thread, which
    dies with the process) goes away, and also if that already happened between fork and prctl."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)


def _etcd_arg_overrides(ctx) -> list[tuple[str, str]]:
    raw = layout.cfg(ctx, "etcd-arg", [])
    items = [raw] if isinstance(raw, str) else list(raw)
    out = []
    for item in items:
        key, _, value = str(item).lstrip("-").partition("=")
        if key:
            out.append((key, value))
    return out


def build_args(
    ctx,
    name: str,
    initial_cluster: str | None,
    state: str | None,
    loopback_only: bool = False,
    force_new_cluster: bool = False,
) -> list[str]:
    """etcd flags as k3s sets them for its embedded etcd, then --etcd-arg overrides (last one wins)."""
    cport, pport = layout.client_port(ctx), layout.peer_port(ctx)
    flags: dict[str, str] = {
        "name": name,
        "data-dir": layout.etcd_dir(ctx),
        "listen-client-urls": ",".join(layout.listen_urls(ctx, cport, loopback_only)),
        "advertise-client-urls": layout.local_client_url(ctx) if loopback_only else layout.advertise_client_url(ctx),
        "listen-peer-urls": ",".join(layout.listen_urls(ctx, pport, loopback_only)),
        "initial-advertise-peer-urls": layout.advertise_peer_url(ctx),
        "listen-metrics-urls": f"http://127.0.0.1:{layout.metrics_port(ctx)}",
        "client-cert-auth": "true",
        "trusted-ca-file": layout.tls(ctx, "server-ca.crt"),
        "cert-file": layout.tls(ctx, "server-client.crt"),
        "key-file": layout.tls(ctx, "server-client.key"),
        "peer-client-cert-auth": "true",
        "peer-trusted-ca-file": layout.tls(ctx, "peer-ca.crt"),
        "peer-cert-file": layout.tls(ctx, "peer-server-client.crt"),
        "peer-key-file": layout.tls(ctx, "peer-server-client.key"),
        "election-timeout": "5000",
        "heartbeat-interval": "500",
        "snapshot-count": "10000",
        "logger": "zap",
    }
    if layout.cfg(ctx, "etcd-expose-metrics") in (True, "true") and not loopback_only:
        flags["listen-metrics-urls"] += f",http://{layout.node_ip(ctx)}:{layout.metrics_port(ctx)}"
    if initial_cluster:
        flags["initial-cluster"] = initial_cluster
    if state:
        flags["initial-cluster-state"] = state
    if force_new_cluster:
        flags["force-new-cluster"] = "true"
    for key, value in _etcd_arg_overrides(ctx):
        flags[key] = value
    return [ETCD_BIN] + [f"--{k}={v}" for k, v in flags.items()]


class EtcdProcess:
    """Runs etcd as a child; restarts it if it dies while we run, unless on_exit() says not to."""

    def __init__(self, ctx, args: list[str], on_exit=None, restart: bool = True):
        self.ctx = ctx
        self.args = args
        self.on_exit = on_exit
        self.restart = restart
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.log_offset = 0  # size of the log file when the current child was spawned
        self._stopping = threading.Event()
        self._spawned = threading.Event()
        self._spawn_error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # All spawns happen on this long-lived thread: PDEATHSIG is tied to the spawning thread.
        self._thread = threading.Thread(target=self._supervise, name="etcd-supervisor", daemon=True)
        self._thread.start()
        self._spawned.wait()
        if self._spawn_error is not None:
            raise layout.EtcdError(f"failed to start etcd: {self._spawn_error}")

    def _spawn(self) -> None:
        layout.ensure_dir(layout.db_dir(self.ctx))
        log = open(layout.log_file(self.ctx), "ab")  # noqa: SIM115 - handed to the child
        self.log_offset = log.tell()
        # etcd speaks sd_notify itself: only k3s may tell systemd it is ready.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD") and k != "NOTIFY_SOCKET"}
        try:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.ctx.server_dir,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),  # noqa: PLW1509
            )
        finally:
            log.close()

    def _supervise(self) -> None:
        try:
            self._spawn()
        except OSError as exc:
            self._spawn_error = exc
            self._spawned.set()
            return
        self._spawned.set()
        while True:
            code = self.proc.wait()
            if self._stopping.is_set():
                return
            if self.on_exit is not None and not self.on_exit(code):
                return
            layout.log(self.ctx, f"etcd exited with status {code}", "error")
            if not self.restart or self._stopping.wait(1.0):
                return
            self.restarts += 1
            layout.log(self.ctx, "Restarting etcd")
            try:
                self._spawn()
            except OSError as exc:
                layout.log(self.ctx, f"failed to restart etcd: {exc}", "error")
                return

    def output_since_spawn(self, limit: int = 65536) -> str:
        """What the current child wrote to the etcd log (last `limit` bytes)."""
        try:
            with open(layout.log_file(self.ctx), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(self.log_offset, f.tell() - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def kill(self) -> None:
        """Test hook: SIGKILL the child without stopping supervision."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


def wait_ready(ctx, client: EtcdClient, proc: EtcdProcess, timeout: float, need_leader: bool) -> dict:
    """Poll the local member's status until it answers (and has a leader when need_leader)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    next_note = time.monotonic() + 15
    while time.monotonic() < deadline:
        if time.monotonic() > next_note:
            layout.log(ctx, f"Waiting for etcd server to become available: {last}")
            next_note += 15
        if proc.proc is not None and proc.proc.poll() is not None and not proc.restart:
            raise layout.EtcdError(f"etcd exited with status {proc.proc.returncode}; see {layout.log_file(ctx)}")
        try:
            status = client.status(layout.local_client_url(ctx))
            if not need_leader or int(status.get("leader", 0)):
                return status
            last = "no leader yet"
        except (EtcdUnavailable, EtcdAPIError) as exc:
            last = str(exc)
        time.sleep(0.25)
    if "connection closed" in last:  # etcd's JSON gateway dials etcd with the serving cert as its client cert
        last += " (tls/etcd/server-client.crt needs both the serverAuth and clientAuth usages)"
    raise layout.EtcdError(f"timed out waiting for etcd to serve on {layout.local_client_url(ctx)}: {last}")
