# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throw-away inventories whose hosts cannot be reached, for tests that must fail before any host is touched."""

from __future__ import annotations

from pathlib import Path

import yaml

# SSH to 127.0.0.1 port 1 is refused at once: a playbook that got past validation reports these hosts UNREACHABLE.
UNREACHABLE = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "nobody"}


def make_inventory(
    tmp_path: Path,
    servers: int = 3,
    agents: int = 1,
    gpu_agents: int = 0,
    lbs: int = 1,
    cluster_vars: dict | None = None,
    group_vars: dict[str, dict] | None = None,
    host_vars: dict[str, dict] | None = None,
    under_cluster: bool = True,
) -> Path:
    """Write an inventory with the lab's group names; every host is unreachable.

    With ``under_cluster=False`` the groups are top-level (not children of k3s_cluster) and the cluster variables
    are set on ``all``.
    """

    def hosts(prefix: str, count: int) -> dict:
        return {f"{prefix}-{i}": dict(UNREACHABLE) for i in range(1, count + 1)}

    groups = {
        "k3s_servers": hosts("server", servers),
        "k3s_agents": hosts("agent", agents),
        "k3s_gpu_agents": hosts("gpu", gpu_agents),
        "k3s_loadbalancers": hosts("lb", lbs),
    }
    for host, values in (host_vars or {}).items():
        for members in groups.values():
            if host in members:
                members[host].update(values)
    children = {}
    for name, members in groups.items():
        children[name] = {"hosts": members or {}}
        if (group_vars or {}).get(name):
            children[name]["vars"] = group_vars[name]
    base_vars = {"k3s_version": "v1.36.1+k3s1", "k3s_release_base_url": "http://192.0.2.2"}
    if lbs:
        base_vars.update(k3s_lb_vip="192.0.2.10", k3s_api_endpoint="192.0.2.10")
    base_vars.update(cluster_vars or {})
    base_vars = {k: v for k, v in base_vars.items() if v is not None}
    if under_cluster:
        inventory = {"k3s_cluster": {"children": children, "vars": base_vars}}
    else:
        inventory = {"all": {"children": children, "vars": base_vars}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path
