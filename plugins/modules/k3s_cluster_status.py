#!/usr/bin/python
# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k3s_cluster_status
short_description: Report the nodes and etcd members of a k3s cluster, and wait until they are as wanted
version_added: 0.2.0
description:
  - Runs on a k3s server. Lists the nodes through the Kubernetes API with the admin kubeconfig, and the embedded
    etcd members from the server's C(/db/info) on its loopback.
  - Checks them against what is wanted. Every node of O(nodes) must exist and be Ready. Each must run O(version),
    the kubelet version a node reports. Every node of O(voters) must be a voting etcd member.
  - With O(wait_timeout) it polls until the cluster is as wanted. When the time is up and O(fail=true), it fails
    with one message that names every node and its problem.
author:
  - edgefleet.k3s maintainers (@edgefleet)
options:
  api_url:
    description:
      - The API to list the nodes through, for example the load balancer C(https://10.0.0.10:6443).
      - Defaults to the server in the kubeconfig (the local server). etcd members are always read locally.
    type: str
  kubeconfig:
    description: The admin kubeconfig k3s writes on a server.
    type: path
    default: /etc/rancher/k3s/k3s.yaml
  nodes:
    description: Node names that must exist and be Ready.
    type: list
    elements: str
    default: []
  version:
    description: The kubelet version every node of O(nodes) must report, for example V(v1.36.1+k3s1).
    type: str
  voters:
    description: Node names that must be voting members of the embedded etcd (ignored without embedded etcd).
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for the cluster to be as wanted. V(0) checks once.
    type: int
    default: 0
  delay:
    description: Seconds between two checks while waiting.
    type: float
    default: 1.0
  fail:
    description: Fail when the cluster is not as wanted in the end. With V(false) only RV(problems) tells.
    type: bool
    default: true
  timeout:
    description: Timeout of each HTTP request in seconds.
    type: int
    default: 10
extends_documentation_fragment:
  - edgefleet.k3s._attributes
  - edgefleet.k3s._attributes.READ_ONLY
  - edgefleet.k3s._attributes.API_GROUP
seealso:
  - module: edgefleet.k3s.k3s_service
"""

EXAMPLES = r"""
- name: Wait until the agents are Ready on the pinned version
  edgefleet.k3s.k3s_cluster_status:
    nodes: [agent-1, agent-2]
    version: v1.36.1+k3s1
    wait_timeout: 300
  delegate_to: server-1
  run_once: true

- name: Report the cluster through the load balancer, without failing
  edgefleet.k3s.k3s_cluster_status:
    api_url: https://10.0.0.10:6443
    fail: false
  register: cluster
"""

RETURN = r"""
nodes:
  description: Every node, with C(name), C(ready), C(status), C(version), C(roles), C(ip), C(unschedulable), C(gpus).
  returned: when the API answered
  type: list
  elements: dict
  sample: [{name: server-1, ready: true, status: Ready, version: v1.36.1+k3s1, roles: [control-plane, etcd]}]
members:
  description: The etcd members with C(name), C(node), C(voter), C(peer). Null without embedded etcd.
  returned: when the API answered
  type: list
  elements: dict
problems:
  description: >-
    Kinds of problems (C(missing), C(not_ready), C(wrong_version), C(not_voting), C(unreachable)) to the nodes
    they concern. Empty when the cluster is as wanted.
  returned: always
  type: dict
  sample: {wrong_version: [agent-1]}
healthy:
  description: Whether RV(problems) is empty.
  returned: always
  type: bool
error:
  description: The last error of the API while it did not answer (RV(problems) has V(unreachable) then).
  returned: when the API did not answer
  type: str
  sample: "GET /api/v1/nodes failed: [Errno 111] Connection refused"
api_url:
  description: The API the nodes were listed through.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.edgefleet.k3s.plugins.module_utils._cluster import (  # noqa: E402
    ClusterReader,
    describe,
    problems,
    wait_until,
)
from ansible_collections.edgefleet.k3s.plugins.module_utils._kubeapi import KubeAPIError  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "api_url": {"type": "str"},
            "kubeconfig": {"type": "path", "default": "/etc/rancher/k3s/k3s.yaml"},
            "nodes": {"type": "list", "elements": "str", "default": []},
            "version": {"type": "str"},
            "voters": {"type": "list", "elements": "str", "default": []},
            "wait_timeout": {"type": "int", "default": 0},
            "delay": {"type": "float", "default": 1.0},
            "fail": {"type": "bool", "default": True},
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    p = module.params
    reader = ClusterReader(p["kubeconfig"], api_url=p["api_url"], timeout=p["timeout"])

    def read():
        return reader.nodes(), reader.members()

    def check(state):
        rows, members = state
        return problems(rows, members, nodes=p["nodes"], version=p["version"], voters=p["voters"])

    try:
        state, found, error = wait_until(read, check, p["wait_timeout"], delay=p["delay"])
    except KubeAPIError as exc:  # pragma: no cover - wait_until keeps API errors
        module.fail_json(msg=str(exc))
    result = {"changed": False, "problems": found, "healthy": not found, "api_url": p["api_url"] or "(kubeconfig)"}
    if state is not None:
        result["nodes"], result["members"] = state
    if error and "unreachable" in found:
        result["error"] = error
    if found and p["fail"]:
        text = describe({k: v for k, v in found.items() if k != "unreachable"}, p["version"])
        if "unreachable" in found:
            text = "the API did not answer: %s" % error
        module.fail_json(msg="The cluster is not as wanted after %ss: %s" % (p["wait_timeout"], text), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
