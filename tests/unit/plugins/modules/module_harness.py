# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a module's main() in a unit test: exit_json/fail_json raise (fixture patched_exits in conftest.py),
and the test asserts on what they got."""

from __future__ import annotations

import pytest
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, module, result):
        super().__init__(result)
        self.module = module
        self.result = result


class ModuleFail(ModuleExit):
    pass


def runner(module):
    """``(run_module, run)`` for MODULE: run_module returns (result, AnsibleModule), run only the result."""

    def run_module(args, expect=ModuleExit):
        with patch_module_args(args), pytest.raises(ModuleExit) as err:
            module.main()
        assert isinstance(err.value, ModuleFail) == (expect is ModuleFail), err.value.result
        return err.value.result, err.value.module

    def run(args, expect=ModuleExit):
        return run_module(args, expect)[0]

    return run_module, run
