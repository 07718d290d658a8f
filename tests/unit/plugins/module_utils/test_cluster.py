# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import base64

import pytest
import yaml
from ansible_collections.edgefleet.k3s.plugins.module_utils._cluster import (
    ClusterReader,
    describe,
    member_node,
    member_row,
    node_row,
    problems,
    wait_until,
)
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError

V = "v1.31.2+k3s1"


def node(name, ready="True", version=V, labels=None, ip="10.0.0.11", unschedulable=None, gpus=None):
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": ready, "reason": "KubeletReady"},
            ],
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
            "nodeInfo": {"kubeletVersion": version},
            "allocatable": {"cpu": "4"},
        },
    }
    if unschedulable is not None:
        obj["spec"]["unschedulable"] = unschedulable
    if gpus is not None:
        obj["status"]["allocatable"]["nvidia.com/gpu"] = gpus
    return obj


# -- node_row / member_row -----------------------------------------------------------------------------------


def test_node_row_of_a_ready_server():
    labels = {
        "node-role.kubernetes.io/control-plane": "true",
        "node-role.kubernetes.io/etcd": "true",
        "node-role.kubernetes.io/master": "true",
        "kubernetes.io/hostname": "s1",
    }
    assert node_row(node("s1", labels=labels, gpus="2", unschedulable=True)) == {
        "name": "s1",
        "ready": True,
        "status": "Ready",
        "version": V,
        "roles": ["control-plane", "etcd", "master"],
        "ip": "10.0.0.11",
        "unschedulable": True,
        "gpus": "2",
    }


@pytest.mark.parametrize("ready", ["False", "Unknown", None])
def test_node_row_not_ready(ready):
    row = node_row(node("a1", ready=ready))
    assert (row["ready"], row["status"]) == (False, "NotReady")


def test_node_row_of_an_empty_node():
    assert node_row({}) == {
        "name": "",
        "ready": False,
        "status": "NotReady",
        "version": "",
        "roles": [],
        "ip": "",
        "unschedulable": False,
        "gpus": "0",
    }


def test_node_row_without_ready_condition_or_internal_ip():
    obj = node("a1")
    obj["status"]["conditions"] = [{"type": "MemoryPressure", "status": "True"}]
    obj["status"]["addresses"] = [{"type": "ExternalIP", "address": "203.0.113.5"}]
    row = node_row(obj)
    assert (row["ready"], row["ip"]) == (False, "")


@pytest.mark.parametrize(
    ("member", "node_name"),
    [
        ("s1-0a1b2c3d", "s1"),
        ("server-1-4f3a2b1c", "server-1"),
        ("edge-cafe-1234abcd", "edge-cafe"),
        ("", ""),
        (None, ""),
    ],
)
def test_member_node(member, node_name):
    assert member_node(member) == node_name


def test_member_row():
    member = {"ID": 1, "name": "s2-deadbeef", "peerURLs": ["https://10.0.0.12:2380"], "isLearner": True}
    assert member_row(member) == {"name": "s2-deadbeef", "node": "s2", "voter": False, "peer": "https://10.0.0.12:2380"}
    assert member_row({"name": "s1-00000000"})["voter"] is True


# -- problems / describe -------------------------------------------------------------------------------------


def row(name, ready=True, version=V):
    return {"name": name, "ready": ready, "version": version}


def member(node_name, voter=True):
    return {"name": node_name + "-0a1b2c3d", "node": node_name, "voter": voter}


def test_no_problems():
    rows = [row("s1"), row("s2"), row("a1")]
    assert problems(rows, [member("s1"), member("s2")], nodes=["s1", "s2", "a1"], version=V, voters=["s1", "s2"]) == {}


def test_every_kind_of_problem():
    rows = [row("s1"), row("s2", ready=False, version="v1.30.0+k3s1"), row("s3", version="v1.30.0+k3s1")]
    members = [member("s1"), member("s3", voter=False)]
    found = problems(rows, members, nodes=["s1", "s2", "s3", "s4"], version=V, voters=["s1", "s2", "s3"])
    assert found == {
        "missing": ["s4"],
        "not_ready": ["s2"],
        "wrong_version": ["s3"],  # s2 is reported as not Ready, not twice
        "not_voting": ["s2", "s3"],
    }


def test_no_version_no_version_check():
    assert problems([row("s1", version="v0")], None, nodes=["s1"]) == {}


def test_members_none_means_no_etcd_check():
    assert problems([row("s1")], None, nodes=["s1"], voters=["s1", "s2"]) == {}
    assert problems([row("s1")], [], nodes=["s1"], voters=["s1"]) == {"not_voting": ["s1"]}


def test_extra_nodes_are_no_problem():
    assert problems([row("s1"), row("old", ready=False)], None, nodes=["s1"]) == {}


def test_describe_names_every_node():
    text = describe({"missing": ["a2"], "not_ready": ["a1", "a3"], "wrong_version": ["s2"], "not_voting": ["s3"]}, V)
    assert text == (
        "missing from the cluster: a2; not Ready: a1, a3; not running %s: s2; not a voting etcd member: s3" % V
    )
    assert describe({}) == ""


# -- wait_until ----------------------------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


def reads(*answers):
    answers = list(answers)

    def read():
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return read


def check(state):
    return problems(state[0], state[1], nodes=["s1", "a1"], version=V)


