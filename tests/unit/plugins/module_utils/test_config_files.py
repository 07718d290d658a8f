# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils import _config_files, _layout
from ansible_collections.edgefleet.k3s.plugins.module_utils._config_files import (
    ConfigError,
    apply,
    is_managed,
    stale_dropins,
    wanted_files,
)

MARK = "# Ansible managed"
CONFIG = MARK + "\nnode-name: s1\ncluster-init: true\n"
SECRET = "s3cr3t-Cluster-Pa55"
AGENT_SECRET = "agent-Only-Pa55"
REG_SECRET = "registry-Pa55w0rd"


@pytest.fixture
def paths(tmp_path, monkeypatch):
    def fake(node_type="server"):
        return {
            key: (str(tmp_path) + value if isinstance(value, str) and value.startswith("/") else value)
            for key, value in _layout.layout(node_type).items()
        }

    monkeypatch.setattr(_config_files, "layout", fake)
    return fake("server")


def params(**values):
    base = {
        "node_type": "server",
        "config": CONFIG,
        "dropins": {},
        "registries": None,
        "token": None,
        "agent_token": None,
        "secret_config": False,
    }
    base.update(values)
    return base


def read(path):
    with open(path) as handle:
        return handle.read()


def meta(path):
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def test_first_apply_writes_every_file_0600(paths):
    result = apply(
        params(dropins={"10-gpu": MARK + "\nnode-label: [gpu=true]\n"}, registries="mirrors: {}\n", token=SECRET),
        check_mode=False,
    )
    dropin = os.path.join(paths["dropin_dir"], "10-gpu.yaml")
    written = [paths["config_file"], dropin, paths["registries_file"], paths["token_file"]]
    assert sorted(result["changed_files"]) == sorted(written)
    assert (result["changed"], result["restart_needed"], result["removed_files"]) == (True, True, [])
    for path in written:
        assert meta(path) == (0o600, 0, 0), path
    assert read(paths["config_file"]) == CONFIG
    assert read(paths["token_file"]) == SECRET + "\n"
    assert not os.path.exists(paths["agent_token_file"])
    # no temporary file is left next to the files
    assert not [n for n in os.listdir(paths["config_dir"]) if n.startswith(".edgefleet-")]


def test_unchanged_content_keeps_mtime_and_reports_nothing(paths):
    wanted = params(dropins={"a": MARK + "\na: 1\n"}, registries="mirrors: {}\n", token=SECRET, agent_token="x")
    apply(wanted, check_mode=False)
    old = 1_600_000_000
    files = list(wanted_files(wanted))
    for path in files:
        os.utime(path, (old, old))
    result = apply(wanted, check_mode=False)
    assert result == {
        "changed": False,
        "restart_needed": False,
        "changed_files": [],
        "removed_files": [],
        "diff": [],
    }
    for path in files:
        assert os.stat(path).st_mtime == old, path


def test_token_is_stripped_and_written_with_one_newline(paths):
    apply(params(token="  %s \n\n" % SECRET), check_mode=False)
    assert read(paths["token_file"]) == SECRET + "\n"
    assert apply(params(token=SECRET), check_mode=False)["changed"] is False


@pytest.mark.parametrize(
    "fix",
    [lambda path: os.chmod(path, 0o644), lambda path: os.chown(path, 1000, 1000)],
    ids=["mode", "owner"],
)
def test_mode_or_owner_fix_needs_no_restart(paths, fix):
    apply(params(), check_mode=False)
    os.utime(paths["config_file"], (1_600_000_000, 1_600_000_000))
    fix(paths["config_file"])
    result = apply(params(), check_mode=False)
    assert result["changed"] is True
    assert result["restart_needed"] is False
    assert result["changed_files"] == [paths["config_file"]]
    assert result["diff"] == []
    assert meta(paths["config_file"]) == (0o600, 0, 0)
    assert os.stat(paths["config_file"]).st_mtime == 1_600_000_000
    assert read(paths["config_file"]) == CONFIG


