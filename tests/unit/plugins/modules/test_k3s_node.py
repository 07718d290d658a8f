# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_node as MODULE  # noqa: N812
from module_harness import ModuleFail, runner

run_module, run = runner(MODULE)


class FakeAPI:
    """KubeClient and ClusterReader over one set of nodes and etcd members."""

    def __init__(self, nodes=("s1", "s2"), members=("s1", "s2"), fail=None):
        self.nodes = set(nodes)
        self.members_left = [list(members)]
        self.fail = fail
        self.requests = []
        self.kubeconfigs = []
        self.closed = 0

    # KubeClient
    def from_kubeconfig(self, path, timeout=None, **kwargs):
        self.kubeconfigs.append((path, timeout))
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed += 1

    def get(self, path, missing_ok=False):
        self.requests.append(("GET", path))
        if self.fail:
            raise self.fail
        name = path.rsplit("/", 1)[1]
        return {"metadata": {"name": name}} if name in self.nodes else None

    def delete(self, path, missing_ok=True):
        self.requests.append(("DELETE", path))
        self.nodes.discard(path.rsplit("/", 1)[1])
        return True

    # ClusterReader
    def reader(self, kubeconfig, timeout=10, **kwargs):
        return self

    def members(self):
        names = self.members_left.pop(0) if len(self.members_left) > 1 else self.members_left[0]
        if names is None:
            return None
        return [{"name": n + "-0a1b2c3d", "node": n, "voter": True, "peer": ""} for n in names]


class FakeTime:
    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


@pytest.fixture
def api(monkeypatch):
    fake = FakeAPI()
    monkeypatch.setattr(MODULE, "KubeClient", fake)
    monkeypatch.setattr(MODULE, "ClusterReader", fake.reader)
    monkeypatch.setattr(MODULE, "time", FakeTime())
    return fake


def test_deletes_an_existing_node(patched_exits, api):
    result = run({"name": "s2", "timeout": 4})
    assert result == {"changed": True, "existed": True}
    assert api.requests == [("GET", "/api/v1/nodes/s2"), ("DELETE", "/api/v1/nodes/s2")]
    assert api.kubeconfigs == [("/etc/rancher/k3s/k3s.yaml", 4)]
    assert api.closed == 1


def test_missing_node_is_no_change(patched_exits, api):
    result = run({"name": "s9", "wait_member_removed": True})
    assert result == {"changed": False, "existed": False}
    assert api.requests == [("GET", "/api/v1/nodes/s9")]


def test_check_mode_deletes_nothing(patched_exits, api):
    result = run({"name": "s2", "wait_member_removed": True, "_ansible_check_mode": True})
    assert result == {"changed": True, "existed": True}
    assert api.requests == [("GET", "/api/v1/nodes/s2")]
    assert MODULE.time.t == 0


def test_waits_until_the_member_is_gone(patched_exits, api):
    api.members_left = [["s1", "s2"], ["s1", "s2"], ["s1"]]
    result = run({"name": "s2", "wait_member_removed": True})
    assert result == {"changed": True, "existed": True}
    assert MODULE.time.t == 2


def test_no_embedded_etcd_nothing_to_wait_for(patched_exits, api):
    api.members_left = [None]
    assert run({"name": "s2", "wait_member_removed": True})["changed"] is True


def test_member_still_listed_after_wait_timeout(patched_exits, api):
    result = run({"name": "s2", "wait_member_removed": True, "wait_timeout": 5}, expect=ModuleFail)
    assert result["msg"] == "the etcd member of s2 is still listed after 5s"
    assert 5 <= MODULE.time.t <= 6


def test_api_error_fails(patched_exits, api):
    api.fail = KubeAPIError("GET /api/v1/nodes/s2: HTTP 403: forbidden", 403)
    result = run({"name": "s2"}, expect=ModuleFail)
    assert result["msg"] == "cannot remove node s2: GET /api/v1/nodes/s2: HTTP 403: forbidden"


def test_only_absent(patched_exits, api):
    result = run({"name": "s2", "state": "present"}, expect=ModuleFail)
    assert "state" in result["msg"]
    assert api.requests == []
