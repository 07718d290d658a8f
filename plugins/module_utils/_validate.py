# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""Per-host checks of the validate role, as one pure function (called through the k3s_host_problems filter).

Each problem is one message that names the variable and says what to do. Token values are only measured and
matched, never put into a message.
"""

from __future__ import annotations

import json
import re

VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+(-rc[0-9]+)?\+k3s[0-9]+$")
NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
TAINT = re.compile(r"^[^=:]+(=[^:]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$")
# k3s takes a server token of this shape for a bootstrap token and refuses it (pkg/clientaccess/token.go).
BOOTSTRAP_TOKEN = re.compile(r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
ARCHS = ("amd64", "arm64", "armhf")
SOURCES = ("auto", "url", "mirror", "airgap")
TOKEN_MIN_LENGTH = 16
# k3s schedules its snapshots with robfig/cron v3's standard parser (pkg/etcd/etcd.go): 5 fields, an optional
# CRON_TZ=/TZ= zone prefix, or a descriptor.
CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/-]+$")
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_EVERY = re.compile(r"^@every ([0-9]+(\.[0-9]+)?(ns|us|\u00b5s|ms|s|m|h))+$")
SNAPSHOT_VARS = (
    "k3s_etcd_snapshot_schedule_cron",
    "k3s_etcd_snapshot_retention",
    "k3s_etcd_snapshot_dir",
    "k3s_etcd_snapshot_compress",
    "k3s_etcd_disable_snapshots",
)


def _json(value):
    return json.dumps(value, ensure_ascii=False)


def host_problems(v):
    """Problems of one k3s node's variables.

    ``v`` holds the variables as the host sees them (None: undefined there) plus ``airgap_dir_exists``
    (the controller's answer for ``k3s_airgap_dir``) and ``inventory_hostname``.
    """
    problems = []
    version = v.get("k3s_version")
    if not isinstance(version, str) or not VERSION.match(version):
        shown = "<undefined>" if version is None else str(version)
        problems.append(
            "k3s_version must pin a k3s release such as v1.36.1+k3s1 (no channel names like 'latest' or 'stable'); "
            "got %s." % _json(shown)
        )
    arch = v.get("k3s_arch") or ""
    if arch not in ("",) + ARCHS:
        problems.append(
            "k3s_arch %s is not supported: use one of %s, or leave it empty to detect the architecture."
            % (_json(arch), ", ".join(ARCHS))
        )
    source = v.get("k3s_install_source") or "auto"
    base_url = v.get("k3s_release_base_url") or ""
    airgap_dir = v.get("k3s_airgap_dir") or ""
    if source not in SOURCES or (source == "mirror" and not base_url) or (source == "airgap" and not airgap_dir):
        problems.append(
            "k3s_install_source must be one of %s; 'mirror' needs k3s_release_base_url and 'airgap' needs "
            "k3s_airgap_dir (got k3s_install_source=%s, k3s_release_base_url=%s, k3s_airgap_dir=%s)."
            % (", ".join(SOURCES), source, _json(base_url), _json(airgap_dir))
        )
    elif source == "airgap" and not v.get("airgap_dir_exists"):
        problems.append("k3s_airgap_dir %s is not a directory on the controller." % _json(airgap_dir))
    name = v.get("k3s_node_name") or v["inventory_hostname"]
    if not isinstance(name, str) or not NODE_NAME.match(name) or len(name) > 63:
        problems.append(
            "k3s_node_name %s is not a valid Kubernetes node name (lower-case letters, digits, '-' and '.', at most "
            "63 characters); set k3s_node_name for this host." % _json(str(name))
        )
    tokens = [v.get("k3s_token") or "", v.get("k3s_agent_token") or ""]
    if any(0 < len(str(t)) < TOKEN_MIN_LENGTH for t in tokens):
        problems.append(
            "k3s_token and k3s_agent_token, when set, must be at least %d characters long." % TOKEN_MIN_LENGTH
        )
    if BOOTSTRAP_TOKEN.match(str(tokens[0])):
        problems.append(
            "k3s_token has the form of a k3s bootstrap token (<6 characters>.<16 characters>, lower-case letters and "
            "digits), which k3s refuses as a server token; choose another value (for example 32 random hex "
            "characters)."
        )
    taints = v.get("k3s_node_taints") or []
    bad = [str(t) for t in taints if not TAINT.match(str(t))]
    if bad:
        problems.append(
            "k3s_node_taints entries must look like key=value:Effect (Effect NoSchedule, PreferNoSchedule or "
            "NoExecute); invalid: %s." % ", ".join(bad)
        )
    if v.get("server"):
        problems.extend(snapshot_problems(v))
    return problems


def cron_ok(expr):
    """A schedule k3s's cron parser takes (checked by shape, not by every range)."""
    expr = expr.strip()
    if expr.split(" ", 1)[0].startswith(("CRON_TZ=", "TZ=")):
        expr = expr.split(" ", 1)[1].strip() if " " in expr else ""
    if expr.startswith("@"):
        return expr in CRON_DESCRIPTORS or bool(CRON_EVERY.match(expr))
    fields = expr.split()
    return len(fields) == 5 and all(CRON_FIELD.match(f) for f in fields)


def snapshot_problems(v):
    """The scheduled-snapshot settings of a server; ``datastore`` is what the server runs (etcd, sqlite, external)."""
    problems = []
    set_vars = [name for name in SNAPSHOT_VARS if v.get(name)]
    if set_vars and v.get("datastore") != "etcd":
        problems.append(
            "%s configure k3s's scheduled etcd snapshots, but this server's datastore is %s, not embedded etcd; "
            "remove them (playbooks/backup.yml backs up SQLite too) or set k3s_etcd: true."
            % (", ".join(set_vars), v.get("datastore"))
        )
        return problems
    cron = v.get("k3s_etcd_snapshot_schedule_cron") or ""
    if cron and not cron_ok(str(cron)):
        problems.append(
            "k3s_etcd_snapshot_schedule_cron %s is not a cron schedule: use 5 fields (minute hour day month weekday, "
            "e.g. '0 */6 * * *') or a descriptor such as @daily or '@every 6h'." % _json(str(cron))
        )
    retention = v.get("k3s_etcd_snapshot_retention") or 0
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 0:
        problems.append(
            "k3s_etcd_snapshot_retention must be a whole number of snapshots (0 keeps k3s's default of 5); got %s."
            % _json(str(retention))
        )
    directory = v.get("k3s_etcd_snapshot_dir") or ""
    if directory and (not str(directory).startswith("/") or str(directory).rstrip("/") == ""):
        problems.append(
            "k3s_etcd_snapshot_dir must be an absolute directory other than / (got %s)." % _json(str(directory))
        )
    return problems
