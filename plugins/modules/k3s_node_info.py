#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_node_info
short_description: Report what a k3s node has installed and what it runs, in one round trip
version_added: 0.2.0
description:
  - Reads the state of a k3s node from the host itself and returns it as structured data. The roles of this
    collection decide every change from it, so a run after an interrupted one still sees the truth.
  - Reports the file layout, the architecture and container, kernel modules and sysctls, the installed k3s binary
    (version, optional sha256), the C(kubectl)/C(crictl)/C(ctr) commands, airgap images, the systemd unit (active,
    enabled, main process start time, pending reload), the cluster files (etcd data, token files, node password) and
    the state of given files.
  - C(service.restart_reasons) lists why a running k3s must restart, from the host as it is now. k3s reads its
    binary, unit, environment file, C(config.yaml), C(config.yaml.d/), C(registries.yaml), token files and
    containerd templates only when it starts. Each of them changed after the main process started is a reason.
    So is a unit file that systemd has not reloaded yet.
  - Never returns the content or a hash of a file that holds secrets. Those files are reported by existence only.
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  node_type:
    description: The kind of node. It selects the unit, V(k3s) for a server or V(k3s-agent) for an agent.
    type: str
    choices: [server, agent]
    default: server
  gather:
    description:
      - What to report. V(host) is the machine, container, kernel modules and sysctls. V(binary) is the installed
        binary, commands and airgap images. V(service) is the unit and the restart reasons. V(node) is the cluster
        files.
    type: list
    elements: str
    choices: [host, binary, service, node]
    default: [service, node]
  checksum:
    description: Also compute the sha256 of the installed binary (with V(binary) in O(gather)).
    type: bool
    default: false
  env_file_checksum:
    description:
      - Include the sha1 of the unit's environment file in RV(unit_files) (with V(binary) in O(gather)).
      - Leave it off when the file may hold credentials, such as proxy URLs with passwords.
    type: bool
    default: false
  kernel_modules:
    description: Kernel modules to look for in C(/sys/module) (with V(host) in O(gather)).
    type: list
    elements: str
    default: []
  sysctls:
    description: Sysctl keys to read (with V(host) in O(gather)).
    type: list
    elements: str
    default: []
  files:
    description:
      - Files and directories to report as C(mode:owner:group:sha1) (C(directory) instead of a hash for a directory).
      - Do not list files that hold secrets. Their hash would be returned.
    type: list
    elements: path
    default: []
extends_documentation_fragment:
  - edgefleet.k3s._attributes
  - edgefleet.k3s._attributes.READ_ONLY
seealso:
  - module: edgefleet.k3s.k3s_service
  - module: edgefleet.k3s.k3s_config
"""

EXAMPLES = r"""
- name: Probe a server
  edgefleet.k3s.k3s_node_info:
    node_type: server
  register: node

- name: Tell why k3s would restart
  ansible.builtin.debug:
    msg: "{{ node.service.restart_reasons }}"
  when: node.service.restart_reasons | length > 0

- name: Probe the installed binary with its checksum
  edgefleet.k3s.k3s_node_info:
    gather: [binary]
    checksum: true
  register: installed
"""

RETURN = r"""
layout:
  description: Every path the collection uses on a node, by name (C(config_file), C(bin), C(unit_file) and so on).
  returned: always
  type: dict
  sample: {config_file: /etc/rancher/k3s/config.yaml, bin: /usr/local/bin/k3s, unit: k3s}
machine:
  description: C(uname -m) of the host.
  returned: with V(host)
  type: str
  sample: x86_64
container:
  description: The container technology the host runs in (C(systemd-detect-virt --container)), or V(none).
  returned: with V(host)
  type: str
  sample: podman
kernel_modules:
  description: Which of O(kernel_modules) are loaded.
  returned: with V(host)
  type: list
  elements: str
sysctls:
  description: The current value of each of O(sysctls), null when the key does not exist.
  returned: with V(host)
  type: dict
directories:
  description: C(mode:owner:group:directory) of the layout's C(config_dir) and C(dropin_dir), null when missing.
  returned: with V(host)
  type: dict
  sample: {config_dir: "755:root:root:directory", dropin_dir: null}
binary:
  description: The installed binary, C(exists), C(version) (from C(k3s --version)) and C(sha256) (with O(checksum)).
  returned: with V(binary)
  type: dict
  sample: {exists: true, version: v1.36.1+k3s1, sha256: ""}
unit_files:
  description: The state of the layout's C(unit_file) and C(env_file), like RV(files). The env file's hash is empty
    unless O(env_file_checksum=true).
  returned: with V(binary)
  type: dict
  sample: {unit_file: "644:root:root:3f7c0a1e5b6d8c9f0a1b2c3d4e5f60718293a4b5", env_file: null}
commands:
  description: The resolved path of C(kubectl), C(crictl) and C(ctr) on the search path, null when missing.
  returned: with V(binary)
  type: dict
images:
  description: The airgap image tarballs present in the images directory.
  returned: with V(binary)
  type: list
  elements: str
service:
  description:
    - The unit, C(installed), C(active), C(running) (active or starting), C(enabled), C(active_state), C(main_pid),
      C(started_at) (epoch seconds of the main process start), C(need_daemon_reload).
    - C(restart_reasons) lists why the running k3s must restart. It is empty when nothing changed or k3s is stopped.
  returned: with V(service)
  type: dict
  sample: {unit: k3s, active: true, running: true, restart_reasons: ["/usr/local/bin/k3s changed after k3s started"]}
node:
  description:
    - The cluster files, C(etcd_data), C(sqlite_data), C(token_file), C(agent_token_file), C(node_password),
      C(config_file), C(config_joins) (config.yaml names a server to join), C(kubeconfig), C(dropins) (the names
      in C(config.yaml.d)).
  returned: with V(node)
  type: dict
units_installed:
  description: The k3s units (V(k3s), V(k3s-agent)) whose unit file exists on the host.
  returned: always
  type: list
  elements: str
  sample: [k3s]
files:
  description: The state of each of O(files), null when missing.
  returned: always
  type: dict
  sample: {/etc/systemd/system/k3s.service: "644:root:root:3f7c0a1e5b6d8c9f0a1b2c3d4e5f60718293a4b5"}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._node_info import gather  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "node_type": {"type": "str", "choices": ["server", "agent"], "default": "server"},
            "gather": {
                "type": "list",
                "elements": "str",
                "choices": ["host", "binary", "service", "node"],
                "default": ["service", "node"],
            },
            "checksum": {"type": "bool", "default": False},
            "env_file_checksum": {"type": "bool", "default": False},
            "kernel_modules": {"type": "list", "elements": "str", "default": []},
            "sysctls": {"type": "list", "elements": "str", "default": []},
            "files": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv, check_rc=False, environ_update={"LC_ALL": "C"})

    try:
        result = gather(module.params, run)
    except OSError as exc:
        module.fail_json(msg="cannot read the node state: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
