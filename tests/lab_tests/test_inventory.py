# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated inventory matches the topology, and Ansible reaches every host through it over SSH."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from edgefleet_testing import adhoc, ansible_env

pytestmark = pytest.mark.lab
LAB_UP_ARGS = ("--servers", "2", "--agents", "1", "--gpu-agents", "1", "--lbs", "1")
EXPECTED = {
    "k3s_servers": {"server-1", "server-2"},
    "k3s_agents": {"agent-1"},
    "k3s_gpu_agents": {"gpu-1"},
    "k3s_loadbalancers": {"lb-1"},
}
ANSIBLE_BIN = Path(sys.executable).parent


def test_inventory_groups_and_vars_match_the_topology(lab, tmp_path):
    out = tmp_path / "inv.yml"
    lab.cli("inventory", "--output", str(out))
    inv = yaml.safe_load(out.read_text())
    cluster = inv["all"]["children"]["k3s_cluster"]
    groups = {name: set((g or {}).get("hosts") or {}) for name, g in cluster["children"].items()}
    assert groups == EXPECTED

    prefix = lab.state["prefix"]
    assert cluster["vars"]["k3s_release_base_url"] == f"http://{prefix}.2"
    assert cluster["vars"]["k3s_lb_vip"] == f"{prefix}.10"
    assert cluster["vars"]["k3s_api_endpoint"] == f"{prefix}.10"
    assert cluster["vars"]["lab_name"] == lab.name
    server = cluster["children"]["k3s_servers"]["hosts"]["server-1"]
    assert server["ansible_host"] == f"{prefix}.20"
    assert server["ansible_user"] == "root"
    assert Path(server["ansible_ssh_private_key_file"]).stat().st_mode & 0o777 == 0o600
    assert cluster["children"]["k3s_gpu_agents"]["hosts"]["gpu-1"]["ansible_host"] == f"{prefix}.200"
    assert cluster["children"]["k3s_loadbalancers"]["hosts"]["lb-1"]["ansible_host"] == f"{prefix}.11"
    assert cluster["children"]["k3s_agents"]["hosts"]["agent-1"]["ansible_host"] == f"{prefix}.100"


def test_ansible_inventory_parses_it(lab):
    proc = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(lab.inventory), "--list"],
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["k3s_cluster"]["children"]) == set(EXPECTED)
    for group, hosts in EXPECTED.items():
        assert set(data[group]["hosts"]) == hosts


def test_ansible_reaches_every_host_over_ssh(lab):
    proc = adhoc(lab.inventory, "k3s_cluster", "ansible.builtin.command", "hostname", "-o", timeout=300)
    assert proc.returncode == 0, proc.output
    answered = {}
    for line in proc.stdout.splitlines():
        if " | CHANGED | rc=0 | (stdout) " in line:
            name, _, rest = line.partition(" | CHANGED | rc=0 | (stdout) ")
            answered[name.strip()] = rest.strip()
    assert answered == {h: h for hosts in EXPECTED.values() for h in hosts}


def test_ssh_config_names_every_host(lab):
    text = lab.cli("ssh-config").stdout
    for host, entry in lab.state["hosts"].items():
        assert f"Host {host} " in text
        assert f"HostName {entry['ip']}" in text
