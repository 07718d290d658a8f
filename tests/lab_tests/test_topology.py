# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host names and addresses follow docs/dev/architecture.md (no podman needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from edgefleet_lab import inventory, topology  # noqa: E402
from edgefleet_lab.state import Lab  # noqa: E402


def test_default_topology_names_and_addresses():
    hosts = {h.name: (h.role, h.octet) for h in topology.hosts({})}
    assert hosts == {
        "mirror": ("mirror", 2),
        "lb-1": ("lb", 11),
        "server-1": ("server", 20),
        "server-2": ("server", 21),
        "server-3": ("server", 22),
        "agent-1": ("agent", 100),
        "agent-2": ("agent", 101),
        "gpu-1": ("gpu", 200),
    }
    assert [h.name for h in topology.hosts({}) if h.privileged] == ["gpu-1"]


def test_address_ranges_hold_at_capacity():
    hosts = topology.hosts({"servers": 40, "agents": 100, "gpu_agents": 40, "lbs": 9})
    by_role = {}
    for h in hosts:
        by_role.setdefault(h.role, []).append(h.octet)
    assert (min(by_role["lb"]), max(by_role["lb"])) == (11, 19)
    assert (min(by_role["server"]), max(by_role["server"])) == (20, 59)
    assert (min(by_role["agent"]), max(by_role["agent"])) == (100, 199)
    assert (min(by_role["gpu"]), max(by_role["gpu"])) == (200, 239)
    assert len({h.octet for h in hosts}) == len(hosts)


@pytest.mark.parametrize("counts", [{"servers": 0}, {"lbs": 10}, {"agents": 101}, {"gpu_agents": -1}])
def test_impossible_topologies_are_refused(counts):
    with pytest.raises(ValueError):
        topology.hosts(counts)


def test_inventory_without_load_balancer_has_no_vip():
    lab = Lab("unit-topology")
    hosts = topology.hosts({"servers": 1, "agents": 0, "gpu_agents": 0, "lbs": 0})
    state = {"prefix": "10.89.7", "hosts": {h.name: {"role": h.role, "ip": f"10.89.7.{h.octet}"} for h in hosts}}
    cluster = inventory.build(lab, state)["all"]["children"]["k3s_cluster"]
    assert "k3s_lb_vip" not in cluster["vars"]
    assert "k3s_api_endpoint" not in cluster["vars"]
    assert cluster["vars"]["k3s_release_base_url"] == "http://10.89.7.2"
    assert set(cluster["children"]["k3s_servers"]["hosts"]) == {"server-1"}
    assert cluster["children"]["k3s_loadbalancers"]["hosts"] == {}
