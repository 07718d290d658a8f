"""Fixtures for the role and playbook tests."""

from __future__ import annotations

import pytest
from roles_helpers import ansible_environment


@pytest.fixture(scope="session")
def ansible_env() -> dict[str, str]:
    return ansible_environment()
