# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault verbs: stop/start power a host off and on, isolate/heal cut and restore its network."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.lab
LAB_UP_ARGS = ("--servers", "1", "--agents", "1", "--gpu-agents", "0", "--lbs", "0")


def test_hosts_answer_ssh_with_their_hostname(lab):
    for host in ("server-1", "agent-1"):
        proc = lab.ssh(host, "hostname")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == host


def test_exec_returns_the_command_status_and_output(lab):
    ok = lab.sh("agent-1", "sh", "-c", "echo out-$(hostname); exit 3", check=False)
    assert ok.returncode == 3
    assert ok.stdout.strip() == "out-agent-1"


def test_stopped_host_is_unreachable_and_start_brings_it_back(lab):
    lab.cli("stop", "agent-1")
    assert lab.ssh("agent-1", "true").returncode != 0
    status = lab.cli("status").stdout
    assert any(line.split()[:1] == ["agent-1"] and "exited" in line for line in status.splitlines()), status

    lab.cli("start", "agent-1")
    proc = lab.ssh("agent-1", "systemctl", "is-system-running")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "running"


def test_isolated_host_is_unreachable_from_another_host_and_heal_restores_it(lab):
    agent_ip = lab.ip("agent-1")
    before = lab.sh("server-1", "ping", "-c", "1", "-W", "2", agent_ip, check=False)
    assert before.returncode == 0, before.stdout + before.stderr

    lab.cli("isolate", "agent-1")
    cut = lab.sh("server-1", "ping", "-c", "1", "-W", "2", agent_ip, check=False)
    assert cut.returncode != 0
    assert lab.ssh("agent-1", "true").returncode != 0
    assert "isolated" in next(line for line in lab.cli("status").stdout.splitlines() if line.startswith("agent-1"))

    lab.cli("heal", "agent-1")
    after = lab.sh("server-1", "ping", "-c", "1", "-W", "2", agent_ip, check=False)
    assert after.returncode == 0, after.stdout + after.stderr
    # same address, same name resolution for the other hosts
    assert lab.sh("server-1", "getent", "hosts", "agent-1", check=False).stdout.split()[0] == agent_ip
    assert lab.ssh("agent-1", "hostname").stdout.strip() == "agent-1"


def test_partition_cuts_only_the_named_peers_and_unpartition_restores(lab):
    server_ip, agent_ip, mirror_ip = lab.ip("server-1"), lab.ip("agent-1"), lab.ip("mirror")
    lab.cli("partition", "server-1", "--from", "agent-1")
    try:
        assert lab.sh("agent-1", "ping", "-c", "1", "-W", "2", server_ip, check=False).returncode != 0
        assert lab.sh("server-1", "ping", "-c", "1", "-W", "2", agent_ip, check=False).returncode != 0
        # other peers and this machine still reach server-1
        assert lab.sh("server-1", "ping", "-c", "1", "-W", "2", mirror_ip, check=False).returncode == 0
        assert lab.ssh("server-1", "true").returncode == 0
    finally:
        lab.cli("unpartition", "server-1")
    assert lab.sh("agent-1", "ping", "-c", "1", "-W", "2", server_ip, check=False).returncode == 0


def test_rebuild_gives_a_fresh_host_with_the_same_name_and_address(lab):
    ip = lab.ip("agent-1")
    lab.sh("agent-1", "sh", "-c", "echo old-disk > /var/tmp/marker")
    before = lab.podman("inspect", "--format", "{{.Id}}", lab.container("agent-1")).stdout.strip()
    lab.cli("rebuild", "agent-1")
    after = lab.podman("inspect", "--format", "{{.Id}}", lab.container("agent-1")).stdout.strip()
    assert after and after != before, "rebuild kept the old container"
    assert lab.ip("agent-1") == ip
    assert lab.sh("agent-1", "cat", "/var/tmp/marker", check=False).returncode != 0, "the old disk survived"
    assert lab.ssh("agent-1", "hostname").stdout.strip() == "agent-1"
    assert lab.sh("server-1", "ping", "-c", "1", "-W", "2", ip, check=False).returncode == 0
