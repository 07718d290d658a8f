#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_config
short_description: Write the files a k3s node starts with, in one round trip
version_added: 0.2.0
description:
  - Writes C(/etc/rancher/k3s/config.yaml), the drop-ins in C(/etc/rancher/k3s/config.yaml.d/), C(registries.yaml)
    and the token files of a k3s server or agent. Every file is owned by root with mode C(0600) and is replaced
    atomically, so no reader ever sees a partial file or a secret with wider permissions.
  - Drop-ins that carry the C(# Ansible managed) marker and are no longer in O(dropins) are removed. Files without
    the marker are left alone.
  - A file whose content is already right is not rewritten, so its modification time stays. RV(restart_needed)
    says whether k3s must restart to read a changed file.
  - Token files and C(registries.yaml) are never shown in a diff. Neither are config files when
    O(secret_config=true).
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  node_type:
    description: The kind of node, V(server) or V(agent). It selects the layout.
    type: str
    choices: [server, agent]
    default: server
  config:
    description: The content of C(config.yaml), usually rendered with C(to_nice_yaml).
    type: str
    required: true
  dropins:
    description: Drop-in name (without C(.yaml)) to the content of C(config.yaml.d/<name>.yaml).
    type: dict
    default: {}
  registries:
    description:
      - The content of C(registries.yaml). Omit it to leave that file alone.
      - It may hold registry credentials, so the module treats it as a secret (no diff, masked in the output).
    type: str
  token:
    description:
      - The token the node starts with, written to C(/etc/rancher/k3s/cluster-token).
      - Omit it to leave that file alone.
    type: str
  agent_token:
    description:
      - Servers only. The agent password written to C(/etc/rancher/k3s/agent-token), for k3s C(agent-token-file).
      - Omit it to leave that file alone.
    type: str
  secret_config:
    description:
      - C(config.yaml) or a drop-in holds a secret (for example C(datastore-endpoint) credentials), so no diff
        shows their content. Set C(no_log) on the task as well, because the content is a module argument.
    type: bool
    default: false
extends_documentation_fragment:
  - edgefleet.k3s._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details:
      - Token files, C(registries.yaml) and, with O(secret_config), the config files are not shown.
  idempotent:
    support: full
seealso:
  - module: edgefleet.k3s.k3s_node_info
  - module: edgefleet.k3s.k3s_service
"""

EXAMPLES = r"""
- name: Write the agent's configuration and its token
  edgefleet.k3s.k3s_config:
    node_type: agent
    config: "{{ {'server': 'https://10.0.0.10:6443', 'token-file': '/etc/rancher/k3s/cluster-token'} | to_nice_yaml }}"
    token: "{{ agent_token }}"
  no_log: true
  register: files

- name: Say whether k3s must restart
  ansible.builtin.debug:
    var: files.restart_needed
"""

RETURN = r"""
restart_needed:
  description: The content of a file changed or a managed drop-in was removed. k3s reads these files only at start.
  returned: success
  type: bool
  sample: true
changed_files:
  description: The files whose content or mode and owner were, or in check mode would be, changed.
  returned: success
  type: list
  elements: str
  sample: [/etc/rancher/k3s/config.yaml]
removed_files:
  description: The managed drop-ins removed, or in check mode that would be removed.
  returned: success
  type: list
  elements: str
  sample: [/etc/rancher/k3s/config.yaml.d/old.yaml]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._config_files import ConfigError, apply  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "node_type": {"type": "str", "choices": ["server", "agent"], "default": "server"},
            "config": {"type": "str", "required": True},
            "dropins": {"type": "dict", "default": {}},
            # registry credentials may be in it: masked in the task's invocation, never in a diff
            "registries": {"type": "str", "no_log": True},
            "token": {"type": "str", "no_log": True},
            "agent_token": {"type": "str", "no_log": True},
            "secret_config": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if module.params["node_type"] == "agent" and module.params["agent_token"] is not None:
        module.fail_json(msg="agent_token is for servers only (k3s agent-token-file)")
    try:
        result = apply(module.params, module.check_mode)
    except (ConfigError, OSError) as exc:
        module.fail_json(msg="cannot write the k3s configuration: %s" % exc)
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
