# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import os

import pytest
from ansible_collections.edgefleet.k3s.plugins.module_utils import _layout, _node_info
from ansible_collections.edgefleet.k3s.plugins.module_utils._node_info import (
    config_joins,
    file_state,
    find_commands,
    gather,
    newest_mtime,
    parse_systemctl_show,
    parse_version,
    restart_reasons,
    service_state,
)

NOW = 1_700_000_000.0
MONOTONIC = 500.0
START_US = 400_000_000  # the main process started 100 s ago
STARTED = NOW - 100.0


def sha1(data):
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def rebased_layout(root):
    """layout() with every absolute path moved under ``root`` (unit names stay)."""

    def rebase(value):
        if isinstance(value, str) and value.startswith("/"):
            return str(root) + value
        if isinstance(value, list):
            return [rebase(v) for v in value]
        return value

    def fake(node_type="server"):
        return {key: rebase(value) for key, value in _layout.layout(node_type).items()}

    return fake


@pytest.fixture
def paths(tmp_path, monkeypatch):
    fake = rebased_layout(tmp_path)
    monkeypatch.setattr(_node_info, "layout", fake)
    return fake


def write(path, text="", mode=0o644, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


# -- service_state -------------------------------------------------------------------------------------------


def props(**values):
    base = {
        "LoadState": "loaded",
        "ActiveState": "active",
        "SubState": "running",
        "UnitFileState": "enabled",
        "MainPID": "4242",
        "NeedDaemonReload": "no",
        "ExecMainStartTimestampMonotonic": str(START_US),
    }
    base.update(values)
    return base


def test_service_state_of_a_running_unit():
    state = service_state(props(), NOW, MONOTONIC)
    assert state["started_at"] == pytest.approx(NOW - (MONOTONIC - START_US / 1e6))
    assert state["started_at"] == pytest.approx(STARTED)
    assert state == {
        "installed": True,
        "active_state": "active",
        "sub_state": "running",
        "active": True,
        "running": True,
        "enabled": True,
        "main_pid": 4242,
        "started_at": state["started_at"],
        "need_daemon_reload": False,
    }


@pytest.mark.parametrize(
    ("active_state", "active", "running"),
    [
        ("active", True, True),
        ("activating", False, True),
        ("reloading", False, True),
        ("deactivating", False, True),
        ("inactive", False, False),
        ("failed", False, False),
    ],
)
def test_service_state_active_and_running(active_state, active, running):
    state = service_state(props(ActiveState=active_state), NOW, MONOTONIC)
    assert (state["active"], state["running"]) == (active, running)
    assert (state["started_at"] is not None) == running


@pytest.mark.parametrize(
    ("unit_file_state", "enabled"),
    [("enabled", True), ("enabled-runtime", True), ("static", True), ("alias", True), ("disabled", False), ("", False)],
)
def test_service_state_enabled(unit_file_state, enabled):
    assert service_state(props(UnitFileState=unit_file_state), NOW, MONOTONIC)["enabled"] is enabled


def test_service_state_of_a_missing_unit():
    state = service_state(
        {"LoadState": "not-found", "ActiveState": "inactive", "ExecMainStartTimestampMonotonic": "0"}, NOW, MONOTONIC
    )
    assert state["installed"] is False
    assert state["running"] is False
    assert state["started_at"] is None
    assert state["main_pid"] == 0


def test_service_state_without_properties_and_garbage():
    state = service_state({}, NOW, MONOTONIC)
    assert (state["installed"], state["active_state"], state["running"]) == (False, "inactive", False)
    state = service_state(props(MainPID="x", ExecMainStartTimestampMonotonic="n/a"), NOW, MONOTONIC)
    assert (state["main_pid"], state["started_at"]) == (0, None)


def test_service_state_running_without_start_time():
    assert service_state(props(ExecMainStartTimestampMonotonic="0"), NOW, MONOTONIC)["started_at"] is None


def test_service_state_need_daemon_reload():
    assert service_state(props(NeedDaemonReload="yes"), NOW, MONOTONIC)["need_daemon_reload"] is True


def test_parse_systemctl_show():
    text = "LoadState=loaded\nActiveState=active\nExecStart={ path=/usr/local/bin/k3s ; argv[]=k3s server }\nnoise\n"
    parsed = parse_systemctl_show(text)
    assert parsed["LoadState"] == "loaded"
    assert parsed["ExecStart"] == "{ path=/usr/local/bin/k3s ; argv[]=k3s server }"
    assert "noise" not in parsed


# -- restart_reasons -----------------------------------------------------------------------------------------


def running(**values):
    state = service_state(props(**values), NOW, MONOTONIC)
    return state


def test_newer_input_is_a_reason_older_is_not():
    mtimes = {"/bin/k3s": STARTED + 1, "/etc/config.yaml": STARTED - 1, "/etc/absent": None}
    assert restart_reasons(running(), mtimes) == ["/bin/k3s changed after k3s started"]


def test_nothing_changed_no_reasons():
    assert restart_reasons(running(), {"/bin/k3s": STARTED - 3600}) == []


@pytest.mark.parametrize("active_state", ["inactive", "failed"])
def test_stopped_unit_needs_no_restart(active_state):
    state = running(ActiveState=active_state, NeedDaemonReload="yes")
    assert restart_reasons(state, {"/bin/k3s": STARTED + 50}) == []


def test_need_daemon_reload_is_a_reason():
    reasons = restart_reasons(running(NeedDaemonReload="yes"), {"/bin/k3s": STARTED + 5})
    assert reasons == [
        "the unit file changed on disk (systemd has not reloaded it)",
        "/bin/k3s changed after k3s started",
    ]


def test_unknown_start_time_only_reports_daemon_reload():
    state = running(NeedDaemonReload="yes", ExecMainStartTimestampMonotonic="0")
    assert restart_reasons(state, {"/bin/k3s": NOW}) == ["the unit file changed on disk (systemd has not reloaded it)"]


# -- files ---------------------------------------------------------------------------------------------------


def test_newest_mtime_of_a_directory_is_its_newest_entry(tmp_path):
    directory = tmp_path / "config.yaml.d"
    directory.mkdir()
    write(str(directory / "a.yaml"), mtime=1000)
    write(str(directory / "b.yaml"), mtime=3000)
    os.utime(directory, (2000, 2000))
    assert newest_mtime(str(directory)) == 3000
    os.utime(directory, (4000, 4000))
    assert newest_mtime(str(directory)) == 4000


def test_newest_mtime_of_a_file_and_of_nothing(tmp_path):
    assert newest_mtime(write(str(tmp_path / "f"), mtime=1234)) == 1234
    assert newest_mtime(str(tmp_path / "absent")) is None


def test_file_state_formats(tmp_path):
    path = write(str(tmp_path / "unit.service"), "[Unit]\n", mode=0o640)
    assert file_state(path) == "640:root:root:%s" % sha1(b"[Unit]\n")
    assert file_state(path, with_sha1=False) == "640:root:root:"
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o750)
    os.chmod(directory, 0o750)  # noqa: S103 - the mode under test
    assert file_state(str(directory)) == "750:root:root:directory"
    os.symlink(path, str(tmp_path / "link"))
    assert file_state(str(tmp_path / "link")) is None
    assert file_state(str(tmp_path / "absent")) is None
    os.mkfifo(str(tmp_path / "fifo"))
    assert file_state(str(tmp_path / "fifo")) is None