def test_content_change_fixes_mode_and_needs_restart(paths):
    write(paths["config_file"], "old: true\n", mode=0o644)
    os.chown(paths["config_file"], 1000, 1000)
    result = apply(params(), check_mode=False)
    assert (result["changed"], result["restart_needed"]) == (True, True)
    assert meta(paths["config_file"]) == (0o600, 0, 0)
    assert result["diff"] == [
        {
            "before_header": paths["config_file"],
            "after_header": paths["config_file"],
            "before": "old: true\n",
            "after": CONFIG,
        }
    ]


def test_new_file_diff_has_empty_before(paths):
    result = apply(params(), check_mode=False)
    assert result["diff"][0]["before"] == ""
    assert result["diff"][0]["after"] == CONFIG


def test_secrets_never_in_diff(paths):
    write(paths["token_file"], "old-token\n")
    write(paths["registries_file"], "old-registries\n")
    result = apply(
        params(
            config=MARK + "\ndatastore-endpoint: postgres://u:%s@db\n" % SECRET,
            dropins={"creds": MARK + "\nagent-token: %s\n" % AGENT_SECRET},
            registries="configs:\n  r:\n    auth: {password: %s}\n" % REG_SECRET,
            token=SECRET,
            agent_token=AGENT_SECRET,
            secret_config=True,
        ),
        check_mode=False,
    )
    assert len(result["changed_files"]) == 5
    text = json.dumps(result)
    for secret in (SECRET, AGENT_SECRET, REG_SECRET, "old-token", "old-registries"):
        assert secret not in text
    assert result["diff"] == []


def test_tokens_and_registries_not_in_diff_even_without_secret_config(paths):
    result = apply(params(registries="auth: %s\n" % REG_SECRET, token=SECRET, agent_token=AGENT_SECRET), False)
    assert [d["after_header"] for d in result["diff"]] == [paths["config_file"]]
    text = json.dumps(result["diff"])
    assert SECRET not in text and AGENT_SECRET not in text and REG_SECRET not in text


def test_stale_managed_dropins_removed_unmanaged_kept(paths):
    dropin_dir = paths["dropin_dir"]
    write(os.path.join(dropin_dir, "old.yaml"), MARK + "\nold: 1\n")
    write(os.path.join(dropin_dir, "deep.yaml"), "---\n# comment\n%s\nx: 1\n" % MARK)
    write(os.path.join(dropin_dir, "manual.yaml"), "# written by hand\nmanual: 1\n")
    write(os.path.join(dropin_dir, "late.yaml"), "a\nb\nc\nd\ne\n%s\n" % MARK)  # marker after the head
    write(os.path.join(dropin_dir, "notes.txt"), MARK + "\n")
    os.makedirs(os.path.join(dropin_dir, "dir.yaml"))
    keep = MARK + "\nkeep: 1\n"
    result = apply(params(dropins={"keep": keep}), check_mode=False)
    removed = [os.path.join(dropin_dir, "deep.yaml"), os.path.join(dropin_dir, "old.yaml")]
    assert result["removed_files"] == removed
    assert result["restart_needed"] is True
    assert sorted(os.listdir(dropin_dir)) == ["dir.yaml", "keep.yaml", "late.yaml", "manual.yaml", "notes.txt"]
    assert [d for d in result["diff"] if d["after_header"] == "(absent)"] == [
        {"before_header": path, "after_header": "(absent)", "before": "(managed drop-in)\n", "after": ""}
        for path in removed
    ]


def test_only_removing_a_dropin_needs_restart(paths):
    apply(params(dropins={"gpu": MARK + "\ngpu: 1\n"}), check_mode=False)
    result = apply(params(), check_mode=False)
    assert result["changed_files"] == []
    assert result["removed_files"] == [os.path.join(paths["dropin_dir"], "gpu.yaml")]
    assert (result["changed"], result["restart_needed"]) == (True, True)
    assert apply(params(), check_mode=False)["changed"] is False


