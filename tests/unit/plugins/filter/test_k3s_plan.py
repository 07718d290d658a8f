# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.edgefleet.k3s.plugins.filter.k3s_plan import (
    FilterModule,
    k3s_host_problems,
    k3s_restore_plan,
    k3s_server_plan,
    k3s_token_choice,
)


def probe(etcd_data=False, config_joins=False, running=False, agent_token_file=False):
    return {
        "changed": False,
        "node": {
            "etcd_data": etcd_data,
            "config_joins": config_joins,
            "agent_token_file": agent_token_file,
            "token_file": True,
            "dropins": [],
        },
        "service": {"running": running, "active": running},
    }


def test_filters_are_registered():
    assert FilterModule().filters() == {
        "k3s_server_plan": k3s_server_plan,
        "k3s_token_choice": k3s_token_choice,
        "k3s_host_problems": k3s_host_problems,
        "k3s_restore_plan": k3s_restore_plan,
    }


def test_restore_plan_reads_the_probes_and_wants_every_server():
    probe = {"node": {"etcd_data": True, "sqlite_data": False}}
    name = "edgefleet-server-1-1764770000"
    manifest = "%s  %s\n%s  %s.token\n" % ("a" * 64, name, "b" * 64, name)
    sums = {name: "a" * 64, name + ".token": "b" * 64}
    hostvars = {"s1": {"p": probe}, "s2": {"p": probe}, "s3": {"p": {"failed": True}}}
    plan = k3s_restore_plan(name, manifest, sums, "pw-0123456789abcdef", hostvars, ["s1", "s2"], "", "p")
    assert plan == {"kind": "etcd", "fresh": False, "agent_token": False, "problems": []}
    with pytest.raises(AnsibleFilterError, match="s3 was not probed"):
        k3s_restore_plan(name, manifest, sums, "pw-0123456789abcdef", hostvars, ["s1", "s3"], "", "p")


def test_plan_from_hostvars():
    hostvars = {
        "s1": {"__k3s_node": probe()},
        "s2": {"__k3s_node": probe(etcd_data=True, config_joins=True, running=True, agent_token_file=True)},
        "s3": {"__k3s_node": probe(etcd_data=True, config_joins=True)},
    }
    plan = k3s_server_plan(hostvars, ["s1", "s2", "s3"], "etcd")
    assert plan == {
        "source": "s2",
        "bootstrap": None,
        "modes": {"s1": "join", "s2": "join", "s3": "join"},
        "agent_token_holder": "s2",
    }


def test_fresh_cluster_from_hostvars():
    hostvars = {name: {"__k3s_node": probe()} for name in ("s1", "s2")}
    plan = k3s_server_plan(hostvars, ["s1", "s2"], "etcd")
    assert (plan["source"], plan["bootstrap"], plan["modes"]) == ("s1", "s1", {"s1": "init", "s2": "join"})


def test_servers_outside_the_play_come_from_the_delegated_loop():
    hostvars = {"s1": {"__k3s_node": probe()}, "s2": {}, "s3": {"__k3s_node": probe()}}
    others = {
        "results": [
            {"item": "s2", **probe(etcd_data=True, running=True)},
            {"item": "s3", "skipped": True},  # in the play: its own probe counts
        ]
    }
    plan = k3s_server_plan(hostvars, ["s1", "s2", "s3"], "etcd", others=others)
    assert (plan["source"], plan["bootstrap"]) == ("s2", None)
    assert plan["modes"] == {"s1": "join", "s2": "init", "s3": "join"}


def test_delegated_result_wins_over_hostvars():
    hostvars = {"s1": {"__k3s_node": probe()}, "s2": {"__k3s_node": probe()}}
    others = {"results": [{"item": "s2", **probe(etcd_data=True)}]}
    assert k3s_server_plan(hostvars, ["s1", "s2"], "etcd", others=others)["source"] == "s2"


@pytest.mark.parametrize(
    "bad",
    [
        {"failed": True, "msg": "unreachable", "node": {"etcd_data": False}},
        {"unreachable": True, "msg": "ssh: connect to host s2 port 22: No route to host"},
        "not a dict",
    ],
)
def test_unusable_probe_counts_as_unprobed_and_blocks_init(bad):
    hostvars = {"s1": {"__k3s_node": probe()}}
    others = {"results": [{"item": "s2", **bad}] if isinstance(bad, dict) else [bad]}
    with pytest.raises(AnsibleFilterError) as err:
        k3s_server_plan(hostvars, ["s1", "s2"], "etcd", others=others)
    assert "s1 has no etcd data and s2 could not be checked" in str(err.value)


def test_server_unknown_to_hostvars_is_unprobed():
    with pytest.raises(AnsibleFilterError, match="s2 could not be checked"):
        k3s_server_plan({"s1": {"__k3s_node": probe()}}, ["s1", "s2"], "etcd", others=None)


def test_custom_fact_name():
    hostvars = {"s1": {"probe": probe(running=True)}}
    assert k3s_server_plan(hostvars, ["s1"], "sqlite", fact="probe") == {
        "source": "s1",
        "bootstrap": None,
        "modes": {"s1": "standalone"},
        "agent_token_holder": None,
    }


def test_empty_group():
    with pytest.raises(AnsibleFilterError, match="k3s_servers is empty"):
        k3s_server_plan({}, [], "etcd")


def test_token_choice_normalises_its_arguments():
    assert k3s_token_choice("", None, None, "a1") == {"token": "", "warning": None}
    assert k3s_token_choice(None, "tok", "", "a1") == {"token": "tok", "warning": None}
    read = {"token": "K10x::node:p", "username": "node"}
    assert k3s_token_choice(read, "", True, "a1", username="")["token"] == "K10x::node:p"


def test_token_choice_keeps_file_when_unreachable():
    read = {"failed": True, "reason": "unreachable", "msg": "no route"}
    choice = k3s_token_choice(read, "", "yes", "a1")
    assert choice["token"] == "" and "a1 keeps its existing token file" in choice["warning"]


def test_token_choice_errors_become_filter_errors():
    read = {"failed": True, "reason": "invalid", "msg": "token CA hash does not match"}
    with pytest.raises(AnsibleFilterError, match="not usable: token CA hash does not match"):
        k3s_token_choice(read, "", True, "a1")
    with pytest.raises(AnsibleFilterError, match="belongs to user 'server', not 'node'"):
        k3s_token_choice({"token": "K10x::server:p", "username": "server"}, "", True, "a1", username="node")
    with pytest.raises(AnsibleFilterError, match="a1 has no token file yet"):
        k3s_token_choice({"failed": True, "reason": "missing", "msg": "m"}, "", False, "a1", check_mode=0)
