# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the module tests."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic
from module_harness import ModuleExit, ModuleFail


@pytest.fixture
def patched_exits(monkeypatch):
    def exit_json(self, **kwargs):
        raise ModuleExit(self, kwargs)

    def fail_json(self, **kwargs):
        raise ModuleFail(self, kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