def test_dropin_with_none_content_is_left_alone(paths):
    path = os.path.join(paths["dropin_dir"], "byhand.yaml")
    write(path, MARK + "\nmine: 1\n", mode=0o644)
    result = apply(params(dropins={"byhand": None}), check_mode=False)
    assert path not in result["changed_files"] and result["removed_files"] == []
    assert read(path) == MARK + "\nmine: 1\n"
    assert meta(path)[0] == 0o644


def test_check_mode_writes_nothing(paths):
    stale = os.path.join(paths["dropin_dir"], "stale.yaml")
    write(stale, MARK + "\n")
    result = apply(params(dropins={"new": MARK + "\n"}, token=SECRET, registries="r\n"), check_mode=True)
    assert result["changed"] is True and result["restart_needed"] is True
    assert sorted(result["changed_files"]) == sorted(
        [
            paths["config_file"],
            os.path.join(paths["dropin_dir"], "new.yaml"),
            paths["token_file"],
            paths["registries_file"],
        ]
    )
    assert result["removed_files"] == [stale]
    assert sorted(os.listdir(paths["config_dir"])) == ["config.yaml.d"]
    assert os.listdir(paths["dropin_dir"]) == ["stale.yaml"]


def test_check_mode_does_not_fix_mode(paths):
    apply(params(), check_mode=False)
    os.chmod(paths["config_file"], 0o644)
    result = apply(params(), check_mode=True)
    assert result["changed_files"] == [paths["config_file"]]
    assert meta(paths["config_file"])[0] == 0o644


@pytest.mark.parametrize("name", ["", "a/b", "../escape", ".hidden", "/abs"])
def test_bad_dropin_names_refused(paths, name):
    with pytest.raises(ConfigError, match="is not a plain file name"):
        apply(params(dropins={name: "x: 1\n"}), check_mode=False)
    assert not os.path.exists(paths["config_file"])


@pytest.mark.parametrize("key", ["token", "agent_token"])
@pytest.mark.parametrize("value", ["", "   ", "\n\n"])
def test_empty_tokens_refused(paths, key, value):
    with pytest.raises(ConfigError, match="a token file cannot be empty"):
        apply(params(**{key: value}), check_mode=False)
    assert not os.path.exists(paths["config_file"])


def test_path_that_is_not_a_regular_file_is_refused(paths, tmp_path):
    os.makedirs(paths["config_dir"])
    target = tmp_path / "elsewhere.yaml"
    target.write_text(CONFIG)
    os.symlink(str(target), paths["config_file"])
    with pytest.raises(ConfigError, match="config.yaml exists and is not a regular file"):
        apply(params(), check_mode=False)
    assert os.path.islink(paths["config_file"])


def test_failed_write_leaves_old_file_and_no_temp(paths, monkeypatch):
    write(paths["config_file"], "old: 1\n")

    def broken_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_config_files.os, "rename", broken_rename)
    with pytest.raises(OSError, match="No space left"):
        apply(params(), check_mode=False)
    assert read(paths["config_file"]) == "old: 1\n"
    assert os.listdir(paths["config_dir"]) == ["config.yaml"]


def test_agent_layout_writes_the_agent_paths(paths):
    # the layout decides the paths; an agent has the same configuration paths as a server
    result = apply(params(node_type="agent", token=SECRET), check_mode=False)
    assert sorted(result["changed_files"]) == sorted([paths["config_file"], paths["token_file"]])


def test_is_managed_and_stale_dropins_helpers(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("  %s  \nbody\n" % MARK)
    assert is_managed(str(path)) is True
    path.write_text("# Ansible managed: by someone\n")
    assert is_managed(str(path)) is False
    assert is_managed(str(tmp_path / "absent")) is False
    assert stale_dropins(str(tmp_path / "absent"), set()) == []
