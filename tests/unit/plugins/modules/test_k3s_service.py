# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible.module_utils import basic
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_service as MODULE  # noqa: N812
from module_harness import ModuleFail, runner

V = "v1.31.2+k3s1"
UNAUTHORIZED = (
    'time="2025-03-01T10:00:00Z" level=info msg="Waiting to retrieve agent configuration; server is not ready: '
    'https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt: 401 Unauthorized"'
)


run_module, run = runner(MODULE)


class Host:
    """systemctl and journalctl through AnsibleModule.run_command."""

    def __init__(self, active="inactive", after_start="active", journal=(), load="loaded", reload="no"):
        self.props = {
            "LoadState": load,
            "ActiveState": active,
            "SubState": "",
            "UnitFileState": "enabled",
            "NeedDaemonReload": reload,
        }
        self.after_start = after_start
        self.journal = "\n".join(journal) + "\n"
        self.calls = []

    def __call__(self, module, args, check_rc=False, environ_update=None, **kwargs):
        self.calls.append(list(args))
        if args[0] == "journalctl":
            return 0, self.journal, ""
        assert args[0] == "systemctl"
        assert environ_update == {"LC_ALL": "C"}
        if args[1] == "show":
            return 0, "".join("%s=%s\n" % item for item in self.props.items()), ""
        if args[1] in ("start", "restart"):
            self.props["ActiveState"] = self.after_start
        return 0, "", ""

    def verbs(self):
        return [c[1] for c in self.calls if c[0] == "systemctl" and c[1] != "show"]


@pytest.fixture
def host(monkeypatch):
    holder = {}

    def install(**kwargs):
        fake = Host(**kwargs)

        def run_command(self, args, **kw):
            return fake(self, args, **kw)

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        holder["host"] = fake
        return fake

    return install


class FakeReader:
    instances = []
    answers = []

    def __init__(self, kubeconfig, api_url=None, timeout=10, opener=None):
        self.kubeconfig = kubeconfig
        FakeReader.instances.append(self)

    def nodes(self):
        answer = FakeReader.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def members(self):
        return [{"name": "s1-0a1b2c3d", "node": "s1", "voter": True, "peer": ""}]


@pytest.fixture
def reader(monkeypatch):
    FakeReader.instances = []
    FakeReader.answers = [[{"name": "s1", "ready": True, "version": V}]]
    monkeypatch.setattr(MODULE, "ClusterReader", FakeReader)
    return FakeReader


def test_start_agent(patched_exits, host):
    fake = host(after_start="active")
    result = run({"node_type": "agent", "delay": 0})
    assert (result["changed"], result["actions"]) == (True, ["start"])
    assert result["msg"] == "start"
    assert ["systemctl", "start", "--no-block", "k3s-agent"] in fake.calls
    assert isinstance(result["waited"], float)


def test_nothing_to_do(patched_exits, host):
    fake = host(active="active")
    result = run({})
    assert result == {"changed": False, "actions": []}
    assert fake.verbs() == []


def test_restart_message_names_the_reasons(patched_exits, host):
    fake = host(active="active", reload="yes")
    reasons = ["/usr/local/bin/k3s changed after k3s started", "the unit file changed on disk"]
    result = run({"state": "restarted", "reasons": reasons, "delay": 0})
    assert result["actions"] == ["daemon-reload", "restart"]
    assert result["msg"] == "daemon-reload, restart because " + "; ".join(reasons)
    assert fake.verbs() == ["daemon-reload", "restart"]


def test_check_mode(patched_exits, host):
    fake = host(active="active")
    result = run({"state": "restarted", "_ansible_check_mode": True})
    assert (result["changed"], result["actions"]) == (True, ["restart"])
    assert fake.verbs() == []


def test_not_installed_in_check_mode_keeps_its_message(patched_exits, host):
    host(load="not-found")
    result = run({"node_type": "agent", "_ansible_check_mode": True})
    assert result["msg"] == "k3s-agent is not installed yet"


def test_not_installed_fails(patched_exits, host):
    host(load="not-found")
    result = run({}, expect=ModuleFail)
    assert result["msg"] == "the unit k3s is not installed (LoadState=not-found) on k3s"


def test_wrong_token_fails_fast_with_the_journal_message(patched_exits, host):
    fake = host(after_start="activating", journal=[UNAUTHORIZED, UNAUTHORIZED])
    result = run({"node_type": "agent", "fail_fast": 0, "delay": 0}, expect=ModuleFail)
    assert result["msg"] == (
        "k3s-agent does not start: Waiting to retrieve agent configuration; server is not ready: "
        "https://10.0.0.10:6443/v1-k3s/serving-kubelet.crt: 401 Unauthorized on k3s-agent"
    )
    journal = [c for c in fake.calls if c[0] == "journalctl"][0]
    assert journal[:5] == ["journalctl", "--unit", "k3s-agent", "--since", journal[4]]
    assert journal[4].startswith("@") and journal[4][1:].isdigit()


def test_timeout_fails(patched_exits, host):
    host(after_start="activating")
    result = run({"timeout": 0, "delay": 0}, expect=ModuleFail)
    assert result["msg"] == "k3s did not become active within 0s (state activating/) on k3s"


def test_node_name_only_for_servers(patched_exits, host, reader):
    fake = host()
    result = run({"node_type": "agent", "node_name": "a1"}, expect=ModuleFail)
    assert result["msg"] == "node_name waits through the local API, which only a server has"
    assert fake.calls == []


def test_version_needs_node_name(patched_exits, host):
    result = run({"version": V}, expect=ModuleFail)
    assert "version" in result["msg"] and "node_name" in result["msg"]


def test_server_waits_for_its_node(patched_exits, host, reader):
    host(active="active")
    result = run({"state": "restarted", "node_name": "s1", "version": V, "etcd_voter": True, "delay": 0})
    assert result["actions"] == ["restart"]
    assert [r.kubeconfig for r in reader.instances] == ["/etc/rancher/k3s/k3s.yaml"]


def test_server_wrong_version_fails_naming_the_node(patched_exits, host, reader):
    host(active="active")
    reader.answers = [[{"name": "s1", "ready": True, "version": "v1.30.0+k3s1"}]]
    result = run({"state": "restarted", "node_name": "s1", "version": V, "fail_fast": 0, "delay": 0}, ModuleFail)
    assert result["msg"] == "s1 is Ready but not running %s: s1 on s1" % V


def test_server_api_down_fails_after_timeout(patched_exits, host, reader):
    host(active="active")
    reader.answers = [KubeAPIError("GET /api/v1/nodes failed: connection refused")]
    result = run({"state": "restarted", "node_name": "s1", "timeout": 0, "delay": 0}, expect=ModuleFail)
    assert result["msg"] == "s1 after 0s: the API did not answer: GET /api/v1/nodes failed: connection refused on s1"