def test_file_state_unknown_owner_is_numeric(tmp_path):
    path = write(str(tmp_path / "f"), "x", mode=0o600)
    os.chown(path, 54321, 54322)
    assert file_state(path, with_sha1=False) == "600:54321:54322:"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("k3s version v1.31.2+k3s1 (6da204df)\ngo version go1.22.8\n", "v1.31.2+k3s1"),
        ("  k3s version v1.36.1+k3s1 (abcdef12)\n", "v1.36.1+k3s1"),
        ("go version go1.22.8\nk3s version v1.30.0-rc1+k3s1 (1)\n", "v1.30.0-rc1+k3s1"),
        ("", ""),
        ("Usage: k3s [global options]\n", ""),
    ],
)
def test_parse_version(text, version):
    assert parse_version(text) == version


@pytest.mark.parametrize(
    ("text", "joins"),
    [
        ("server: https://10.0.0.10:6443\ntoken-file: /etc/rancher/k3s/cluster-token\n", True),
        ("cluster-init: true\nnode-name: s1\n", False),
        ("tls-san:\n  - server: nope\n# server: commented\n", False),
        ("node-label:\n- a=b\nserver: https://s1:6443\n", True),
    ],
)
def test_config_joins(tmp_path, text, joins):
    assert config_joins(write(str(tmp_path / "config.yaml"), text)) is joins


