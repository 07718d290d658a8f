# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""The work behind edgefleet.k3s.k3s_config: the files a k3s node starts with, written in one round trip.

Every file is root-owned 0600 and replaced atomically (a private temporary file in the same directory, renamed over
the old one), so a reader never sees half a file and a secret is never readable by others, not even for a moment.
A file whose content is already right keeps its mtime (the restart contract compares mtimes with k3s's start).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from ansible_collections.edgefleet.k3s.plugins.module_utils._layout import MANAGED_MARKER, layout

FILE_MODE = 0o600


class ConfigError(Exception):
    pass


def wanted_files(params):
    """Path → (content, secret) of every file the parameters ask for; ``None`` content leaves a file alone."""
    paths = layout(params["node_type"])
    secret_config = params["secret_config"]
    files = {paths["config_file"]: (params["config"], secret_config)}
    for name, content in sorted((params.get("dropins") or {}).items()):
        if not name or "/" in name or name.startswith("."):
            raise ConfigError("drop-in name %r is not a plain file name" % name)
        files[os.path.join(paths["dropin_dir"], name + ".yaml")] = (content, secret_config)
    if params.get("registries") is not None:
        # registries.yaml may hold registry credentials: never shown in a diff.
        files[paths["registries_file"]] = (params["registries"], True)
    if params.get("token") is not None:
        files[paths["token_file"]] = (_token_text(params["token"]), True)
    if params.get("agent_token") is not None:
        files[paths["agent_token_file"]] = (_token_text(params["agent_token"]), True)
    return files


def _token_text(value):
    value = value.strip()
    if not value:
        raise ConfigError("a token file cannot be empty")
    return value + "\n"


def stale_dropins(dropin_dir, keep):
    """Drop-ins this collection wrote (they carry the managed marker) that are not wanted any more."""
    try:
        names = sorted(os.listdir(dropin_dir))
    except OSError:
        return []
    stale = []
    for name in names:
        path = os.path.join(dropin_dir, name)
        if not name.endswith(".yaml") or path in keep or not os.path.isfile(path):
            continue
        if is_managed(path):
            stale.append(path)
    return stale


def is_managed(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = [handle.readline().rstrip("\n") for _line in range(5)]
    except OSError:
        return False
    return any(line.strip() == MANAGED_MARKER for line in head)


def current(path):
    """(content or None, mode, uid, gid) of a regular file; content None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None, None, None, None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError("%s exists and is not a regular file" % path)
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def write_atomic(path, content):
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".edgefleet-", dir=directory)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(content)
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)
            os.fchown(handle.fileno(), 0, 0)
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def apply(params, check_mode):
    """Bring the files to the wanted state; return the module result (``changed``, ``files``, ``diff``)."""
    paths = layout(params["node_type"])
    files = wanted_files(params)
    changed_content, changed_meta, removed, diffs = [], [], [], []

    for path, (content, secret) in files.items():
        if content is None:
            continue
        before, mode, uid, gid = current(path)
        if before != content:
            changed_content.append(path)
            if not secret:
                diffs.append(
                    {
                        "before_header": path,
                        "after_header": path,
                        "before": before if before is not None else "",
                        "after": content,
                    }
                )
            if not check_mode:
                write_atomic(path, content)
        elif (mode, uid, gid) != (FILE_MODE, 0, 0):
            changed_meta.append(path)
            if not check_mode:
                os.chown(path, 0, 0)
                os.chmod(path, FILE_MODE)

    for path in stale_dropins(paths["dropin_dir"], set(files)):
        removed.append(path)
        diffs.append({"before_header": path, "after_header": "(absent)", "before": "(managed drop-in)\n", "after": ""})
        if not check_mode:
            os.unlink(path)

    return {
        "changed": bool(changed_content or changed_meta or removed),
        # k3s reads these only at start: a change of content (or a removed drop-in) means it must restart.
        "restart_needed": bool(changed_content or removed),
        "changed_files": changed_content + changed_meta,
        "removed_files": removed,
        "diff": diffs,
    }
