# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""What playbooks/restore.yml may do with a backup, decided before anything stops (a pure, unit-tested function).

A backup is the set playbooks/backup.yml writes: ``<name>`` (an etcd snapshot, ``.zip`` when compressed, or a
SQLite ``.db``), ``<stem>.token``, optionally ``<stem>.agent-token``, and ``<stem>.sha256`` listing them. Token values
are compared, never put into a message.
"""

from __future__ import annotations


def stem(name):
    """The backup's name without .zip / .db: the prefix of its companion files."""
    for suffix in (".zip", ".db"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def backup_kind(name):
    return "sqlite" if name.endswith(".db") else "etcd"


def parse_manifest(text):
    """sha256sum lines (``<64 hex>  <file name>``) → {file name: digest}; None when a line is not of that form."""
    entries = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or "/" in name:
            return None
        entries[name] = digest
    return entries


def _password(token):
    """The secret part of a k3s token: the whole value, or what follows the last ':' of K10<hash>::<user>:<pw>."""
    token = (token or "").strip()
    return token.rsplit(":", 1)[-1] if token.startswith("K10") else token


def restore_plan(name, manifest_text, checksums, backup_token, servers, current_token):
    """Decide a restore.

    :param name: the backup file's name (the basename of k3s_restore_from).
    :param manifest_text: the content of ``<stem>.sha256`` ('' when missing).
    :param checksums: {file name: sha256 computed on the controller, '' or None when missing}.
    :param backup_token: the content of ``<stem>.token`` ('' when missing).
    :param servers: ordered like k3s_servers: dicts ``name``, ``etcd_data``, ``sqlite_data`` (from the probes).
    :param current_token: the first server's ``server/token`` ('' when it has none).
    :returns: dict ``kind`` (etcd | sqlite), ``fresh`` (no server holds any data: the disaster case, servers rebuilt),
        ``agent_token`` (the backup holds the agents' password file) and ``problems`` (messages; empty: go ahead).
    """
    problems = []
    kind = backup_kind(name)
    base = stem(name)
    required = [name, base + ".token"]
    manifest = parse_manifest(manifest_text)
    if manifest is None:
        problems.append(
            "%s.sha256 is not a sha256 manifest (lines of '<sha256>  <file>'): the backup is not a complete, intact "
            "backup." % base
        )
        manifest = {}
    elif not manifest_text:
        problems.append("%s.sha256, the backup's manifest, is missing: it is not a complete, intact backup." % base)
    else:
        unlisted = [f for f in required if f not in manifest]
        if unlisted:
            problems.append("the manifest does not list %s: it is not a complete, intact backup." % ", ".join(unlisted))
        missing = sorted(f for f in manifest if not checksums.get(f))
        bad = sorted(f for f in manifest if checksums.get(f) and checksums[f] != manifest[f])
        if missing:
            problems.append("%s missing: it is not a complete, intact backup." % ", ".join(missing))
        if bad:
            problems.append(
                "the sha256 of %s does not match the manifest: it is not a complete, intact backup." % ", ".join(bad)
            )
    if not (backup_token or "").strip():
        problems.append(
            "the backup holds no token (%s.token is empty or missing); k3s cannot restore without it." % base
        )

    with_data = [s["name"] for s in servers if s.get("etcd_data") or s.get("sqlite_data")]
    fresh = not with_data
    if kind == "sqlite" and len(servers) != 1:
        problems.append(
            "%s is a SQLite backup: it restores onto a single server, but k3s_servers has %d." % (name, len(servers))
        )
    if not fresh:
        first = servers[0]
        if first["name"] not in with_data:
            problems.append(
                "%s has no datastore while %s hold one: run playbooks/site.yml first (the rebuilt server rejoins "
                "them), then restore." % (first["name"], ", ".join(with_data))
            )
        cluster_kind = "etcd" if any(s.get("etcd_data") for s in servers) else "sqlite"
        if cluster_kind != kind:
            problems.append("the backup's datastore (%s) must be the cluster's (%s)." % (kind, cluster_kind))
        both = (current_token or "").strip() and (backup_token or "").strip()
        if both and _password(current_token) != _password(backup_token):
            problems.append(
                "the backup's token must be this cluster's own (a backup of another cluster, or of this one "
                "before its token was rotated, cannot be restored here)."
            )
    return {
        "kind": kind,
        "fresh": fresh,
        "agent_token": base + ".agent-token" in manifest,
        "problems": problems,
    }
