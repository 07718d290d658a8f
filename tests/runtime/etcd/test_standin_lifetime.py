"""etcd dies with the process that runs it, the way k3s's in-process etcd does (kill -9 included).

In-process harness of the stand-in's k3srt.etcd (hence `standin`); the same contract on a whole `k3s server` is in
tests/runtime/core/test_etcd_lifetime_contract.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {here!r})
    from certs import ClusterPKI
    from harness import Node
    node = Node({root!r}, "k9", ClusterPKI())
    node.start("new")
    print(node.pid(), node.ctx.etcd_client_port, flush=True)
    time.sleep(600)
    """
)


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_open(port: int) -> bool:
    """Something listens on PORT (the kernel's socket table, not a connect: a connect from the same ephemeral port can
    succeed on its own, TCP's simultaneous open, and would make the test flaky)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def test_kill_9_of_the_parent_takes_etcd_down(tmp_path):
    """k3s embeds etcd (pkg/executor/embed/etcd/etcd.go runs embed.StartEtcd in the k3s process): SIGKILL of k3s
    ends etcd at the same moment, nothing keeps serving the client port and no etcd process is left for systemd
    to report as "remains running after unit stopped"."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(here=HERE, root=str(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line, "the child did not start etcd"
        etcd_pid, port = (int(x) for x in line.split())
        assert alive(etcd_pid) and port_open(port)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        # etcd is multi-threaded: its main thread shows as a zombie while the other threads still finish exiting and
        # hold the socket table, so the listener may outlast the "Z" by a moment; both must be gone within 2 s.
        deadline = time.monotonic() + 2.0
        while (alive(etcd_pid) or port_open(port)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(etcd_pid), "etcd outlived the process that started it"
        assert not port_open(port), "etcd's client port still listens after it died"
        # killed, not asked to stop: etcd had no chance to log a graceful shutdown (as with an in-process etcd)
        log = (tmp_path / "k9" / "server" / "db" / "etcd.log").read_text()
        assert "shutting down" not in log.lower(), log[-2000:]
    finally:
        if child.poll() is None:
            child.kill()
        if "etcd_pid" in locals() and alive(etcd_pid):
            os.kill(etcd_pid, signal.SIGKILL)
