# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the runtime's lab contract tests: drive lab hosts with podman exec, install the test runtime
binary, write config/unit/haproxy files, and wait for conditions. The lab itself (CLI, addresses, podman) is
edgefleet_testing.Lab's.

Secrets: tokens reach hosts only on stdin (``put_file``) and are never part of an argv, an assertion message or a
log line written by these helpers."""

from __future__ import annotations

import json
import subprocess
import time

from edgefleet_testing import Lab

VERSION = "v1.36.1+k3s1"
K3S_DIR = "/var/lib/rancher/k3s"
SERVER_DIR = f"{K3S_DIR}/server"
CONFIG = "/etc/rancher/k3s/config.yaml"
TOKEN_FILE = "/etc/rancher/k3s/cluster-token"
SERVERS = ("server-1", "server-2", "server-3")
AGENT = "agent-1"
LB = "lb-1"

UNIT = """[Unit]
Description=k3s test runtime ({mode})
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=/usr/local/bin/k3s {mode}
Restart=always
RestartSec=3s
TimeoutStartSec=240
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
"""

HAPROXY = """global
    log /dev/log local0
    maxconn 2000

defaults
    log global
    mode tcp
    option tcplog
    timeout connect 3s
    timeout client 2m
    timeout server 2m

frontend k3s_api
    bind *:6443
    default_backend k3s_servers

backend k3s_servers
    option httpchk GET /ping
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
{servers}
"""


class Secret(str):
    """A str whose repr() is withheld, so pytest tracebacks, assertion rewriting and --showlocals never print it."""

    def __repr__(self) -> str:
        return "'<secret withheld>'"

    def __add__(self, other: str) -> Secret:
        return Secret(str(self) + other)

    def __radd__(self, other: str) -> Secret:
        return Secret(other + str(self))


class ClusterSecrets:
    """The run's cluster password, the full server token once known, and the steps done so far."""

    def __init__(self, password: str):
        self.password = Secret(password)
        self.full = Secret("")
        self.done: set[str] = set()

    def __repr__(self) -> str:
        return f"<ClusterSecrets withheld, done={sorted(self.done)}>"


class RuntimeLab(Lab):
    """A lab whose hosts are driven with podman exec directly (no lab CLI process per command, and stdin can carry a
    secret); the lab CLI (up/down/stop/start/isolate/heal) and everything else is Lab's."""

    # --- commands on hosts ---------------------------------------------------------------------------------------
    def sh(
        self, host: str, *cmd: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run CMD in HOST; STDIN (e.g. a secret) is fed on standard input, never on the argv."""
        args = ["exec", *(["-i"] if stdin is not None else []), self.container(host), *cmd]
        proc = self.podman(*args, stdin=stdin, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{host}: `{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def script(
        self, host: str, script: str, check: bool = True, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess:
        """Run SCRIPT with sh -c in HOST (see sh)."""
        return self.sh(host, "sh", "-c", script, check=check, timeout=timeout, stdin=stdin)

    def put_file(self, host: str, path: str, content: str, mode: str = "0600") -> None:
        """Write CONTENT (sent on stdin) to PATH atomically with MODE; the file is never readable by others."""
        tmp = f"{path}.rtlab-tmp"
        script = f"umask 077 && mkdir -p $(dirname {path}) && cat > {tmp} && chmod {mode} {tmp} && mv -f {tmp} {path}"
        self.script(host, script, stdin=content)

    def copy_in(self, host: str, src: str, dest: str) -> None:
        proc = self.podman("cp", src, f"{self.container(host)}:{dest}", timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"podman cp to {host} failed: {proc.stderr}")

    # --- k3s on hosts --------------------------------------------------------------------------------------------
    def install(self, host: str, binary: str, mode: str) -> None:
        """Binary in /usr/local/bin/k3s and an enabled-later unit k3s (server) or k3s-agent (agent)."""
        self.sh(host, "mkdir", "-p", "/usr/local/bin", "/etc/rancher/k3s")
        self.copy_in(host, binary, "/usr/local/bin/k3s")
        self.script(host, "chmod 0755 /usr/local/bin/k3s && /usr/local/bin/k3s --version")
        self.put_file(host, f"/etc/systemd/system/{unit_name(mode)}.service", UNIT.format(mode=mode), "0644")
        self.sh(host, "systemctl", "daemon-reload")

    def start_k3s(self, host: str, unit: str = "k3s", block: bool = True, timeout: float = 240) -> None:
        """Enable and start UNIT; with BLOCK, return once it reported READY=1 (Type=notify)."""
        flag = "" if block else "--no-block "
        proc = self.script(host, f"systemctl enable {flag}--now {unit}", check=False, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{host}: starting {unit} failed:\n{proc.stderr}\n{self.journal(host, unit)[-4000:]}")

    def kubectl(
        self, host: str, args: str, server: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        via = f"--server {server} " if server else ""
        return self.script(host, f"k3s kubectl {via}--request-timeout=20s {args}", check=False, timeout=timeout)

    def nodes(self, host: str, server: str | None = None) -> dict[str, dict]:
        proc = self.kubectl(host, "get nodes -o json", server)
        if proc.returncode != 0:
            raise AssertionError(f"kubectl get nodes on {host} failed: {proc.stderr}")
        return {n["metadata"]["name"]: n for n in json.loads(proc.stdout)["items"]}

    def db_info(self, host: str) -> list[dict]:
        """Members from GET https://127.0.0.1:6443/db/info on HOST (loopback: no credentials)."""
        proc = self.sh(
            host, "curl", "-sk", "--max-time", "10", "https://127.0.0.1:6443/db/info", check=False, timeout=20
        )
        if proc.returncode != 0:
            raise AssertionError(f"{host}: /db/info not reachable (curl {proc.returncode})")
        return json.loads(proc.stdout).get("members", [])


def unit_name(mode: str) -> str:
    return "k3s" if mode == "server" else "k3s-agent"


def haproxy_config(backends: dict[str, str]) -> str:
    lines = [f"    server {name} {ip}:6443 check check-ssl verify none" for name, ip in backends.items()]
    return HAPROXY.format(servers="\n".join(lines))


def yaml_config(items: dict) -> str:
    """A small config.yaml (strings, bools and lists only)."""
    out = []
    for key, value in items.items():
        if isinstance(value, bool):
            out.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, list):
            out.append(f"{key}:")
            out += [f'  - "{v}"' for v in value]
        else:
            out.append(f'{key}: "{value}"')
    return "\n".join(out) + "\n"


def node_ready(node: dict) -> bool:
    conds = {c["type"]: c for c in node.get("status", {}).get("conditions", [])}
    return conds.get("Ready", {}).get("status") == "True"


def member_node(member: dict) -> str:
    """Node name of an etcd member named <node>-<8hex>."""
    return member.get("name", "").rsplit("-", 1)[0]


def wait_for(check, timeout: float, interval: float = 2.0, what: str = "condition"):
    """Call CHECK until it returns a truthy value (returned) or TIMEOUT passes; exceptions count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except (AssertionError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}"[:3000])
        time.sleep(interval)
