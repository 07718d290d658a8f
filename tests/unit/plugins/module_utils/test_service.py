# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError
from ansible_collections.edgefleet.k3s.plugins.module_utils._service import (
    ServiceError,
    ServiceManager,
    line_message,
    permanent_failure,
)

TS = 'time="2025-03-01T10:00:00Z" '
UNAUTHORIZED = (
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: '
    'https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt: 401 Unauthorized"'
)
CA_MISMATCH_MSG = "token CA hash does not match the Cluster CA certificate hash: %s != %s" % ("a" * 64, "b" * 64)
CA_MISMATCH = TS + 'level=error msg="%s"' % CA_MISMATCH_MSG
FATAL = TS + 'level=fatal msg="starting kubernetes: preparing server: failed to start etcd: \\"boom\\""'
PASSWORD = (
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: Node password rejected, '
    "duplicate hostname or contents of '/etc/rancher/node/password' may not match server node-passwd entry, try "
    'enabling a unique node name with the --with-node-id flag"'
)
TRANSIENT = [
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: '
    'https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt: 503 Service Unavailable"',
    TS + 'level=error msg="failed to get CA certs: Get \\"https://127.0.0.1:6444/cacerts\\": read tcp '
    '127.0.0.1:40110->127.0.0.1:6444: read: connection reset by peer"',
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: Get '
    '\\"https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt\\": dial tcp 10.0.0.10:6443: connect: connection refused"',
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: Get '
    '\\"https://[2401:db00::10]:6443/v1-k3s/serving-kubelet.crt\\": dial tcp [2401:db00::10]:6443: connect: '
    'connection refused"',
    # 401 inside an ephemeral port of a reset connection is no 401 status
    TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: Get '
    '\\"https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt\\": read tcp 10.0.0.21:40112->10.0.0.10:6443: read: '
    'connection reset by peer"',
    TS + 'level=warning msg="Failed to get apiserver address: context deadline exceeded"',
    TS + 'level=info msg="Waiting for control-plane node s1 startup: nodes \\"s1\\" not found"',
    "I0301 10:00:00.000000    1234 server.go:401] Version: v1.31.2+k3s1",
]


# -- journal lines -------------------------------------------------------------------------------------------


def test_line_message_of_logrus_lines():
    assert line_message(FATAL) == ("fatal", 'starting kubernetes: preparing server: failed to start etcd: "boom"')
    assert line_message("plain text line  ") == (None, "plain text line")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (UNAUTHORIZED, UNAUTHORIZED.split('msg="')[1][:-1]),
        (CA_MISMATCH, CA_MISMATCH_MSG),
        (FATAL, 'starting kubernetes: preparing server: failed to start etcd: "boom"'),
        (PASSWORD, PASSWORD.split('msg="')[1][:-1]),
        (TS + 'level=fatal msg="invalid token format"', "invalid token format"),
        (TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: HTTP 401"', None),
        (TS + 'level=info msg="Waiting to retrieve agent configuration; server is not ready: not authorized"', None),
        (
            TS + 'level=error msg="failed to normalize server token; must be in format K10<CA-HASH>::<USER>:<PASS>"',
            None,
        ),
    ],
)
def test_permanent_failures(line, message):
    found = permanent_failure([line])
    assert found is not None
    assert found[1] == 1
    if message is not None:
        assert found[0] == message


@pytest.mark.parametrize("line", TRANSIENT)
def test_transient_lines_are_not_permanent(line):
    assert permanent_failure([line, line, line]) is None


def test_permanent_failure_counts_and_keeps_the_last():
    lines = [UNAUTHORIZED, TRANSIENT[0], CA_MISMATCH, TRANSIENT[2], UNAUTHORIZED]
    found = permanent_failure(lines)
    assert found is not None
    message, count = found[0], found[1]
    assert count == 3
    assert message.endswith("401 Unauthorized")
    assert permanent_failure([]) is None


def test_fatal_level_only_counts_as_level():
    # the word fatal inside an info message is not a fatal error
    assert permanent_failure([TS + 'level=info msg="recovered from a fatal condition"']) is None


# -- ServiceManager ------------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def now(self):
        return 1_700_000_000.0 + self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


