# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke test of the lab through Ansible (what molecule/lab_smoke did): `inventory` prints where it wrote the
inventory; smoke/converge.yml (facts over SSH, hostnames, groups) passes and changes nothing when played again;
smoke/verify.yml (SSH_CONNECTION, systemd running) passes on every host."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgefleet_testing import Run, playbook

pytestmark = pytest.mark.lab
LAB_UP_ARGS = ("--servers", "1", "--lbs", "1", "--agents", "1", "--gpu-agents", "1")
SMOKE = Path(__file__).resolve().parent / "smoke"
HOSTS = {"server-1", "lb-1", "agent-1", "gpu-1"}


def _smoke(lab, name: str) -> Run:
    return playbook(lab.inventory, str(SMOKE / name), timeout=600)


def test_inventory_is_written_where_the_lab_keeps_it(lab):
    assert lab.cli("inventory").stdout.rstrip("\n") == str(lab.inventory)
    assert lab.inventory.is_file()


def test_converge_reaches_every_host_and_sees_the_topology(lab):
    run = _smoke(lab, "converge.yml").ok()
    assert set(run.recap) == {*HOSTS, "localhost"}, run.recap


def test_converge_again_changes_nothing(lab):
    _smoke(lab, "converge.yml").unchanged()


def test_verify_hosts_are_reached_over_ssh_and_run_systemd(lab):
    run = _smoke(lab, "verify.yml").ok()
    assert set(run.recap) == HOSTS, run.recap
