# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_cluster_status as MODULE  # noqa: N812
from module_harness import ModuleFail, runner

V = "v1.31.2+k3s1"


run_module, run = runner(MODULE)


def row(name, ready=True, version=V):
    return {"name": name, "ready": ready, "status": "Ready" if ready else "NotReady", "version": version}


def member(node, voter=True):
    return {"name": node + "-0a1b2c3d", "node": node, "voter": voter, "peer": "https://%s:2380" % node}


class FakeReader:
    """ClusterReader answering states one read after the other (the last one repeats)."""

    states = []
    instances = []

    def __init__(self, kubeconfig, api_url=None, timeout=10, opener=None):
        self.kubeconfig, self.api_url, self.timeout = kubeconfig, api_url, timeout
        self.reads = 0
        FakeReader.instances.append(self)

    def _state(self):
        state = FakeReader.states[min(self.reads - 1, len(FakeReader.states) - 1)]
        if isinstance(state, Exception):
            raise state
        return state

    def nodes(self):
        self.reads += 1
        return self._state()[0]

    def members(self):  # read after nodes(), from the same state
        return self._state()[1]


@pytest.fixture
def cluster(monkeypatch):
    FakeReader.instances = []
    FakeReader.states = [([row("s1"), row("a1")], [member("s1")])]
    monkeypatch.setattr(MODULE, "ClusterReader", FakeReader)
    return FakeReader


def test_healthy_cluster(patched_exits, cluster):
    result = run({"nodes": ["s1", "a1"], "version": V, "voters": ["s1"]})
    assert result == {
        "changed": False,
        "problems": {},
        "healthy": True,
        "api_url": "(kubeconfig)",
        "nodes": [row("s1"), row("a1")],
        "members": [member("s1")],
    }
    reader = cluster.instances[0]
    assert (reader.kubeconfig, reader.api_url, reader.timeout) == ("/etc/rancher/k3s/k3s.yaml", None, 10)


def test_api_url_and_timeout_are_passed(patched_exits, cluster):
    result = run({"api_url": "https://10.0.0.10:6443", "timeout": 3, "kubeconfig": "/tmp/kc.yaml"})
    assert result["api_url"] == "https://10.0.0.10:6443"
    reader = cluster.instances[0]
    assert (reader.kubeconfig, reader.api_url, reader.timeout) == ("/tmp/kc.yaml", "https://10.0.0.10:6443", 3)


def test_fail_names_every_node_and_problem(patched_exits, cluster):
    cluster.states = [([row("s1", version="v1.30.0+k3s1"), row("a1", ready=False)], [member("s1", voter=False)])]
    result = run({"nodes": ["s1", "a1", "a2"], "version": V, "voters": ["s1"]}, expect=ModuleFail)
    assert result["msg"] == (
        "The cluster is not as wanted after 0s: missing from the cluster: a2; not Ready: a1; "
        "not running %s: s1; not a voting etcd member: s1" % V
    )
    assert result["healthy"] is False
    assert result["problems"] == {
        "missing": ["a2"],
        "not_ready": ["a1"],
        "wrong_version": ["s1"],
        "not_voting": ["s1"],
    }
    assert [n["name"] for n in result["nodes"]] == ["s1", "a1"]


def test_fail_false_only_reports(patched_exits, cluster):
    cluster.states = [([row("s1")], None)]
    result = run({"nodes": ["s1", "a1"], "voters": ["s1"], "fail": False})
    assert result["healthy"] is False
    assert result["problems"] == {"missing": ["a1"]}
    assert result["members"] is None
    assert "msg" not in result


def test_unreachable_api(patched_exits, cluster):
    cluster.states = [KubeAPIError("GET /api/v1/nodes failed: connection refused")]
    result = run({"nodes": ["s1"]}, expect=ModuleFail)
    assert result["msg"] == (
        "The cluster is not as wanted after 0s: the API did not answer: GET /api/v1/nodes failed: connection refused"
    )
    assert result["problems"] == {"unreachable": ["api"]}
    assert "nodes" not in result and "members" not in result


def test_unreachable_api_without_fail(patched_exits, cluster):
    cluster.states = [KubeAPIError("refused")]
    result = run({"fail": False})
    assert (result["healthy"], result["problems"]) == (False, {"unreachable": ["api"]})
    assert result["error"] == "refused"


def test_waits_until_the_cluster_is_as_wanted(patched_exits, cluster):
    cluster.states = [
        KubeAPIError("refused"),
        ([row("s1")], None),
        ([row("s1"), row("a1", ready=False)], None),
        ([row("s1"), row("a1")], None),
    ]
    result = run({"nodes": ["s1", "a1"], "wait_timeout": 30, "delay": 0})
    assert result["healthy"] is True
    assert cluster.instances[0].reads == 4


def test_no_wanted_state_is_healthy(patched_exits, cluster):
    cluster.states = [([row("old", ready=False)], None)]
    assert run({})["healthy"] is True