class Systemd:
    """systemctl: ``show`` answers from ``props``; start/restart switches ActiveState along ``after_start``."""

    def __init__(self, clock, after_start=("active",), fail=(), **props):
        self.clock = clock
        self.props = {
            "LoadState": "loaded",
            "ActiveState": "inactive",
            "SubState": "dead",
            "UnitFileState": "enabled",
            "NeedDaemonReload": "no",
            "InvocationID": "0" * 32,
        }
        self.props.update(props)
        self.stale_shows = 0
        self.after_start = list(after_start)
        self.fail = fail
        self.calls = []
        self.started = False

    def __call__(self, args):
        self.calls.append(list(args))
        if args[0] in self.fail:
            return 1, "", "Failed to %s: Access denied\n" % args[0]
        if args[0] == "show":
            if self.started and self.stale_shows > 0:
                self.stale_shows -= 1  # systemd has not begun the restart job yet: the old invocation still shows
            elif self.started and self.after_start:
                state = self.after_start.pop(0) if len(self.after_start) > 1 else self.after_start[0]
                self.props["ActiveState"] = state
                self.props["SubState"] = {"active": "running", "activating": "start", "failed": "failed"}.get(state, "")
            return 0, "".join("%s=%s\n" % item for item in self.props.items()), ""
        if args[0] in ("start", "restart"):
            self.started = True
            self.props["InvocationID"] = "%032x" % (int(self.props["InvocationID"], 16) + 1)
        if args[0] == "daemon-reload":
            self.props["NeedDaemonReload"] = "no"
        return 0, "", ""

    def verbs(self):
        return [c[0] for c in self.calls if c[0] != "show"]


class Journal:
    def __init__(self, lines=()):
        self.lines = list(lines)
        self.calls = []

    def __call__(self, unit, since):
        self.calls.append((unit, since))
        return list(self.lines)


def params(**values):
    base = {
        "unit": "k3s",
        "state": "started",
        "enabled": True,
        "timeout": 60,
        "fail_fast": 20,
        "delay": 1.0,
        "node_name": None,
        "version": None,
        "etcd_voter": False,
    }
    base.update(values)
    return base


def manager(clock, systemd, journal=None, read_cluster=None, **values):
    return ServiceManager(
        params(**values),
        systemd,
        journal or Journal(),
        read_cluster=read_cluster,
        clock=clock,
        now=clock.now,
        sleep=clock.sleep,
    )


@pytest.fixture
def clock():
    return Clock()


def test_start_when_inactive(clock):
    systemd = Systemd(clock, after_start=("activating", "activating", "active"))
    journal = Journal([TRANSIENT[2]])
    result = manager(clock, systemd, journal).run(check_mode=False)
    assert result == {"changed": True, "actions": ["start"], "waited": 2.0}
    assert systemd.calls[0] == [
        "show",
        "k3s",
        "--property=LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,InvocationID",
    ]
    assert ["start", "--no-block", "k3s"] in systemd.calls
    assert systemd.verbs() == ["start"]
    assert journal.calls and all(c == ("k3s", 1_700_000_000.0) for c in journal.calls)


def test_nothing_when_active_and_enabled(clock):
    systemd = Systemd(clock, ActiveState="active")
    journal = Journal()
    assert manager(clock, systemd, journal).run(check_mode=False) == {"changed": False, "actions": []}
    assert systemd.verbs() == []
    assert journal.calls == []


def test_restart_when_asked(clock):
    systemd = Systemd(clock, ActiveState="active")
    result = manager(clock, systemd, state="restarted").run(check_mode=False)
    assert result["actions"] == ["restart"]
    assert systemd.calls[1] == ["restart", "--no-block", "k3s"]


def test_restart_waits_for_the_new_invocation(clock):
    # systemd answers the first shows after `restart --no-block` with the old, still active invocation
    systemd = Systemd(clock, ActiveState="active", after_start=("activating", "active"))
    old = systemd.props["InvocationID"]

    def stale(args, _inner=systemd.__class__.__call__):
        result = _inner(systemd, args)
        if args[0] == "restart":
            systemd.props["InvocationID"], systemd.new_id = old, systemd.props["InvocationID"]
            systemd.stale_shows = 2
        elif args[0] == "show" and systemd.stale_shows == 0 and hasattr(systemd, "new_id"):
            systemd.props["InvocationID"] = systemd.new_id
        return result

    result = ServiceManager(
        params(state="restarted"), stale, Journal(), clock=clock, now=clock.now, sleep=clock.sleep
    ).run(check_mode=False)
    assert result["actions"] == ["restart"]
    # two stale answers, then activating, then active on the new invocation: not done before that
    assert result["waited"] >= 3.0


