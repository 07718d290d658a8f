#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_node
short_description: Remove a node object from a k3s cluster, and its etcd member with it
version_added: 0.2.0
description:
  - Runs on a k3s server and deletes the Node object O(name) through the Kubernetes API with the admin kubeconfig.
  - k3s then removes the node's password secret and, for a server, its embedded etcd member. With
    O(wait_member_removed=true) the module waits until C(/db/info) no longer lists a member of that node.
  - The roles use it when a node was rebuilt from scratch. k3s refuses such a node under its old name while the
    old Node object and its password secret exist.
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  name:
    description: The node name.
    type: str
    required: true
  state:
    description: Only V(absent) is supported.
    type: str
    choices: [absent]
    default: absent
  wait_member_removed:
    description: Wait until no embedded etcd member of this node is left.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait_member_removed).
    type: int
    default: 120
  timeout:
    description: Timeout of each HTTP request in seconds.
    type: int
    default: 10
  kubeconfig:
    description: The admin kubeconfig k3s writes on a server.
    type: path
    default: /etc/rancher/k3s/k3s.yaml
extends_documentation_fragment:
  - edgefleet.k3s._attributes
  - edgefleet.k3s._attributes.API_GROUP
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Remove the stale node object of a rebuilt server
  edgefleet.k3s.k3s_node:
    name: server-2
    wait_member_removed: true
  delegate_to: server-1
"""

RETURN = r"""
existed:
  description: Whether the node object existed.
  returned: success
  type: bool
"""

import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._cluster import ClusterReader  # noqa: E402
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import (  # noqa: E402
    KubeAPIError,
    KubeClient,
    resource_path,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["absent"], "default": "absent"},
            "wait_member_removed": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 120},
            "timeout": {"type": "int", "default": 10},
            "kubeconfig": {"type": "path", "default": "/etc/rancher/k3s/k3s.yaml"},
        },
        supports_check_mode=True,
    )
    p = module.params
    path = resource_path("v1", "nodes", p["name"])
    try:
        with KubeClient.from_kubeconfig(p["kubeconfig"], timeout=p["timeout"]) as client:
            existed = client.get(path, missing_ok=True) is not None
            if existed and not module.check_mode:
                client.delete(path)
        if existed and p["wait_member_removed"] and not module.check_mode:
            reader = ClusterReader(p["kubeconfig"], timeout=p["timeout"])
            deadline = time.monotonic() + p["wait_timeout"]
            while any(m["node"] == p["name"] for m in reader.members() or []):
                if time.monotonic() >= deadline:
                    module.fail_json(
                        msg="the etcd member of %s is still listed after %ss" % (p["name"], p["wait_timeout"])
                    )
                time.sleep(1)
    except KubeAPIError as exc:
        module.fail_json(msg="cannot remove node %s: %s" % (p["name"], exc))
    module.exit_json(changed=existed, existed=existed)


if __name__ == "__main__":
    main()
