"""Bad load balancer input fails before any host is contacted (every host of the inventory is unreachable: a run that
got past validation would report them UNREACHABLE), and the role's documented defaults match defaults/main.yml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from edgefleet_testing import ROOT, UNREACHABLE, Run, flat, playbook, recap

ROLE = ROOT / "roles" / "loadbalancer"
CONVERGE = str(Path(__file__).with_name("converge.yml"))


def _inventory(tmp_path: Path, servers: int = 2, lbs: int = 2) -> Path:
    def hosts(prefix: str, count: int) -> dict:
        return {f"{prefix}-{i}": dict(UNREACHABLE) for i in range(1, count + 1)}

    inventory = {
        "k3s_cluster": {
            "children": {
                "k3s_servers": {"hosts": hosts("server", servers)},
                "k3s_loadbalancers": {"hosts": hosts("lb", lbs)},
            },
            "vars": {"k3s_lb_vip": "192.0.2.10"},
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def _play(inventory: Path, *args: str) -> Run:
    return playbook(inventory, CONVERGE, *args, timeout=120)


def _converge(tmp_path: Path, extra: dict, **topology) -> tuple[int, str]:
    proc = _play(_inventory(tmp_path, **topology), "-e", json.dumps(extra))
    return proc.returncode, proc.stdout + proc.stderr


def test_valid_input_reaches_the_hosts(tmp_path):
    rc, out = _converge(tmp_path, {})
    assert rc != 0
    counts = recap(out)
    assert counts["lb-1"]["unreachable"] == 1, out[-3000:]
    assert counts["lb-1"]["failed"] == 0, out[-3000:]


@pytest.mark.parametrize(
    ("extra", "topology", "message"),
    [
        ({"k3s_lb_vip": "not-an-ip"}, {}, "k3s_lb_vip must be a free IPv4 address"),
        ({"k3s_lb_vip": ""}, {}, "k3s_lb_vip must be a free IPv4 address"),
        ({"k3s_lb_vip": "10.0.0.256"}, {}, "k3s_lb_vip must be a free IPv4 address"),
        ({"k3s_lb_vip": "127.0.0.1"}, {}, "not the address of a load balancer or a server"),
        ({"k3s_lb_vip_cidr": 33}, {}, "k3s_lb_vip_cidr=33"),
        ({}, {"servers": 0}, "The load balancer needs at least one backend"),
        ({"k3s_lb_backends": [{"address": "10.0.0.1", "port": 70000}]}, {}, "a port from 1 to 65535"),
        ({"k3s_lb_backends": [{"name": "a b", "address": "10.0.0.1"}]}, {}, "a unique name"),
        ({"k3s_lb_virtual_router_id": 300}, {}, "k3s_lb_virtual_router_id 1-255 (got 300)"),
        ({"k3s_lb_priority": 255}, {}, "k3s_lb_priority 0-254 (got 255)"),
        ({"k3s_lb_port": 0}, {}, "ports must be 1-65535"),
        ({"k3s_lb_port": "abc"}, {}, "argument 'k3s_lb_port' is of type str"),
        ({"k3s_lb_healthcheck": "icmp"}, {}, "k3s_lb_healthcheck must be one of: https, tcp"),
        ({"k3s_lb_backends": [{"name": "x"}]}, {}, "missing required arguments: address found in k3s_lb_backends"),
    ],
)
def test_bad_input_fails_before_any_host_is_contacted(tmp_path, extra, topology, message):
    rc, out = _converge(tmp_path, extra, **topology)
    assert rc != 0
    counts = recap(out)
    assert counts["lb-1"]["unreachable"] == 0, f"validation let {extra} through: {out[-3000:]}"
    assert counts["lb-1"]["failed"] == 1
    assert message in flat(out), out[-3000:]


def test_vrrp_peers_must_be_addresses(tmp_path):
    inventory = _inventory(tmp_path)
    data = yaml.safe_load(inventory.read_text())
    data["k3s_cluster"]["children"]["k3s_loadbalancers"]["hosts"]["lb-2"]["ansible_host"] = "localhost"
    inventory.write_text(yaml.safe_dump(data))
    proc = _play(inventory)
    assert proc.returncode != 0
    assert "VRRP unicast needs the ansible_host of every load balancer to be an IPv4 address" in flat(proc.stdout)


def test_load_balancer_on_a_k3s_server_needs_another_port(tmp_path):
    inventory = _inventory(tmp_path)
    data = yaml.safe_load(inventory.read_text())
    children = data["k3s_cluster"]["children"]
    children["k3s_servers"]["hosts"]["lb-1"] = dict(UNREACHABLE)
    inventory.write_text(yaml.safe_dump(data))
    proc = _play(inventory)
    assert proc.returncode != 0
    assert recap(proc.stdout)["lb-1"]["unreachable"] == 0
    assert "lb-1 is also a k3s node" in flat(proc.stdout)
    other = _play(inventory, "-e", "k3s_lb_port=7443")
    assert recap(other.stdout)["lb-1"]["unreachable"] == 1, other.stdout[-3000:]


def test_long_vrrp_password_is_refused_without_showing_it(tmp_path):
    secret = "Sup3rS3cretPassw0rd"
    rc, out = _converge(tmp_path, {"k3s_lb_auth_pass": secret})
    assert rc != 0
    assert recap(out)["lb-1"]["unreachable"] == 0
    assert secret not in out


def test_argument_spec_defaults_mirror_defaults_file():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert {name: opt["default"] for name, opt in spec.items() if "default" in opt} == defaults
    for name, opt in spec.items():
        assert name.startswith("k3s_lb_"), name
        assert opt.get("description") and opt.get("type"), name
