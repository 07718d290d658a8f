# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-host checks of the validate role (module_utils/_validate.py)."""

from __future__ import annotations

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._validate import host_problems


def good(**changes):
    values = {
        "inventory_hostname": "server-1",
        "airgap_dir_exists": False,
        "k3s_version": "v1.36.1+k3s1",
        "k3s_arch": "",
        "k3s_install_source": "auto",
        "k3s_release_base_url": "",
        "k3s_airgap_dir": "",
        "k3s_node_name": "server-1",
        "k3s_token": "",
        "k3s_agent_token": "",
        "k3s_node_taints": [],
    }
    values.update(changes)
    return values


def test_good_settings_have_no_problems():
    assert host_problems(good()) == []
    assert host_problems(good(k3s_version="v1.31.5-rc1+k3s2", k3s_arch="arm64")) == []
    assert host_problems(good(k3s_install_source="airgap", k3s_airgap_dir="/srv/k3s", airgap_dir_exists=True)) == []
    assert host_problems(good(k3s_node_taints=["gpu=true:NoSchedule", "dedicated:NoExecute"])) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"k3s_version": None}, 'got "<undefined>".'),
        ({"k3s_version": "latest"}, "no channel names like 'latest' or 'stable'); got \"latest\"."),
        ({"k3s_version": "1.36.1"}, 'got "1.36.1".'),
        ({"k3s_version": 1.36}, 'got "1.36".'),
        ({"k3s_arch": "sparc"}, 'k3s_arch "sparc" is not supported: use one of amd64, arm64, armhf'),
        ({"k3s_install_source": "ftp"}, "k3s_install_source must be one of auto, url, mirror, airgap"),
        ({"k3s_install_source": "mirror"}, "'mirror' needs k3s_release_base_url"),
        ({"k3s_install_source": "airgap"}, 'k3s_airgap_dir="").'),
        ({"k3s_install_source": "airgap", "k3s_airgap_dir": "/nope"}, 'k3s_airgap_dir "/nope" is not a directory'),
        ({"k3s_node_name": "Server_1"}, 'k3s_node_name "Server_1" is not a valid Kubernetes node name'),
        ({"k3s_node_name": "a" * 64}, "at most 63 characters"),
        ({"k3s_token": "short"}, "must be at least 16 characters long."),
        ({"k3s_agent_token": "short"}, "must be at least 16 characters long."),
        ({"k3s_token": "abcdef.0123456789abcdef"}, "k3s_token has the form of a k3s bootstrap token"),
        ({"k3s_node_taints": ["gpu", "ok=1:NoSchedule", "x:Sometimes"]}, "invalid: gpu, x:Sometimes."),
    ],
)
def test_each_problem_is_named(changes, expected):
    problems = host_problems(good(**changes))
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_node_name_defaults_to_the_inventory_name():
    problems = host_problems(good(k3s_node_name="", inventory_hostname="Bad_Name"))
    assert problems[0].startswith('k3s_node_name "Bad_Name"')


def test_every_problem_is_reported_at_once_and_no_token_is_shown():
    token = "abcdef.0123456789abcdef"
    problems = host_problems(good(k3s_version="latest", k3s_arch="mips", k3s_token=token, k3s_agent_token="tiny"))
    assert len(problems) == 4
    assert not any(token in p or "tiny" in p for p in problems)


def test_a_long_token_with_a_dot_is_not_a_bootstrap_token():
    assert host_problems(good(k3s_token="abcdef.0123456789abcdefXYZ")) == []


def server(**changes):
    return good(server=True, datastore="etcd", **changes)


@pytest.mark.parametrize(
    "cron",
    ["0 */12 * * *", "*/5 * * * *", "0 3 * * MON-FRI", "@daily", "@every 6h", "@every 1h30m", "CRON_TZ=UTC 0 1 * * *"],
)
def test_schedules_k3s_takes(cron):
    assert host_problems(server(k3s_etcd_snapshot_schedule_cron=cron, k3s_etcd_snapshot_retention=3)) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"k3s_etcd_snapshot_schedule_cron": "0 */12 * *"}, 'k3s_etcd_snapshot_schedule_cron "0 */12 * *" is not'),
        ({"k3s_etcd_snapshot_schedule_cron": "@often"}, 'k3s_etcd_snapshot_schedule_cron "@often" is not'),
        ({"k3s_etcd_snapshot_schedule_cron": "@every 6 hours"}, "is not a cron schedule"),
        ({"k3s_etcd_snapshot_retention": -1}, "k3s_etcd_snapshot_retention must be a whole number"),
        ({"k3s_etcd_snapshot_retention": "5"}, "k3s_etcd_snapshot_retention must be a whole number"),
        ({"k3s_etcd_snapshot_dir": "snapshots"}, "k3s_etcd_snapshot_dir must be an absolute directory"),
        ({"k3s_etcd_snapshot_dir": "/"}, "k3s_etcd_snapshot_dir must be an absolute directory"),
    ],
)
def test_bad_snapshot_settings_name_the_variable(changes, expected):
    (problem,) = host_problems(server(**changes))
    assert expected in problem


@pytest.mark.parametrize("datastore", ["sqlite", "external"])
def test_snapshot_settings_need_embedded_etcd(datastore):
    values = server(k3s_etcd_snapshot_retention=3, k3s_etcd_disable_snapshots=True)
    values["datastore"] = datastore
    (problem,) = host_problems(values)
    assert problem.startswith("k3s_etcd_snapshot_retention, k3s_etcd_disable_snapshots configure k3s's scheduled")
    assert "datastore is %s" % datastore in problem
    # unset settings on such a server, and the same settings on an agent, are fine
    assert host_problems(good(server=True, datastore=datastore)) == []
    assert host_problems(good(k3s_etcd_snapshot_retention=3)) == []
