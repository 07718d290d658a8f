# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the lab's own tests: every test module brings up its own small lab and always tears it down."""

from __future__ import annotations

import os

import pytest
from edgefleet_testing import Lab


def _module_lab(request) -> Lab:
    """A lab named after the test module and this process; `down` runs in a finalizer whatever happens next."""
    short = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:12].replace("_", "-")
    lab = Lab(f"lt-{short}-{os.getpid()}")
    request.addfinalizer(lab.down)
    return lab


@pytest.fixture(scope="module")
def lab(request) -> Lab:
    """The test module's own lab: `up` with the module's LAB_UP_ARGS; `down` runs even when `up` fails."""
    lab = _module_lab(request)
    lab.cli("up", *getattr(request.module, "LAB_UP_ARGS", ("--servers", "1", "--agents", "1")))
    return lab


@pytest.fixture(scope="module")
def unstarted_lab(request) -> Lab:
    """A lab name for the module that is not up yet (the test drives up/down itself); always torn down."""
    return _module_lab(request)
