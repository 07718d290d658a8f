# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""The work behind edgefleet.k3s.k3s_node_info: what a k3s node has and runs, read from the host itself.

Nothing here changes the host. Every function that touches the system takes its helpers as arguments (``run`` for
commands, ``now``/``monotonic`` for clocks) so the decisions are unit-tested without a host.
"""

from __future__ import annotations

import fnmatch
import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import time

from ansible_collections.edgefleet.k3s.plugins.module_utils._layout import layout, restart_inputs

SYSTEMCTL_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "MainPID",
    "NeedDaemonReload",
    "ExecMainStartTimestampMonotonic",
)
VERSION_LINE = re.compile(r"^k3s version (\S+)")
COMMANDS = ("kubectl", "crictl", "ctr")


def file_state(path, with_sha1=True):
    """``mode:owner:group:sha1`` of a regular file, ``mode:owner:group:directory`` of a directory, None otherwise.

    Links are reported as None: the roles replace them with the file they manage.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        tail = "directory"
    elif stat.S_ISREG(st.st_mode):
        tail = sha1_of(path) if with_sha1 else ""
    else:
        return None
    return "%o:%s:%s:%s" % (stat.S_IMODE(st.st_mode), _user(st.st_uid), _group(st.st_gid), tail)


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha1_of(path):
    return _digest(path, "sha1")


def sha256_of(path):
    return _digest(path, "sha256")


def parse_systemctl_show(text):
    """``Key=Value`` lines of ``systemctl show`` → dict."""
    props = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key.strip()] = value.strip()
    return props


def service_state(props, now, monotonic):
    """The unit's state from ``systemctl show`` properties; ``started_at`` is the main process's start (epoch s)."""
    active = props.get("ActiveState", "inactive")
    running = active in ("active", "activating", "reloading", "deactivating")
    started_at = None
    try:
        mono_us = int(props.get("ExecMainStartTimestampMonotonic") or 0)
    except ValueError:
        mono_us = 0
    if running and mono_us > 0:
        started_at = now - (monotonic - mono_us / 1e6)
    try:
        pid = int(props.get("MainPID") or 0)
    except ValueError:
        pid = 0
    return {
        "installed": props.get("LoadState") == "loaded",
        "active_state": active,
        "sub_state": props.get("SubState", ""),
        "active": active == "active",
        "running": running,
        "enabled": props.get("UnitFileState") in ("enabled", "enabled-runtime", "static", "alias"),
        "main_pid": pid,
        "started_at": started_at,
        "need_daemon_reload": props.get("NeedDaemonReload") == "yes",
    }


def newest_mtime(path):
    """mtime of a file, or of a directory and its entries (whichever is newest); None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    newest = st.st_mtime
    if stat.S_ISDIR(st.st_mode):
        try:
            names = os.listdir(path)
        except OSError:
            names = []
        for name in names:
            try:
                newest = max(newest, os.stat(os.path.join(path, name)).st_mtime)
            except OSError:
                continue
    return newest


def restart_reasons(service, mtimes):
    """Why a running k3s must restart: each input changed after the process started, and a pending unit reload.

    ``mtimes`` maps input path → mtime (None: absent). A stopped unit needs a start, not a restart: no reasons.
    """
    if not service["running"]:
        return []
    reasons = []
    if service["need_daemon_reload"]:
        reasons.append("the unit file changed on disk (systemd has not reloaded it)")
    started = service["started_at"]
    if started is None:
        return reasons
    for path, mtime in mtimes.items():
        if mtime is not None and mtime > started:
            reasons.append("%s changed after k3s started" % path)
    return reasons


def config_joins(path):
    """Whether config.yaml names a server to join (a top-level ``server:`` key). Only that fact leaves the file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return any(line.startswith("server:") for line in handle)
    except OSError:
        return False


def parse_version(text):
    for line in text.splitlines():
        match = VERSION_LINE.match(line.strip())
        if match:
            return match.group(1)
    return ""


def container_kind(run):
    out = run(["systemd-detect-virt", "--container"])[1]
    value = out.strip()
    return value if value else "none"