def test_config_joins_of_a_missing_file(tmp_path):
    assert config_joins(str(tmp_path / "absent.yaml")) is False


def test_find_commands_resolves_links(tmp_path):
    binary = write(str(tmp_path / "k3s"), "#!/bin/sh\n", mode=0o755)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(binary, str(bindir / "kubectl"))
    os.symlink(binary, str(bindir / "crictl"))
    write(str(bindir / "ctr"), "not executable", mode=0o644)
    assert find_commands(str(bindir)) == {"kubectl": binary, "crictl": binary, "ctr": None}


# -- gather --------------------------------------------------------------------------------------------------


class FakeRun:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        for prefix, answer in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return answer
        raise AssertionError("unexpected command %r" % (argv,))


def params(**values):
    base = {
        "node_type": "server",
        "gather": ["service", "node"],
        "checksum": False,
        "env_file_checksum": False,
        "kernel_modules": [],
        "sysctls": [],
        "files": [],
    }
    base.update(values)
    return base


SHOW = "\n".join("%s=%s" % item for item in props().items()) + "\n"


def test_gather_service_and_node(paths, tmp_path):
    p = paths("server")
    write(p["bin"], "bin", mode=0o755, mtime=STARTED - 600)
    write(p["config_file"], "server: https://s1:6443\n", mode=0o600, mtime=STARTED + 10)
    write(p["token_file"], "tok\n", mode=0o600, mtime=STARTED - 10)
    write(os.path.join(p["dropin_dir"], "10-gpu.yaml"), "a: b\n", mtime=STARTED - 10)
    write(os.path.join(p["dropin_dir"], "README"), "x", mtime=STARTED - 10)
    os.utime(p["dropin_dir"], (STARTED - 10, STARTED - 10))
    os.makedirs(p["etcd_wal"])
    write(p["kubeconfig"], "{}")
    run = FakeRun({("systemctl", "show"): (0, SHOW, "")})

    result = gather(params(), run, now=NOW, monotonic=MONOTONIC)

    assert run.calls == [["systemctl", "show", "k3s", "--property=" + ",".join(_node_info.SYSTEMCTL_PROPERTIES)]]
    assert result["node_type"] == "server"
    assert result["layout"] == p
    service = result["service"]
    assert service["unit"] == "k3s"
    assert service["running"] is True
    assert service["started_at"] == pytest.approx(STARTED)
    assert service["restart_reasons"] == ["%s changed after k3s started" % p["config_file"]]
    assert result["node"] == {
        "etcd_data": True,
        "sqlite_data": False,
        "token_file": True,
        "agent_token_file": False,
        "node_password": False,
        "config_file": True,
        "config_joins": True,
        "kubeconfig": True,
        "dropins": ["10-gpu.yaml"],
    }
    assert "host" not in result and "binary" not in result
    assert result["files"] == {}
    assert result["units_installed"] == []


def test_gather_dropin_added_after_start_is_a_reason(paths):
    p = paths("agent")
    write(os.path.join(p["dropin_dir"], "old.yaml"), "a: b\n", mtime=STARTED - 100)
    os.utime(p["dropin_dir"], (STARTED + 5, STARTED + 5))  # an entry was added or removed after the start
    run = FakeRun({("systemctl", "show", "k3s-agent"): (0, SHOW, "")})
    result = gather(params(node_type="agent", gather=["service"]), run, now=NOW, monotonic=MONOTONIC)
    assert result["service"]["unit"] == "k3s-agent"
    assert result["service"]["restart_reasons"] == ["%s changed after k3s started" % p["dropin_dir"]]


def test_gather_service_when_systemctl_fails(paths):
    run = FakeRun({("systemctl", "show"): (1, "", "Failed to connect to bus")})
    service = gather(params(gather=["service"]), run, now=NOW, monotonic=MONOTONIC)["service"]
    assert (service["installed"], service["running"], service["restart_reasons"]) == (False, False, [])


