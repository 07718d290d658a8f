# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""The work behind edgefleet.k3s.k3s_service: start or restart a k3s unit and wait until it really works.

k3s never gives up on a join it cannot make: an agent with a wrong token retries forever and its unit stays
"activating", so ``systemctl start`` alone would wait for ever. The unit is started without blocking, then watched:
it is ready when systemd says active (k3s signals readiness), and it has failed when the journal of this start
shows a failure that retrying cannot fix (a refused token, a CA of another cluster, a rejected node password, a
fatal error) more than once.
"""

from __future__ import annotations

import re
import time

from ansible_collections.edgefleet.k3s.plugins.module_utils._cluster import describe, problems
from ansible_collections.edgefleet.k3s.plugins.module_utils._k3slog import line_message

# Messages of k3s that a retry cannot fix (pkg/agent/run.go, pkg/agent/config/config.go, pkg/clientaccess/token.go,
# pkg/nodepassword, pkg/cluster/bootstrap.go). Matched against the msg of one journal line.
PERMANENT = (
    re.compile(r"token CA hash does not match"),
    re.compile(r"invalid token (format|CA hash length)"),
    re.compile(r"failed to normalize (server )?token"),
    re.compile(r"Node password rejected"),
    re.compile(r"bootstrap data already found and encrypted with different token"),
    # 401 as a status code only, not inside an address or port ([2401:db8::1]:6443, 10.0.0.2:40112 of a refused dial).
    re.compile(
        r"Waiting to retrieve agent configuration; server is not ready: "
        r".*((?<![\w.:\[-])401(?![\w.:\]-])|[Uu]nauthorized|not authorized)"
    ),
)


def permanent_failure(lines):
    """The last journal message that means this start cannot succeed, with how often it was seen; or None."""
    last, count = None, 0
    for line in lines:
        level, msg = line_message(line)
        if level == "fatal" or any(p.search(msg) for p in PERMANENT):
            last, count = msg, count + 1
    return (last, count) if last else None


def parse_show(text):
    props = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key] = value
    return props


class ServiceError(Exception):
    pass


class ServiceManager:
    """Start/restart and watch one unit.

    ``systemctl(args) -> (rc, out, err)``, ``journal(unit, since_epoch) -> lines``; ``read_cluster() -> (rows,
    members)`` only for a server that waits for its node.
    """

    def __init__(self, params, systemctl, journal, read_cluster=None, clock=time.monotonic, now=time.time, sleep=None):
        self.p = params
        self.systemctl = systemctl
        self.journal = journal
        self.read_cluster = read_cluster
        self.clock = clock
        self.now = now
        self.sleep = sleep or time.sleep

    def show(self):
        rc, out, err = self.systemctl(
            [
                "show",
                self.p["unit"],
                "--property=LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,InvocationID",
            ]
        )
        if rc != 0:
            raise ServiceError("systemctl show %s failed: %s" % (self.p["unit"], err.strip() or out.strip()))
        return parse_show(out)

    def _call(self, *args):
        rc, out, err = self.systemctl(list(args))
        if rc != 0:
            raise ServiceError("systemctl %s failed: %s" % (" ".join(args), err.strip() or out.strip()))

    def run(self, check_mode):
        unit = self.p["unit"]
        props = self.show()
        if props.get("LoadState") != "loaded":
            if check_mode:
                return {"changed": True, "actions": ["start"], "msg": "%s is not installed yet" % unit}
            raise ServiceError("the unit %s is not installed (LoadState=%s)" % (unit, props.get("LoadState")))
        actions = []
        if props.get("NeedDaemonReload") == "yes":
            actions.append("daemon-reload")
        if self.p["enabled"] and props.get("UnitFileState") not in ("enabled", "enabled-runtime"):
            actions.append("enable")
        active = props.get("ActiveState") == "active"
        if self.p["state"] == "restarted":
            actions.append("restart")
        elif not active:
            actions.append("start")
        if check_mode or not actions:
            return {"changed": bool(actions), "actions": actions}

        started = self.now()
        if "daemon-reload" in actions:
            self._call("daemon-reload")
        if "enable" in actions:
            self._call("enable", unit)
        if "restart" in actions or "start" in actions:
            # Right after a --no-block restart systemd may still report the old process as active: a restarted unit
            # is ready only once a new invocation is active.
            previous = props.get("InvocationID") if active else None
            self._call("restart" if "restart" in actions else "start", "--no-block", unit)
            self.wait_active(started, previous)
            if self.read_cluster is not None:
                self.wait_cluster()
        return {"changed": True, "actions": actions, "waited": round(self.now() - started, 1)}

    def wait_active(self, started, previous=None):
        unit = self.p["unit"]
        deadline = self.clock() + self.p["timeout"]
        fail_fast_at = self.clock() + self.p["fail_fast"]
        while True:
            props = self.show()
            state = props.get("ActiveState")
            if state == "active" and (not previous or props.get("InvocationID") != previous):
                return
            failure = permanent_failure(self.journal(unit, started))
            if failure and (failure[1] >= 2 or state == "failed") and self.clock() >= fail_fast_at:
                raise ServiceError("%s does not start: %s" % (unit, failure[0]))
            if self.clock() >= deadline:
                detail = (": last error: %s" % failure[0]) if failure else ""
                raise ServiceError(
                    "%s did not become active within %ss (state %s/%s)%s"
                    % (unit, self.p["timeout"], state, props.get("SubState"), detail)
                )
            self.sleep(self.p["delay"])

    def wait_cluster(self):
        """Servers: this node Ready on the pinned version, and (embedded etcd) a voting member, before returning."""
        name = self.p["node_name"]
        version = self.p["version"]
        voters = [name] if self.p["etcd_voter"] else []
        deadline = self.clock() + self.p["timeout"]
        # A kubelet posts its version when it starts: an older one for longer than fail_fast is the wrong binary.
        version_deadline = self.clock() + self.p["fail_fast"]
        last_error = None
        while True:
            try:
                rows, members = self.read_cluster()
                found = problems(rows, members, nodes=[name], version=version, voters=voters)
            except Exception as exc:  # noqa: BLE001 - the API is not up yet right after a start
                found, last_error = {"unreachable": [name]}, str(exc)
            if not found:
                return
            if "wrong_version" in found and self.clock() >= version_deadline:
                raise ServiceError("%s is Ready but %s" % (name, describe(found, version)))
            if self.clock() >= deadline:
                text = describe({k: v for k, v in found.items() if k != "unreachable"}, version) or (
                    "the API did not answer: %s" % last_error
                )
                raise ServiceError("%s after %ss: %s" % (name, self.p["timeout"], text))
            self.sleep(self.p["delay"])