def test_wait_until_good_at_once():
    clock = Clock()
    state = ([row("s1"), row("a1")], None)
    assert wait_until(reads(state), check, 60, clock=clock, sleep=clock.sleep) == (state, {}, None)
    assert clock.sleeps == []


def test_wait_until_polls_through_api_errors():
    clock = Clock()
    good = ([row("s1"), row("a1")], None)
    read = reads(KubeAPIError("GET /api/v1/nodes failed: refused"), ([row("s1")], None), good)
    assert wait_until(read, check, 60, delay=2.0, clock=clock, sleep=clock.sleep) == (good, {}, None)
    assert clock.sleeps == [2.0, 2.0]


def test_wait_until_times_out_with_the_last_problems():
    clock = Clock()
    state = ([row("s1"), row("a1", ready=False)], None)
    got = wait_until(reads(state), check, 10, delay=3.0, clock=clock, sleep=clock.sleep)
    assert got == (state, {"not_ready": ["a1"]}, None)
    assert 10 <= clock.t < 13


def test_wait_until_times_out_unreachable_with_the_error():
    clock = Clock()
    got = wait_until(reads(KubeAPIError("boom")), check, 5, clock=clock, sleep=clock.sleep)
    assert got == (None, {"unreachable": ["api"]}, "boom")


@pytest.mark.parametrize("timeout", [0, -5])
def test_wait_until_zero_timeout_checks_once(timeout):
    clock = Clock()
    calls = []

    def read():
        calls.append(1)
        return ([], None)

    got = wait_until(read, check, timeout, clock=clock, sleep=clock.sleep)
    assert got == (([], None), {"missing": ["s1", "a1"]}, None)
    assert (calls, clock.sleeps) == ([1], [])


def test_wait_until_does_not_swallow_other_errors():
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, check, 5, clock=Clock(), sleep=lambda s: None)


# -- ClusterReader against a local HTTPS server --------------------------------------------------------------


def kubeconfig(pki, url):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {"server": url, "certificate-authority-data": base64.b64encode(pki.ca.pem).decode()},
            }
        ],
        "users": [
            {
                "name": "default",
                "user": {
                    "client-certificate-data": base64.b64encode(pki.admin.pem).decode(),
                    "client-key-data": base64.b64encode(pki.admin.key_pem).decode(),
                },
            }
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
    }
    return pki.write("k3s.yaml", yaml.safe_dump(config).encode())


@pytest.fixture
def api(pki, https_server_factory):
    return https_server_factory(pki.server.pem, pki.server.key_pem, client_ca_pem=pki.client_ca.pem)


def test_reader_nodes(pki, api):
    api.routes[("GET", "/api/v1/nodes")] = (200, {"kind": "NodeList", "items": [node("s1"), node("a1", "False")]}, None)
    rows = ClusterReader(kubeconfig(pki, api.url)).nodes()
    assert [(r["name"], r["ready"]) for r in rows] == [("s1", True), ("a1", False)]
    assert api.requests[0]["peer_cert"]  # the API is read with the admin certificate


def test_reader_nodes_through_api_url(pki, api, https_server_factory):
    other = https_server_factory(pki.server.pem, pki.server.key_pem, client_ca_pem=pki.client_ca.pem)
    other.routes[("GET", "/api/v1/nodes")] = (200, {"items": [node("lb")]}, None)
    rows = ClusterReader(kubeconfig(pki, api.url), api_url=other.url).nodes()
    assert [r["name"] for r in rows] == ["lb"]
    assert api.requests == []


def test_reader_members_without_credentials(pki, api):
    info = {
        "members": [
            {"ID": 1, "name": "s1-0a1b2c3d", "peerURLs": ["https://10.0.0.11:2380"]},
            {"ID": 2, "name": "s2-deadbeef", "peerURLs": ["https://10.0.0.12:2380"], "isLearner": True},
        ]
    }
    api.routes[("GET", "/db/info")] = (200, info, None)
    members = ClusterReader(kubeconfig(pki, api.url)).members()
    assert members == [
        {"name": "s1-0a1b2c3d", "node": "s1", "voter": True, "peer": "https://10.0.0.11:2380"},
        {"name": "s2-deadbeef", "node": "s2", "voter": False, "peer": "https://10.0.0.12:2380"},
    ]
    request = api.requests[0]
    assert not request["peer_cert"]  # k3s refuses the admin certificate on /db/info
    assert "authorization" not in request["headers"]


@pytest.mark.parametrize("status", [400, 404])
def test_reader_members_none_without_embedded_etcd(pki, api, status):
    api.routes[("GET", "/db/info")] = (status, "etcd datastore disabled", "text/plain")
    assert ClusterReader(kubeconfig(pki, api.url)).members() is None


def test_reader_members_other_errors_raise(pki, api):
    api.routes[("GET", "/db/info")] = (500, "internal error", "text/plain")
    with pytest.raises(KubeAPIError) as err:
        ClusterReader(kubeconfig(pki, api.url)).members()
    assert err.value.status == 500


def test_reader_passes_timeout_and_opener(pki, tmp_path):
    seen = {}

    class Response:
        def read(self):
            return b'{"items": []}'

        def close(self):
            pass

    def opener(url, **kwargs):
        seen["url"], seen["timeout"] = url.split("?")[0], kwargs["timeout"]
        return Response()

    assert ClusterReader(kubeconfig(pki, "https://10.0.0.10:6443"), timeout=3, opener=opener).nodes() == []
    assert seen == {"url": "https://10.0.0.10:6443/api/v1/nodes", "timeout": 3}