def test_gather_binary(paths, tmp_path):
    p = paths("server")
    write(p["bin"], "k3s-binary", mode=0o755)
    write(p["unit_file"], "[Unit]\n", mode=0o644)
    write(p["env_file"], "K3S_TOKEN=secret\n", mode=0o600)
    write(os.path.join(p["images_dir"], "k3s-airgap-images-amd64.tar.zst"), "img")
    write(os.path.join(p["images_dir"], "other-images.tar"), "img")
    os.makedirs(os.path.join(p["images_dir"], "k3s-airgap-images-dir"))
    bindir = tmp_path / "pathdir"
    bindir.mkdir()
    os.symlink(p["bin"], str(bindir / "kubectl"))
    run = FakeRun({(p["bin"], "--version"): (0, "k3s version v1.31.2+k3s1 (6da204df)\ngo version go1.22\n", "")})

    result = gather(params(gather=["binary"], checksum=True), run, environ_path=str(bindir))

    assert result["binary"] == {
        "exists": True,
        "version": "v1.31.2+k3s1",
        "sha256": hashlib.sha256(b"k3s-binary").hexdigest(),
    }
    assert result["unit_files"] == {
        "unit_file": "644:root:root:%s" % sha1(b"[Unit]\n"),
        "env_file": "600:root:root:",  # may hold credentials: no hash unless asked
    }
    assert result["commands"] == {"kubectl": p["bin"], "crictl": None, "ctr": None}
    assert result["images"] == ["k3s-airgap-images-amd64.tar.zst"]
    assert "service" not in result and "node" not in result


def test_gather_binary_env_file_checksum_and_failing_version(paths):
    p = paths("server")
    write(p["bin"], "k3s-binary", mode=0o755)
    write(p["env_file"], "K3S_TOKEN=secret\n", mode=0o600)
    run = FakeRun({(p["bin"], "--version"): (1, "k3s version v9.9.9+k3s1 (x)\n", "boom")})
    result = gather(params(gather=["binary"], env_file_checksum=True), run, environ_path="")
    assert result["binary"] == {"exists": True, "version": "", "sha256": ""}
    assert result["unit_files"]["env_file"] == "600:root:root:%s" % sha1(b"K3S_TOKEN=secret\n")
    assert result["unit_files"]["unit_file"] is None


def test_gather_binary_absent_runs_nothing(paths):
    p = paths("server")
    write(p["bin"], "not executable", mode=0o644)
    run = FakeRun({})
    result = gather(params(gather=["binary"], checksum=True), run, environ_path="")
    assert result["binary"] == {"exists": False, "version": "", "sha256": ""}
    assert run.calls == []


@pytest.mark.parametrize(
    ("virt", "kind"), [((0, "lxc\n", ""), "lxc"), ((1, "none\n", ""), "none"), ((1, "", ""), "none")]
)
def test_gather_host(paths, virt, kind):
    p = paths("server")
    os.makedirs(p["config_dir"], mode=0o755)
    os.chmod(p["config_dir"], 0o755)  # noqa: S103 - the mode under test
    run = FakeRun({("uname", "-m"): (0, "x86_64\n", ""), ("systemd-detect-virt", "--container"): virt})
    modules = ["edgefleet_no_such_module"] + [m for m in ("kernel", "block") if os.path.isdir("/sys/module/" + m)]
    result = gather(
        params(gather=["host"], kernel_modules=modules, sysctls=["kernel.ostype", "edgefleet.no.such"]), run
    )
    assert result["machine"] == "x86_64"
    assert result["container"] == kind
    assert result["kernel_modules"] == modules[1:]
    assert result["sysctls"] == {"kernel.ostype": "Linux", "edgefleet.no.such": None}
    assert result["directories"] == {"config_dir": "755:root:root:directory", "dropin_dir": None}


def test_gather_files_and_units_installed(paths, tmp_path):
    p = paths("server")
    write(os.path.join(p["systemd_dir"], "k3s-agent.service"), "[Unit]\n")
    os.makedirs(os.path.join(p["systemd_dir"], "k3s.service"))  # not a file: not an installed unit
    listed = write(str(tmp_path / "listed"), "x", mode=0o600)
    result = gather(params(gather=[], files=[listed, str(tmp_path / "absent")]), FakeRun({}))
    assert result["units_installed"] == ["k3s-agent"]
    assert result["files"] == {
        listed: "600:root:root:%s" % sha1(b"x"),
        str(tmp_path / "absent"): None,
    }
    assert set(result) == {"layout", "node_type", "files", "units_installed"}
