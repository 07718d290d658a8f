# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""up is idempotent and follows topology changes; down leaves no container, network or state behind."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.lab


def _containers(lab, prefix: str) -> set[str]:
    out = lab.podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    return {n for n in out if n.startswith(prefix)}


def _networks(lab, prefix: str) -> set[str]:
    return {n for n in lab.podman("network", "ls", "--format", "{{.Name}}").stdout.split() if n.startswith(prefix)}


def _ids(lab) -> dict[str, str]:
    out = lab.podman("ps", "--filter", f"label=edgefleet.lab={lab.name}", "--format", "json").stdout
    return {row["Names"][0]: row["Id"] for row in json.loads(out or "[]")}


def test_up_topology_change_and_down(unstarted_lab):
    lab = unstarted_lab
    prefix = f"{lab.name}-"
    assert _containers(lab, prefix) == set()

    lab.cli("up", "--servers", "1", "--agents", "1", "--gpu-agents", "0", "--lbs", "0")
    assert _containers(lab, prefix) == {f"{prefix}mirror", f"{prefix}server-1", f"{prefix}agent-1"}
    assert _networks(lab, prefix) == {f"{prefix}net"}
    assert (lab.dir / "id_ed25519").stat().st_mode & 0o777 == 0o600
    first = _ids(lab)

    # unchanged topology: nothing is re-created
    lab.cli("up")
    assert _ids(lab) == first

    # topology change: agent-1 goes, lb-1 comes, the others are kept as they are
    lab.cli("up", "--agents", "0", "--lbs", "1")
    now = _ids(lab)
    assert set(now) == {f"{prefix}mirror", f"{prefix}server-1", f"{prefix}lb-1"}
    assert now[f"{prefix}server-1"] == first[f"{prefix}server-1"]
    assert lab.ssh("lb-1", "hostname").stdout.strip() == "lb-1"
    assert lab.state["topology"] == {"servers": 1, "agents": 0, "gpu_agents": 0, "lbs": 1}

    lab.cli("down")
    assert _containers(lab, prefix) == set()
    assert _networks(lab, prefix) == set()
    assert not lab.dir.exists()
    # a second down is harmless
    lab.cli("down")
