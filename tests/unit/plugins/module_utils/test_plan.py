# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._plan import PlanError, server_plan, token_choice


def srv(name, probed=True, **facts):
    row = {"name": name, "probed": probed}
    row.update(facts)
    return row


# -- server_plan --------------------------------------------------------------------------------------------


def test_fresh_trio_first_inits_and_bootstraps():
    plan = server_plan([srv("s1"), srv("s2"), srv("s3")], "etcd")
    assert plan == {
        "source": "s1",
        "bootstrap": "s1",
        "modes": {"s1": "init", "s2": "join", "s3": "join"},
        "agent_token_holder": None,
    }


def test_first_rebuilt_joins_the_first_peer_with_data():
    servers = [srv("s1"), srv("s2", etcd_data=False), srv("s3", etcd_data=True), srv("s4", etcd_data=True)]
    plan = server_plan(servers, "etcd")
    assert plan["source"] == "s3"
    assert plan["modes"] == {"s1": "join", "s2": "join", "s3": "init", "s4": "join"}
    assert plan["bootstrap"] == "s3"


def test_first_rebuilt_joins_peer_even_when_another_peer_is_unprobed():
    servers = [srv("s1"), srv("s2", probed=False), srv("s3", etcd_data=True, running=True)]
    plan = server_plan(servers, "etcd")
    assert plan["source"] == "s3"
    assert plan["modes"]["s1"] == "join"
    assert plan["bootstrap"] is None


def test_peer_with_data_that_joined_keeps_join_as_source():
    servers = [srv("s1"), srv("s2", etcd_data=True, config_joins=True, running=True)]
    plan = server_plan(servers, "etcd")
    assert plan["source"] == "s2"
    assert plan["modes"] == {"s1": "join", "s2": "join"}


def test_unprobed_peer_and_no_data_anywhere_is_refused():
    servers = [srv("s1"), srv("s2", probed=False), srv("s3"), srv("s4", probed=False)]
    with pytest.raises(PlanError) as err:
        server_plan(servers, "etcd")
    message = str(err.value)
    assert message.startswith("s1 has no etcd data and s2, s4 could not be checked")
    assert "s3" not in message
    assert "cluster-init could split the cluster" in message


def test_data_on_an_unprobed_host_does_not_count():
    # Only a probe says a peer has data; a stale fact on an unreachable host must not make it the source.
    servers = [srv("s1"), srv("s2", probed=False, etcd_data=True)]
    with pytest.raises(PlanError, match="s2 could not be checked"):
        server_plan(servers, "etcd")


@pytest.mark.parametrize(("joins", "mode"), [(False, "init"), (True, "join")])
def test_first_with_data_keeps_its_mode(joins, mode):
    servers = [srv("s1", etcd_data=True, config_joins=joins, running=True), srv("s2", etcd_data=True)]
    plan = server_plan(servers, "etcd")
    assert plan["source"] == "s1"
    assert plan["modes"] == {"s1": mode, "s2": "join"}
    assert plan["bootstrap"] is None


def test_first_with_data_wins_even_when_peers_are_unprobed():
    plan = server_plan([srv("s1", etcd_data=True), srv("s2", probed=False)], "etcd")
    assert (plan["source"], plan["bootstrap"]) == ("s1", "s1")
    assert plan["modes"] == {"s1": "init", "s2": "join"}


@pytest.mark.parametrize("datastore", ["sqlite", "external"])
def test_non_etcd_datastores_are_standalone(datastore):
    # No etcd: nothing to split, an unprobed server is no reason to refuse.
    servers = [srv("s1"), srv("s2", probed=False), srv("s3", etcd_data=True)]
    plan = server_plan(servers, datastore)
    assert plan["modes"] == {"s1": "standalone", "s2": "standalone", "s3": "standalone"}
    assert (plan["source"], plan["bootstrap"]) == ("s1", "s1")


def test_running_standalone_source_needs_no_bootstrap():
    assert server_plan([srv("s1", running=True)], "sqlite")["bootstrap"] is None


def test_running_source_needs_no_bootstrap():
    servers = [srv("s1", etcd_data=True, running=True), srv("s2", running=False)]
    assert server_plan(servers, "etcd")["bootstrap"] is None


