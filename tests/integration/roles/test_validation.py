# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation runs first and fails bad inventories with a clear message before any host is contacted.

Every host of these inventories is unreachable (SSH to 127.0.0.1:1): had a play got past validation, the run would
report UNREACHABLE. test_valid_inventory_passes_validation_then_reaches_hosts shows that this really happens.
"""

from __future__ import annotations

import re

import pytest
from edgefleet_testing import flat, make_inventory, playbook

CASES = {
    "even-servers": (
        dict(servers=2),
        "k3s_servers has 2 hosts: embedded etcd needs an odd number of servers (1, 3, 5…) to keep quorum",
    ),
    "missing-version": (
        dict(cluster_vars={"k3s_version": None}),
        "k3s_version must pin a k3s release such as v1.36.1+k3s1 (no channel names like 'latest' or 'stable'); "
        'got "<undefined>".',
    ),
    "latest-version": (
        dict(cluster_vars={"k3s_version": "latest"}),
        "k3s_version must pin a k3s release such as v1.36.1+k3s1 (no channel names like 'latest' or 'stable'); "
        'got "latest".',
    ),
    "ill-formed-version": (
        dict(cluster_vars={"k3s_version": "1.36.1"}),
        'got "1.36.1".',
    ),
    "unknown-arch": (
        dict(cluster_vars={"k3s_arch": "sparc"}),
        'k3s_arch "sparc" is not supported: use one of amd64, arm64, armhf, or leave it empty to detect',
    ),
    "managed-key-server-config": (
        dict(group_vars={"k3s_servers": {"k3s_server_config": {"token": "x" * 32, "server": "https://x:6443"}}}),
        "k3s_server_config must not set key(s) managed by the role: server (use k3s_api_endpoint (joiners are "
        "pointed at it by the role)); token (use k3s_token).",
    ),
    "managed-key-dropin": (
        dict(group_vars={"k3s_servers": {"k3s_server_config_dropins": {"50-init": {"cluster-init": True}}}}),
        "k3s_server_config_dropins.50-init must not set key(s) managed by the role: cluster-init",
    ),
    "managed-key-agent-config": (
        dict(group_vars={"k3s_agents": {"k3s_agent_config": {"token-file": "/tmp/t"}}}),
        "k3s_agent_config must not set key(s) managed by the role: token-file (use k3s_agent_token).",
    ),
    "unknown-server-flag": (
        dict(group_vars={"k3s_servers": {"k3s_server_config": {"no-such-flag": True}}}),
        "k3s_server_config sets unknown k3s server flag(s) no-such-flag",
    ),
    "server-only-keys-in-agent-config": (
        dict(group_vars={"k3s_agents": {"k3s_agent_config": {"disable": ["traefik"], "tls-san": ["x"]}}}),
        "k3s_agent_config sets server-only key(s) disable, tls-san: a k3s agent refuses to start on keys it does "
        "not know; move them to k3s_server_config.",
    ),
    "no-loadbalancer": (
        dict(lbs=0),
        "k3s_loadbalancers is empty but k3s_servers has 3 hosts: add a load balancer host to k3s_loadbalancers, or "
        "set k3s_api_endpoint to the address of an external load balancer.",
    ),
    "short-token": (
        dict(cluster_vars={"k3s_token": "tooshort"}),
        "k3s_token and k3s_agent_token, when set, must be at least 16 characters long.",
    ),
    "datastore-conflict": (
        dict(servers=1, cluster_vars={"k3s_datastore_endpoint": "postgres://db:5432/k3s", "k3s_etcd": True}),
        "k3s_datastore_endpoint (external datastore) and k3s_etcd: true (embedded etcd) are mutually exclusive",
    ),
    "no-servers": (
        dict(servers=0),
        "The inventory group k3s_servers is empty (or missing); at least one k3s server is required.",
    ),
    "duplicate-node-names": (
        dict(host_vars={"agent-1": {"k3s_node_name": "server-1"}}),
        "k3s_node_name must be unique across k3s_servers, k3s_agents and k3s_gpu_agents",
    ),
    "bad-taint": (
        dict(host_vars={"agent-1": {"k3s_node_taints": ["gpu"]}}),
        "invalid: gpu.",
    ),
    "wrong-type": (
        dict(group_vars={"k3s_servers": {"k3s_server_config": "disable: traefik"}}),
        "k3s_server_config",
    ),
    "bootstrap-shaped-server-token": (
        dict(cluster_vars={"k3s_token": "abcdef.0123456789abcdef"}),
        "k3s_token has the form of a k3s bootstrap token (<6 characters>.<16 characters>, lower-case letters and "
        "digits), which k3s refuses as a server token",
    ),
    "groups-outside-k3s_cluster": (
        dict(under_cluster=False, cluster_vars={"k3s_version": "bogus"}),
        "k3s_version must pin a k3s release such as v1.36.1+k3s1 (no channel names like 'latest' or 'stable'); "
        'got "bogus".',
    ),
    "vip-not-an-address": (
        dict(cluster_vars={"k3s_lb_vip": "not-an-ip", "k3s_api_endpoint": "192.0.2.10"}),
        "k3s_lb_vip must be a free IPv4 address",
    ),
    "vip-on-a-server": (
        dict(cluster_vars={"k3s_lb_vip": "127.0.0.1", "k3s_api_endpoint": "192.0.2.10"}),
        "k3s_lb_vip must be a free IPv4 address (not the address of a load balancer or a server)",
    ),
    "mirror-without-url": (
        dict(cluster_vars={"k3s_install_source": "mirror", "k3s_release_base_url": ""}),
        "'mirror' needs k3s_release_base_url",
    ),
}


def _assert_not_contacted(result) -> None:
    assert "UNREACHABLE" not in result.stdout, "a host was contacted before validation failed"
    recap = result.stdout.split("PLAY RECAP", 1)[-1]
    assert not re.search(r"unreachable=[1-9]", recap), recap


@pytest.mark.parametrize("case", sorted(CASES))
def test_site_fails_in_validation(case, tmp_path):
    kwargs, message = CASES[case]
    inventory = make_inventory(tmp_path, **kwargs)
    result = playbook(inventory, "site.yml")
    output = flat(result.output)
    assert result.returncode != 0, output[-2000:]
    assert flat(message) in output, output[-3000:]
    _assert_not_contacted(result)
    # the run stopped in the validation play: no later play started, so no host changed
    assert "PLAY [Prepare the k3s nodes" not in result.stdout
    assert set(result.changed.values()) <= {0}, result.changed


def test_secret_in_user_config_is_not_printed(tmp_path):
    secret = "s3cr3t-" + "q" * 24
    inventory = make_inventory(tmp_path, group_vars={"k3s_servers": {"k3s_server_config": {"token": secret}}})
    result = playbook(inventory, "site.yml", "-vvv")
    assert result.returncode != 0
    assert "must not set key(s) managed by the role: token (use k3s_token)" in flat(result.stdout)
    assert secret not in result.stdout + result.stderr


def test_validate_tag_runs_only_validation(tmp_path):
    inventory = make_inventory(tmp_path, servers=2)
    result = playbook(inventory, "site.yml", "--tags", "validate")
    assert result.returncode != 0
    assert "embedded etcd needs an odd number of servers" in flat(result.stdout)
    _assert_not_contacted(result)


@pytest.mark.parametrize("topology", [dict(servers=1, lbs=0), dict(servers=3, agents=2, gpu_agents=1, lbs=2)])
def test_valid_inventory_passes_validation_then_reaches_hosts(topology, tmp_path):
    inventory = make_inventory(tmp_path, **topology)
    validation = playbook(inventory, "validate.yml")
    assert validation.returncode == 0, flat(validation.stdout)[-3000:]
    assert "failed=0" in validation.stdout
    # The full playbook gets past validation and then tries the (unreachable) hosts: this is what the failure
    # tests above would see if validation let a bad inventory through.
    site = playbook(inventory, "site.yml")
    assert site.returncode != 0
    assert "UNREACHABLE" in site.stdout


@pytest.mark.parametrize("name", ["site.yml", "reset.yml", "validate.yml", "report.yml"])
def test_playbook_syntax(name, tmp_path):
    inventory = make_inventory(tmp_path)
    result = playbook(inventory, name, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr
