# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role documents its variables in meta/argument_specs.yml; the defaults there must equal defaults/main.yml."""

from __future__ import annotations

import pytest
import yaml
from edgefleet_testing import ROOT

ROLES = ("prereq", "runtime", "server", "agent", "loadbalancer", "validate", "node")


def _spec_options(role: str) -> dict:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"].get("options") or {}


def _defaults(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_mirror_defaults_file(role: str) -> None:
    options = _spec_options(role)
    defaults = _defaults(role)
    documented = {name: opt["default"] for name, opt in options.items() if "default" in opt}
    assert documented == defaults, f"roles/{role}: argument_specs defaults differ from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_described_and_typed(role: str) -> None:
    for name, opt in _spec_options(role).items():
        assert name.startswith("k3s_"), f"roles/{role}: public variable {name} lacks the k3s_ prefix"
        assert opt.get("description"), f"roles/{role}: {name} has no description"
        assert opt.get("type"), f"roles/{role}: {name} has no type"
        if opt["type"] == "list":
            assert opt.get("elements"), f"roles/{role}: list option {name} has no elements"
        if opt.get("required"):
            assert "default" not in opt, f"roles/{role}: required option {name} has a default"


def test_shared_variables_agree_across_roles() -> None:
    seen: dict[str, tuple[str, dict]] = {}
    for role in ROLES:
        for name, opt in _spec_options(role).items():
            if name in seen:
                other_role, other = seen[name]
                for key in ("type", "default", "choices", "elements"):
                    assert opt.get(key) == other.get(key), f"{name}.{key} differs between {other_role} and {role}"
            else:
                seen[name] = (role, opt)