def test_daemon_reload_and_enable_come_first(clock):
    systemd = Systemd(clock, ActiveState="active", NeedDaemonReload="yes", UnitFileState="disabled")
    result = manager(clock, systemd, state="restarted").run(check_mode=False)
    assert result["actions"] == ["daemon-reload", "enable", "restart"]
    assert [c for c in systemd.calls if c[0] != "show"] == [
        ["daemon-reload"],
        ["enable", "k3s"],
        ["restart", "--no-block", "k3s"],
    ]


def test_daemon_reload_alone_for_an_active_unit(clock):
    systemd = Systemd(clock, ActiveState="active", NeedDaemonReload="yes")
    result = manager(clock, systemd).run(check_mode=False)
    assert result["actions"] == ["daemon-reload"]
    assert systemd.verbs() == ["daemon-reload"]


def test_enabled_false_does_not_enable(clock):
    systemd = Systemd(clock, UnitFileState="disabled")
    assert manager(clock, systemd, enabled=False).run(check_mode=False)["actions"] == ["start"]
    assert systemd.verbs() == ["start"]


@pytest.mark.parametrize("unit_file_state", ["enabled", "enabled-runtime"])
def test_enabled_states_need_no_enable(clock, unit_file_state):
    systemd = Systemd(clock, ActiveState="active", UnitFileState=unit_file_state)
    assert manager(clock, systemd).run(check_mode=False)["actions"] == []


def test_check_mode_only_reports(clock):
    systemd = Systemd(clock, NeedDaemonReload="yes", UnitFileState="disabled")
    journal = Journal()
    reads = []
    result = manager(clock, systemd, journal, read_cluster=lambda: reads.append(1), node_name="s1").run(check_mode=True)
    assert result == {"changed": True, "actions": ["daemon-reload", "enable", "start"]}
    assert systemd.verbs() == []
    assert (journal.calls, reads, clock.sleeps) == ([], [], [])


def test_not_installed_unit(clock):
    systemd = Systemd(clock, LoadState="not-found")
    with pytest.raises(ServiceError) as err:
        manager(clock, systemd, unit="k3s-agent").run(check_mode=False)
    assert str(err.value) == "the unit k3s-agent is not installed (LoadState=not-found)"
    assert systemd.verbs() == []


def test_not_installed_unit_in_check_mode(clock):
    result = manager(clock, Systemd(clock, LoadState="not-found")).run(check_mode=True)
    assert result == {"changed": True, "actions": ["start"], "msg": "k3s is not installed yet"}


def test_systemctl_failures(clock):
    with pytest.raises(ServiceError, match="systemctl show k3s failed: Failed to show: Access denied"):
        manager(clock, Systemd(clock, fail=("show",))).run(check_mode=False)
    with pytest.raises(ServiceError, match="systemctl start --no-block k3s failed: Failed to start: Access denied"):
        manager(clock, Systemd(clock, fail=("start",))).run(check_mode=False)


def test_fail_fast_with_the_k3s_message(clock):
    systemd = Systemd(clock, after_start=("activating",))
    journal = Journal([TRANSIENT[0], UNAUTHORIZED, TRANSIENT[0], UNAUTHORIZED])
    with pytest.raises(ServiceError) as err:
        manager(clock, systemd, journal, unit="k3s-agent", timeout=600, fail_fast=20).run(check_mode=False)
    assert str(err.value) == (
        "k3s-agent does not start: Waiting to retrieve agent configuration; server is not ready: "
        "https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt: 401 Unauthorized"
    )
    # not before fail_fast, and long before the timeout
    assert 20 <= clock.t < 25


def test_a_single_permanent_message_waits_until_the_timeout(clock):
    systemd = Systemd(clock, after_start=("activating",))
    journal = Journal([CA_MISMATCH])
    with pytest.raises(ServiceError) as err:
        manager(clock, systemd, journal, timeout=60, fail_fast=5).run(check_mode=False)
    assert str(err.value) == (
        "k3s did not become active within 60s (state activating/start): last error: %s" % CA_MISMATCH_MSG
    )
    assert clock.t >= 60


