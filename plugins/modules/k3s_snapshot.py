#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_snapshot
short_description: Back up the datastore of a k3s server, list, delete and prune its backups
version_added: 0.2.0
description:
  - Runs on a k3s server. With embedded etcd it drives C(k3s etcd-snapshot) (C(save), C(ls -o json), C(delete),
    C(prune)) and reads k3s's own output. With SQLite (a single server) it takes an online, consistent copy of
    C(server/db/state.db) through SQLite's backup API, never a file copy of a live database, and keeps the copy
    only when C(PRAGMA integrity_check) says it is intact.
  - A saved backup gets a copy of the server token, C(<name>.token), because a restore without it fails, a copy of
    the agents' password file the roles write (C(/etc/rancher/k3s/agent-token)), C(<name>.agent-token), when the
    server has one, so that servers rebuilt from the backup keep the agents' token, and a sha256 manifest,
    C(<name>.sha256), in the format of C(sha256sum). They are kept in C(<data-dir>/server/db/edgefleet-backups),
    because k3s takes every file of its snapshot directory for a snapshot. SQLite backups are kept there too. All
    files are 0600.
  - Files are written through a private temporary file and renamed. A full or unwritable directory fails with a clear
    message and leaves earlier backups as they were.
  - With C(etcd-snapshot-dir) in config.yaml the snapshot is where k3s wrote it (found through C(k3s etcd-snapshot ls)).
  - To keep copies off the node, fetch RV(path), RV(token_file), RV(agent_token_file) and RV(manifest) afterwards, as
    C(playbooks/backup.yml) does.
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  command:
    description:
      - V(save) takes a backup, V(list) lists them, V(delete) removes O(names), and V(prune) removes the oldest
        backups named O(name)… beyond O(retention).
    type: str
    choices: [save, list, delete, prune]
    default: save
  name:
    description: The name prefix (k3s C(--name)). k3s appends the node name and a Unix timestamp.
    type: str
    default: on-demand
  names:
    description: With O(command=delete), the backups to delete (as RV(snapshots) lists them).
    type: list
    elements: str
    default: []
  retention:
    description: With O(command=prune), how many backups named O(name)… to keep.
    type: int
  datastore:
    description: V(auto) finds embedded etcd or SQLite on the host.
    type: str
    choices: [auto, etcd, sqlite]
    default: auto
  dir:
    description:
      - The directory of the backups (k3s C(--dir)); it must exist.
      - Default C(<data-dir>/server/db/snapshots) for etcd, C(<data-dir>/server/db/edgefleet-backups) for SQLite.
    type: path
  include_token:
    description: Save the server token beside the backup.
    type: bool
    default: true
  node_name:
    description: The node name, used in SQLite backup names and returned as RV(node).
    type: str
    required: true
extends_documentation_fragment:
  - edgefleet.k3s._attributes
attributes:
  check_mode:
    support: full
    details:
      - Saves nothing. V(delete) and V(prune) report what they would remove.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - V(save) takes a new backup at every run. V(list) is read-only; V(delete) and V(prune) are idempotent.
notes:
  - The token file holds the cluster's secret. Keep fetched copies as carefully as the token itself.
seealso:
  - name: k3s etcd-snapshot
    description: The k3s command this module drives for embedded etcd.
    link: https://docs.k3s.io/cli/etcd-snapshot
"""

EXAMPLES = r"""
- name: Take a backup
  edgefleet.k3s.k3s_snapshot:
    name: nightly
    node_name: "{{ k3s_node_name }}"
  register: backup

- name: Keep the last 7 nightly backups on the node
  edgefleet.k3s.k3s_snapshot:
    command: prune
    name: nightly
    retention: 7
    node_name: "{{ k3s_node_name }}"
"""

RETURN = r"""
name:
  description: The backup's name.
  returned: after a save
  type: str
  sample: nightly-server-1-1764758400
path:
  description: The backup file.
  returned: after a save
  type: str
  sample: /var/lib/rancher/k3s/server/db/snapshots/nightly-server-1-1764758400
size:
  description: Its size in bytes.
  returned: after a save
  type: int
sha256:
  description: Its sha256.
  returned: after a save
  type: str
node:
  description: The node it was taken on.
  returned: after a save
  type: str
datastore:
  description: V(etcd) or V(sqlite).
  returned: always
  type: str
token_file:
  description: The copy of the server token (0600), null with O(include_token=false).
  returned: after a save
  type: str
agent_token_file:
  description:
    - The copy of the agents' password file (0600).
    - Null when the server has none, or with O(include_token=false).
  returned: after a save
  type: str
manifest:
  description: The sha256 manifest of the backup and the token copies (0600).
  returned: after a save
  type: str
snapshots:
  description: The backups, oldest first, with C(name), C(node), C(location), C(path), C(size), C(created), C(ready).
  returned: with O(command=list)
  type: list
  elements: dict
deleted:
  description: The backups deleted, or in check mode that would be.
  returned: with O(command=delete) or O(command=prune)
  type: list
  elements: str
not_found:
  description: Names of O(names) that do not exist.
  returned: with O(command=delete)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._layout import layout  # noqa: E402
from ansible_collections.edgefleet.k3s.plugins.module_utils._snapshot import (  # noqa: E402
    SnapshotError,
    SnapshotManager,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "command": {"type": "str", "choices": ["save", "list", "delete", "prune"], "default": "save"},
            "name": {"type": "str", "default": "on-demand"},
            "names": {"type": "list", "elements": "str", "default": []},
            "retention": {"type": "int"},
            "datastore": {"type": "str", "choices": ["auto", "etcd", "sqlite"], "default": "auto"},
            "dir": {"type": "path"},
            "include_token": {"type": "bool", "default": True},
            "node_name": {"type": "str", "required": True},
        },
        required_if=[("command", "prune", ["retention"])],
        supports_check_mode=True,
    )
    if module.params["retention"] is not None and module.params["retention"] < 1:
        module.fail_json(msg="retention must be at least 1")

    def run(argv):
        return module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})

    try:
        result = SnapshotManager(module.params, layout("server"), run, module.check_mode).execute()
    except (SnapshotError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
