# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
from ansible.module_utils import basic
from ansible_collections.edgefleet.k3s.plugins.module_utils import _layout, _node_info
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_node_info as MODULE  # noqa: N812
from module_harness import ModuleFail, runner

SHOW = "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nMainPID=77\n"


run_module, run = runner(MODULE)


@pytest.fixture
def paths(tmp_path, monkeypatch):
    def fake(node_type="server"):
        return {
            key: (str(tmp_path) + value if isinstance(value, str) and value.startswith("/") else value)
            for key, value in _layout.layout(node_type).items()
        }

    monkeypatch.setattr(_node_info, "layout", fake)
    return fake


@pytest.fixture
def commands(monkeypatch):
    """AnsibleModule.run_command answering from a table; the calls are recorded."""
    calls = []
    answers = {"systemctl": (0, SHOW, ""), "uname": (0, "aarch64\n", ""), "systemd-detect-virt": (1, "none\n", "")}

    def run_command(self, args, check_rc=False, environ_update=None, **kwargs):
        calls.append({"args": list(args), "check_rc": check_rc, "environ_update": environ_update})
        name = os.path.basename(args[0])
        if name in answers:
            return answers[name]
        if args[1:] == ["--version"]:
            return 0, "k3s version v1.31.2+k3s1 (6da204df)\n", ""
        raise AssertionError(args)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return calls


def test_defaults_gather_service_and_node(patched_exits, paths, commands):
    result = run({})
    p = paths("server")
    assert result["changed"] is False
    assert result["node_type"] == "server"
    assert result["layout"]["unit"] == "k3s"
    assert result["service"]["unit"] == "k3s"
    assert result["service"]["active"] is True
    assert result["service"]["main_pid"] == 77
    assert result["node"]["etcd_data"] is False
    assert "host" not in result and "binary" not in result
    assert result["layout"]["config_file"] == p["config_file"]
    assert [c["args"][:3] for c in commands] == [["systemctl", "show", "k3s"]]
    assert commands[0]["check_rc"] is False
    assert commands[0]["environ_update"] == {"LC_ALL": "C"}


def test_agent_all_sections(patched_exits, paths, commands):
    p = paths("agent")
    os.makedirs(os.path.dirname(p["bin"]))
    with open(p["bin"], "w") as handle:
        handle.write("bin")
    os.chmod(p["bin"], 0o755)  # noqa: S103 - an executable k3s
    listed = p["config_file"]
    result = run(
        {
            "node_type": "agent",
            "gather": ["host", "binary", "service", "node"],
            "checksum": True,
            "files": [listed],
            "_ansible_check_mode": True,
        }
    )
    assert result["service"]["unit"] == "k3s-agent"
    assert (result["machine"], result["container"]) == ("aarch64", "none")
    assert result["binary"]["version"] == "v1.31.2+k3s1"
    assert len(result["binary"]["sha256"]) == 64
    assert result["files"] == {listed: None}
    assert commands[-1]["args"][:3] == ["systemctl", "show", "k3s-agent"]


def test_unknown_section_is_refused(patched_exits, paths, commands):
    result = run({"gather": ["everything"]}, expect=ModuleFail)
    assert "gather" in result["msg"] and "everything" in result["msg"]
    assert commands == []


def test_unreadable_state_fails(patched_exits, paths, commands):
    # a directory where the binary should be: executable, but it cannot be hashed
    os.makedirs(paths("server")["bin"])
    result = run({"gather": ["binary"], "checksum": True}, expect=ModuleFail)
    assert result["msg"].startswith("cannot read the node state: [Errno 21] Is a directory")