def test_a_single_permanent_message_of_a_failed_unit_fails_fast(clock):
    systemd = Systemd(clock, after_start=("failed",))
    journal = Journal([FATAL])
    with pytest.raises(ServiceError, match='^k3s does not start: starting kubernetes: .*"boom"$'):
        manager(clock, systemd, journal, timeout=600, fail_fast=10).run(check_mode=False)
    assert 10 <= clock.t < 12


def test_timeout_with_transient_lines_only(clock):
    systemd = Systemd(clock, after_start=("activating",))
    with pytest.raises(ServiceError) as err:
        manager(clock, systemd, Journal(TRANSIENT * 3), timeout=30, fail_fast=5, delay=2.0).run(check_mode=False)
    assert str(err.value) == "k3s did not become active within 30s (state activating/start)"
    assert 30 <= clock.t <= 32
    assert set(clock.sleeps) == {2.0}


def test_permanent_failure_after_active_does_not_matter(clock):
    systemd = Systemd(clock, after_start=("active",))
    result = manager(clock, systemd, Journal([UNAUTHORIZED] * 5), fail_fast=0).run(check_mode=False)
    assert result["actions"] == ["start"]


# -- waiting for the node ------------------------------------------------------------------------------------

V = "v1.31.2+k3s1"


def row(name="s1", ready=True, version=V):
    return {"name": name, "ready": ready, "version": version}


def member(node="s1", voter=True):
    return {"name": node + "-0a1b2c3d", "node": node, "voter": voter}


class Cluster:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def server(clock, cluster, **values):
    values.setdefault("node_name", "s1")
    values.setdefault("version", V)
    return manager(clock, Systemd(clock, ActiveState="active"), read_cluster=cluster, state="restarted", **values)


def test_wait_cluster_until_ready_voting_and_on_version(clock):
    cluster = Cluster(
        [
            KubeAPIError("GET /api/v1/nodes failed: connection refused"),
            ([row(ready=False)], [member(voter=False)]),
            ([row()], [member(voter=False)]),
            ([row()], [member()]),
        ]
    )
    result = server(clock, cluster, etcd_voter=True).run(check_mode=False)
    assert result["actions"] == ["restart"]
    assert cluster.calls == 4


def test_wait_cluster_ignores_members_when_not_a_voter(clock):
    cluster = Cluster([([row()], None)])
    server(clock, cluster, etcd_voter=False).run(check_mode=False)
    assert cluster.calls == 1


def test_wait_cluster_wrong_version_after_fail_fast(clock):
    cluster = Cluster([([row(version="v1.30.0+k3s1")], None)])
    with pytest.raises(ServiceError) as err:
        server(clock, cluster, fail_fast=20, timeout=600).run(check_mode=False)
    assert str(err.value) == "s1 is Ready but not running %s: s1" % V
    assert 20 <= clock.t < 22


def test_wait_cluster_version_reaches_the_pinned_one(clock):
    cluster = Cluster([([row(version="v1.30.0+k3s1")], None)] * 5 + [([row()], None)])
    server(clock, cluster, fail_fast=20).run(check_mode=False)
    assert cluster.calls == 6


def test_wait_cluster_not_voting_until_timeout(clock):
    cluster = Cluster([([row()], [member(voter=False), member("s2")])])
    with pytest.raises(ServiceError) as err:
        server(clock, cluster, etcd_voter=True, timeout=30).run(check_mode=False)
    assert str(err.value) == "s1 after 30s: not a voting etcd member: s1"


def test_wait_cluster_missing_node_until_timeout(clock):
    cluster = Cluster([([row("s2")], None)])
    with pytest.raises(ServiceError, match="^s1 after 30s: missing from the cluster: s1$"):
        server(clock, cluster, timeout=30).run(check_mode=False)


def test_wait_cluster_api_never_answers(clock):
    cluster = Cluster([KubeAPIError("GET /api/v1/nodes failed: connection refused")])
    with pytest.raises(ServiceError) as err:
        server(clock, cluster, timeout=30).run(check_mode=False)
    assert str(err.value) == "s1 after 30s: the API did not answer: GET /api/v1/nodes failed: connection refused"
