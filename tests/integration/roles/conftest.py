# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the role and playbook tests."""

from __future__ import annotations

import pytest
from roles_helpers import ansible_environment


@pytest.fixture(scope="session")
def ansible_env() -> dict[str, str]:
    return ansible_environment()
