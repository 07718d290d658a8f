# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils._layout import (
    CONFIG_DIR,
    DATA_DIR,
    SYSTEMD_DIR,
    layout,
    restart_inputs,
)

NOT_PATHS = {"unit", "units", "uninstall_paths"}


@pytest.mark.parametrize(("node_type", "unit"), [("server", "k3s"), ("agent", "k3s-agent")])
def test_unit_follows_node_type(node_type, unit):
    paths = layout(node_type)
    assert paths["unit"] == unit
    assert paths["unit_file"] == os.path.join(SYSTEMD_DIR, unit + ".service")
    assert paths["env_file"] == paths["unit_file"] + ".env"
    assert paths["units"] == ["k3s", "k3s-agent"]


def test_server_and_agent_differ_only_in_their_unit():
    server, agent = layout("server"), layout("agent")
    differ = {key for key in server if server[key] != agent[key]}
    assert differ == {"unit", "unit_file", "env_file"}


def test_unknown_node_type():
    with pytest.raises(KeyError):
        layout("witness")


def test_every_path_is_absolute_and_normalised():
    for key, value in layout().items():
        if key in NOT_PATHS:
            continue
        assert os.path.isabs(value) and os.path.normpath(value) == value, key


def test_files_the_collection_writes_live_in_the_config_dir():
    paths = layout()
    for key in ("config_file", "dropin_dir", "registries_file", "token_file", "agent_token_file", "kubeconfig"):
        assert os.path.dirname(paths[key]) == CONFIG_DIR, key
    # the server's own token files are k3s's, in its data dir, and never the ones the roles write
    for key in ("server_token", "server_agent_token", "server_ca", "etcd_wal", "sqlite_db", "manifests_dir"):
        assert paths[key].startswith(paths["server_dir"] + "/"), key
    assert paths["server_dir"].startswith(DATA_DIR + "/")
    assert paths["token_file"] != paths["agent_token_file"]


def test_uninstall_removes_both_units_and_the_state():
    paths = layout("agent")
    removed = paths["uninstall_paths"]
    for unit in ("k3s", "k3s-agent"):
        assert os.path.join(SYSTEMD_DIR, unit + ".service") in removed
        assert os.path.join(SYSTEMD_DIR, unit + ".service.env") in removed
    for path in (CONFIG_DIR, DATA_DIR, paths["bin"], os.path.dirname(paths["node_password"])):
        assert path in removed
    assert len(set(removed)) == len(removed)
    # never a parent of something it must not remove
    for path in removed:
        assert path.count("/") >= 2, path
        assert path not in ("/etc/rancher", "/var/lib", "/usr/local/bin", SYSTEMD_DIR)


@pytest.mark.parametrize("node_type", ["server", "agent"])
def test_restart_inputs(node_type):
    paths = layout(node_type)
    inputs = restart_inputs(paths)
    for key in ("bin", "unit_file", "env_file", "config_file", "dropin_dir", "registries_file", "token_file"):
        assert paths[key] in inputs, key
    assert all(p.startswith(paths["containerd_dir"]) for p in inputs[-2:])
    # k3s writes these itself on every start: a newer mtime there would mean a restart after every restart
    for key in ("kubeconfig", "server_token", "server_agent_token", "node_password", "server_ca"):
        assert paths[key] not in inputs, key
    assert not any(p.startswith(paths["server_dir"]) for p in inputs)


def test_restart_inputs_follow_the_given_paths():
    paths = {key: "/x" + value if isinstance(value, str) else value for key, value in layout().items()}
    assert all(p.startswith("/x/") for p in restart_inputs(paths))
