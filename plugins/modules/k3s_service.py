#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_service
short_description: Start or restart k3s and wait until it works, failing early when it never will
version_added: 0.2.0
description:
  - Enables and starts (or restarts) the k3s unit of a server or agent. It reloads systemd first when the unit file
    changed on disk.
  - The unit is started without blocking and then watched until systemd reports it active, which k3s signals once it
    runs. A k3s that cannot join retries for ever, for example an agent with a wrong token. The module then reads
    the journal of this start. When a failure that no retry can fix shows up more than once after O(fail_fast)
    seconds, it fails with k3s's own message. Such failures are a refused token, a CA hash of another cluster,
    a rejected node password and fatal errors.
  - On a server, with O(node_name), it also waits until that node is Ready on O(version) and, with
    O(etcd_voter=true), a voting etcd member. It reads these through the local API.
  - "Run the task with C(throttle: 1) to restart servers one at a time, each one healthy before the next."
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  node_type:
    description: The kind of node, V(server) (unit C(k3s)) or V(agent) (unit C(k3s-agent)).
    type: str
    choices: [server, agent]
    default: server
  state:
    description: V(started) starts k3s when it is not active. V(restarted) always restarts it.
    type: str
    choices: [started, restarted]
    default: started
  enabled:
    description: Enable the unit so that it starts at boot.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the unit to become active, and then for the node.
    type: int
    default: 600
  fail_fast:
    description:
      - Seconds after the start from which a permanent failure in the journal ends the wait.
      - The same is used for a node that keeps reporting another kubelet version than O(version).
    type: int
    default: 20
  delay:
    description: Seconds between two checks.
    type: float
    default: 1.0
  reasons:
    description: Why k3s is restarted, shown in RV(msg). The roles pass what M(edgefleet.k3s.k3s_node_info) found.
    type: list
    elements: str
    default: []
  node_name:
    description: Servers only. After the start, wait until this node is Ready through the local API.
    type: str
  version:
    description: With O(node_name), the kubelet version the node must report, for example V(v1.36.1+k3s1).
    type: str
  etcd_voter:
    description: With O(node_name), also wait until the node is a voting member of the embedded etcd.
    type: bool
    default: false
extends_documentation_fragment:
  - edgefleet.k3s._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports what it would do (RV(actions)) without doing it.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - With O(state=restarted) it restarts every time. The roles ask for a restart only when something changed.
seealso:
  - module: edgefleet.k3s.k3s_node_info
  - module: edgefleet.k3s.k3s_cluster_status
"""

EXAMPLES = r"""
- name: Restart the servers one at a time, each Ready and voting before the next
  edgefleet.k3s.k3s_service:
    node_type: server
    state: restarted
    node_name: "{{ k3s_node_name }}"
    version: "{{ k3s_version }}"
    etcd_voter: true
  throttle: 1

- name: Start an agent; a wrong token fails after about 20 seconds with k3s's own message
  edgefleet.k3s.k3s_service:
    node_type: agent
"""

RETURN = r"""
actions:
  description: What was done, or in check mode what would be done, in order.
  returned: success
  type: list
  elements: str
  choices: [daemon-reload, enable, restart, start]
  sample: [daemon-reload, restart]
msg:
  description: What was done and why.
  returned: success
  type: str
  sample: "restart because /usr/local/bin/k3s changed after k3s started"
waited:
  description: Seconds from the start until the unit (and the node) was ready.
  returned: when k3s was started or restarted
  type: float
  sample: 6.2
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._cluster import ClusterReader  # noqa: E402
from ansible_collections.edgefleet.k3s.plugins.module_utils._layout import layout  # noqa: E402
from ansible_collections.edgefleet.k3s.plugins.module_utils._service import (  # noqa: E402
    ServiceError,
    ServiceManager,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "node_type": {"type": "str", "choices": ["server", "agent"], "default": "server"},
            "state": {"type": "str", "choices": ["started", "restarted"], "default": "started"},
            "enabled": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 600},
            "fail_fast": {"type": "int", "default": 20},
            "delay": {"type": "float", "default": 1.0},
            "reasons": {"type": "list", "elements": "str", "default": []},
            "node_name": {"type": "str"},
            "version": {"type": "str"},
            "etcd_voter": {"type": "bool", "default": False},
        },
        required_by={"version": "node_name"},
        supports_check_mode=True,
    )
    params = dict(module.params)
    paths = layout(params["node_type"])
    params["unit"] = paths["unit"]
    if params["node_name"] and params["node_type"] != "server":
        module.fail_json(msg="node_name waits through the local API, which only a server has")

    def systemctl(args):
        return module.run_command(["systemctl", *args], check_rc=False, environ_update={"LC_ALL": "C"})

    def journal(unit, since):
        rc, out, _err = module.run_command(
            ["journalctl", "--unit", unit, "--since", "@%d" % int(since), "--output", "cat", "--no-pager"],
            check_rc=False,
        )
        return out.splitlines()[-400:] if rc == 0 else []

    read_cluster = None
    if params["node_name"]:
        reader = ClusterReader(paths["kubeconfig"])

        def read_cluster():
            return reader.nodes(), (reader.members() if params["etcd_voter"] else None)

    try:
        result = ServiceManager(params, systemctl, journal, read_cluster).run(module.check_mode)
        if result["actions"]:
            why = (" because " + "; ".join(params["reasons"])) if params["reasons"] else ""
            result.setdefault("msg", "%s%s" % (", ".join(result["actions"]), why))
    except ServiceError as exc:
        module.fail_json(msg="%s on %s" % (exc, params["node_name"] or paths["unit"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
