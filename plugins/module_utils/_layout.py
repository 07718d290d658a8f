# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""Where k3s and this collection keep things on a node: the one definition of every path.

The roles read these through the ``layout`` result of ``edgefleet.k3s.k3s_node_info``; the modules import them.
"""

from __future__ import annotations

import os

CONFIG_DIR = "/etc/rancher/k3s"
DATA_DIR = "/var/lib/rancher/k3s"
BIN_DIR = "/usr/local/bin"
SYSTEMD_DIR = "/etc/systemd/system"

UNITS = {"server": "k3s", "agent": "k3s-agent"}

# Marker the collection writes at the top of every file it manages (Ansible's default ansible_managed text).
MANAGED_MARKER = "# Ansible managed"


def layout(node_type="server"):
    """Every path of a node of ``node_type`` (server or agent), as one flat dict."""
    unit = UNITS[node_type]
    paths = {
        "config_dir": CONFIG_DIR,
        "config_file": os.path.join(CONFIG_DIR, "config.yaml"),
        "dropin_dir": os.path.join(CONFIG_DIR, "config.yaml.d"),
        "registries_file": os.path.join(CONFIG_DIR, "registries.yaml"),
        # Token files the roles write (0600); k3s reads them through token-file / agent-token-file.
        "token_file": os.path.join(CONFIG_DIR, "cluster-token"),
        "agent_token_file": os.path.join(CONFIG_DIR, "agent-token"),
        "kubeconfig": os.path.join(CONFIG_DIR, "k3s.yaml"),
        "node_password": "/etc/rancher/node/password",
        "data_dir": DATA_DIR,
        "server_dir": os.path.join(DATA_DIR, "server"),
        "server_token": os.path.join(DATA_DIR, "server", "token"),
        "server_agent_token": os.path.join(DATA_DIR, "server", "agent-token"),
        "server_ca": os.path.join(DATA_DIR, "server", "tls", "server-ca.crt"),
        "db_dir": os.path.join(DATA_DIR, "server", "db"),
        "etcd_wal": os.path.join(DATA_DIR, "server", "db", "etcd", "member", "wal"),
        "sqlite_db": os.path.join(DATA_DIR, "server", "db", "state.db"),
        "snapshot_dir": os.path.join(DATA_DIR, "server", "db", "snapshots"),
        # Token copies and manifests of backups, and SQLite backups (k3s takes every file of snapshot_dir for one).
        "backup_dir": os.path.join(DATA_DIR, "server", "db", "edgefleet-backups"),
        "manifests_dir": os.path.join(DATA_DIR, "server", "manifests"),
        "images_dir": os.path.join(DATA_DIR, "agent", "images"),
        "containerd_dir": os.path.join(DATA_DIR, "agent", "etc", "containerd"),
        "bin_dir": BIN_DIR,
        "bin": os.path.join(BIN_DIR, "k3s"),
        "systemd_dir": SYSTEMD_DIR,
        "unit": unit,
        "unit_file": os.path.join(SYSTEMD_DIR, unit + ".service"),
        "env_file": os.path.join(SYSTEMD_DIR, unit + ".service.env"),
        "units": sorted(UNITS.values()),
    }
    # What an uninstall removes: both units with their env files, configuration, data, runtime state and the binary.
    paths["uninstall_paths"] = [
        os.path.join(SYSTEMD_DIR, u + suffix) for u in paths["units"] for suffix in (".service", ".service.env")
    ] + [
        CONFIG_DIR,
        os.path.dirname(paths["node_password"]),
        DATA_DIR,
        "/var/lib/kubelet",
        "/var/lib/cni",
        "/run/k3s",
        "/run/flannel",
        paths["bin"],
    ]
    return paths


def restart_inputs(paths):
    """The files a running k3s has read at its start: if one changed after that start, k3s must restart.

    Directories stand for their entries (a drop-in added or removed changes the directory's mtime). k3s writes none
    of these itself, so a newer mtime always means somebody changed what k3s runs with.
    """
    return [
        paths["bin"],
        paths["unit_file"],
        paths["env_file"],
        paths["config_file"],
        paths["dropin_dir"],
        paths["registries_file"],
        paths["token_file"],
        paths["agent_token_file"],
        os.path.join(paths["containerd_dir"], "config.toml.tmpl"),
        os.path.join(paths["containerd_dir"], "config-v3.toml.tmpl"),
    ]