def gather(params, run, now=None, monotonic=None, environ_path=None):
    """Everything the roles decide from, as one dict. ``run(argv) -> (rc, stdout, stderr)``."""
    node_type = params["node_type"]
    paths = layout(node_type)
    sections = set(params["gather"])
    result = {"layout": paths, "node_type": node_type}

    if "host" in sections:
        out = run(["uname", "-m"])[1]
        result["machine"] = out.strip()
        result["container"] = container_kind(run)
        result["kernel_modules"] = [m for m in params["kernel_modules"] if os.path.isdir("/sys/module/" + m)]
        result["sysctls"] = {key: read_sysctl(key) for key in params["sysctls"]}
        # The configuration directories the prereq role creates, by their layout name.
        result["directories"] = {name: file_state(paths[name]) for name in ("config_dir", "dropin_dir")}

    if "binary" in sections:
        binary = {"exists": os.access(paths["bin"], os.X_OK), "version": "", "sha256": ""}
        if binary["exists"]:
            rc, out, _err = run([paths["bin"], "--version"])
            binary["version"] = parse_version(out) if rc == 0 else ""
            if params["checksum"]:
                binary["sha256"] = sha256_of(paths["bin"])
        result["binary"] = binary
        # The unit and its environment file, as the runtime role writes them. The env file may hold credentials
        # (k3s_env): its hash is only given when asked for.
        result["unit_files"] = {
            "unit_file": file_state(paths["unit_file"]),
            "env_file": file_state(paths["env_file"], with_sha1=params["env_file_checksum"]),
        }
        result["commands"] = find_commands(environ_path)
        result["images"] = sorted(
            name
            for name in _listdir(paths["images_dir"])
            if fnmatch.fnmatch(name, "k3s-airgap-images-*") and os.path.isfile(os.path.join(paths["images_dir"], name))
        )

    if "service" in sections:
        rc, out, _err = run(
            ["systemctl", "show", paths["unit"], "--property=" + ",".join(SYSTEMCTL_PROPERTIES)],
        )
        props = parse_systemctl_show(out) if rc == 0 else {}
        service = service_state(
            props, time.time() if now is None else now, time.monotonic() if monotonic is None else monotonic
        )
        service["unit"] = paths["unit"]
        inputs = {path: newest_mtime(path) for path in restart_inputs(paths)}
        service["restart_reasons"] = restart_reasons(service, inputs)
        result["service"] = service

    if "node" in sections:
        result["node"] = {
            "etcd_data": os.path.isdir(paths["etcd_wal"]),
            "sqlite_data": os.path.isfile(paths["sqlite_db"]),
            "token_file": os.path.isfile(paths["token_file"]),
            "agent_token_file": os.path.isfile(paths["agent_token_file"]),
            "node_password": os.path.isfile(paths["node_password"]),
            "config_file": os.path.isfile(paths["config_file"]),
            "config_joins": config_joins(paths["config_file"]),
            "kubeconfig": os.path.isfile(paths["kubeconfig"]),
            "dropins": sorted(n for n in _listdir(paths["dropin_dir"]) if n.endswith(".yaml")),
        }

    result["files"] = {path: file_state(path) for path in params["files"]}
    # Both kinds of k3s unit, whichever this host has (an uninstall stops and removes each of them).
    result["units_installed"] = [
        u for u in paths["units"] if os.path.isfile(os.path.join(paths["systemd_dir"], u + ".service"))
    ]
    return result


def _listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def read_sysctl(key):
    try:
        with open("/proc/sys/" + key.replace(".", "/"), encoding="ascii") as handle:
            return " ".join(handle.read().split())
    except OSError:
        return None


def find_commands(environ_path=None):
    """Each of kubectl/crictl/ctr on PATH, resolved through links; None when missing."""
    search = environ_path if environ_path is not None else os.environ.get("PATH", "") + ":/usr/local/bin:/usr/bin"
    found = {}
    for name in COMMANDS:
        path = shutil.which(name, path=search)
        found[name] = os.path.realpath(path) if path else None
    return found
