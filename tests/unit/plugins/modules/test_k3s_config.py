# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils import _config_files, _layout
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_config as MODULE  # noqa: N812
from module_harness import ModuleFail, runner

CONFIG = "# Ansible managed\nnode-name: s1\n"
TOKEN = "Cluster-t0ken-value"
AGENT_TOKEN = "Agent-t0ken-value"


run_module, run = runner(MODULE)


@pytest.fixture
def paths(tmp_path, monkeypatch):
    def fake(node_type="server"):
        return {
            key: (str(tmp_path) + value if isinstance(value, str) and value.startswith("/") else value)
            for key, value in _layout.layout(node_type).items()
        }

    monkeypatch.setattr(_config_files, "layout", fake)
    return fake("server")


def test_writes_and_reports(patched_exits, paths):
    result = run({"config": CONFIG, "token": TOKEN, "agent_token": AGENT_TOKEN, "dropins": {"gpu": "a: 1\n"}})
    assert (result["changed"], result["restart_needed"]) == (True, True)
    assert sorted(result["changed_files"]) == sorted(
        [
            paths["config_file"],
            os.path.join(paths["dropin_dir"], "gpu.yaml"),
            paths["token_file"],
            paths["agent_token_file"],
        ]
    )
    assert "diff" not in result  # only with --diff
    assert stat.S_IMODE(os.stat(paths["agent_token_file"]).st_mode) == 0o600
    with open(paths["agent_token_file"]) as handle:
        assert handle.read() == AGENT_TOKEN + "\n"
    again = run({"config": CONFIG, "token": TOKEN, "agent_token": AGENT_TOKEN, "dropins": {"gpu": "a: 1\n"}})
    assert (again["changed"], again["restart_needed"], again["changed_files"]) == (False, False, [])


def test_diff_mode_returns_the_diff_without_tokens(patched_exits, paths):
    result, module = run_module({"config": CONFIG, "token": TOKEN, "_ansible_diff": True})
    assert [d["after_header"] for d in result["diff"]] == [paths["config_file"]]
    assert result["diff"][0]["after"] == CONFIG
    assert TOKEN not in json.dumps(result)
    assert TOKEN in module.no_log_values


def test_agent_token_refused_for_agents(patched_exits, paths):
    result = run({"node_type": "agent", "config": CONFIG, "agent_token": AGENT_TOKEN}, expect=ModuleFail)
    assert result["msg"] == "agent_token is for servers only (k3s agent-token-file)"
    assert not os.path.exists(paths["config_dir"])


def test_registries_and_tokens_are_no_log_values(patched_exits, paths):
    registries = "configs:\n  registry.example:\n    auth: {username: edge, password: r3g1stry-pw}\n"
    result, module = run_module({"config": CONFIG, "token": TOKEN, "registries": registries, "_ansible_diff": True})
    assert {registries, TOKEN} <= module.no_log_values
    assert paths["registries_file"] in result["changed_files"]
    assert [d["after_header"] for d in result["diff"]] == [paths["config_file"]]


def test_agent_with_token(patched_exits, paths):
    result = run({"node_type": "agent", "config": CONFIG, "token": TOKEN})
    assert sorted(result["changed_files"]) == sorted([paths["config_file"], paths["token_file"]])


def test_check_mode_writes_nothing(patched_exits, paths):
    result = run({"config": CONFIG, "token": TOKEN, "_ansible_check_mode": True})
    assert (result["changed"], result["restart_needed"]) == (True, True)
    assert not os.path.exists(paths["config_dir"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"dropins": {"../x": "a: 1\n"}},
            "cannot write the k3s configuration: drop-in name '../x' is not a plain file name",
        ),
        ({"token": "  "}, "cannot write the k3s configuration: a token file cannot be empty"),
    ],
)
def test_config_errors_fail(patched_exits, paths, args, message):
    result = run({"config": CONFIG, **args}, expect=ModuleFail)
    assert result["msg"] == message


def test_os_errors_fail(patched_exits, paths):
    os.makedirs(os.path.dirname(paths["config_dir"]))
    with open(paths["config_dir"], "w") as handle:  # a file where the directory belongs
        handle.write("x")
    result = run({"config": CONFIG}, expect=ModuleFail)
    assert result["msg"].startswith("cannot write the k3s configuration: [Errno 20] Not a directory")


def test_config_is_required(patched_exits, paths):
    result = run({}, expect=ModuleFail)
    assert "config" in result["msg"]