def test_running_but_not_source_does_not_cancel_bootstrap():
    servers = [srv("s1", etcd_data=True, running=False), srv("s2", etcd_data=True, running=True)]
    plan = server_plan(servers, "etcd")
    assert (plan["source"], plan["bootstrap"]) == ("s1", "s1")


def test_agent_token_holder_is_first_probed_holder():
    servers = [
        srv("s1"),
        srv("s2", probed=False, agent_token_file=True),
        srv("s3", agent_token_file=True),
        srv("s4", agent_token_file=True),
    ]
    assert server_plan(servers, "sqlite")["agent_token_holder"] == "s3"
    assert server_plan([srv("s1"), srv("s2")], "etcd")["agent_token_holder"] is None


def test_empty_server_group_is_refused():
    with pytest.raises(PlanError, match="k3s_servers is empty"):
        server_plan([], "etcd")


# -- token_choice --------------------------------------------------------------------------------------------

TOKEN = "K10" + "a" * 64 + "::server:secret"
AGENT_TOKEN = "K10" + "a" * 64 + "::node:agentsecret"


def test_read_token_is_used_over_configured_and_file():
    read = {"token": TOKEN, "username": "server"}
    assert token_choice(read, "configured", True, "s2") == {"token": TOKEN, "warning": None}


def test_agent_gets_read_token_of_user_node():
    read = {"token": AGENT_TOKEN, "username": "node"}
    assert token_choice(read, "", False, "a1", username="node") == {"token": AGENT_TOKEN, "warning": None}


@pytest.mark.parametrize("user", ["server", "", None])
def test_agent_refuses_a_token_of_another_user(user):
    read = {"token": TOKEN, "username": user}
    with pytest.raises(PlanError) as err:
        token_choice(read, "", True, "a1", username="node")
    assert "read for a1 belongs to user %r, not 'node'" % user in str(err.value)
    assert "secret" not in str(err.value)


@pytest.mark.parametrize("reason", ["unreachable", "missing"])
def test_unreadable_token_keeps_existing_file_with_warning(reason):
    read = {"failed": True, "reason": reason, "msg": "failed to get CA certs from https://s1:6443/cacerts: refused"}
    choice = token_choice(read, "configured", True, "s2")
    assert choice["token"] == ""
    assert choice["warning"].startswith("s2 keeps its existing token file")
    assert "refused" in choice["warning"]


@pytest.mark.parametrize("reason", ["unreachable", "missing"])
def test_unreadable_token_without_file_is_an_error(reason):
    read = {"failed": True, "reason": reason, "msg": "token file does not exist"}
    with pytest.raises(PlanError, match="s2 has no token file yet and the token could not be read: token file does"):
        token_choice(read, "configured", False, "s2")


@pytest.mark.parametrize("reason", ["unreachable", "missing"])
def test_unreadable_token_without_file_in_check_mode_warns(reason):
    choice = token_choice({"failed": True, "reason": reason, "msg": "x"}, "", False, "s2", check_mode=True)
    assert choice["token"] == ""
    assert "check mode" in choice["warning"] and "s2" in choice["warning"]


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("has_file", [False, True])
def test_invalid_token_is_an_error_even_with_a_file(has_file, check_mode):
    msg = "token CA hash does not match the Cluster CA certificate hash: %s != %s" % ("a" * 64, "b" * 64)
    read = {"failed": True, "reason": "invalid", "msg": msg}
    with pytest.raises(PlanError) as err:
        token_choice(read, "configured", has_file, "s2", check_mode=check_mode)
    assert str(err.value) == "the cluster token read for s2 is not usable: " + msg


def test_failure_without_reason_counts_as_invalid():
    with pytest.raises(PlanError, match="not usable: no token returned"):
        token_choice({"failed": True}, "", True, "s2")


@pytest.mark.parametrize("read", [None, {"skipped": True, "skip_reason": "Conditional result was False"}])
def test_not_read_uses_configured(read):
    assert token_choice(read, "configured", True, "s2") == {"token": "configured", "warning": None}
    assert token_choice(read, None, False, "s2") == {"token": "", "warning": None}
