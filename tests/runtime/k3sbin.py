# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every contract suite (core, api, etcd, containerd, lab) shares: which k3s it tests, and tool checks.

* ``EDGEFLEET_K3S_BIN=/path/to/k3s`` runs the suites against that executable (a real k3s release, or a built
  stand-in zipapp) instead of ``python -m k3srt`` and in-process imports. Tests that can only hold for the stand-in
  (they drive its Python internals or its test-only knobs) have ``standin`` in their test or module name and are
  skipped, with that reason, while the variable is set. Everything else runs against the binary.
* ``CI=true``: a missing tool (etcd, kubectl, podman) fails the run instead of skipping (skips are not passes).
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

ENV = "EDGEFLEET_K3S_BIN"
REAL = os.environ.get(ENV) or None
RUNTIME = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "k3s_runtime"))
STANDIN_REASON = f"holds only for the k3s stand-in ({ENV} is set, so the suite tests that binary)"


def command() -> list[str]:
    """argv prefix that runs `k3s`: the binary under test, else the stand-in from the source tree."""
    if REAL:
        return [REAL]
    return [sys.executable, "-m", "k3srt"]


def is_real() -> bool:
    return REAL is not None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_standin(request) -> None:
    """Autouse-fixture body: skip a test whose name says it only holds for the stand-in, when a binary is tested."""
    if REAL and ("standin" in request.node.name or "standin" in os.path.basename(str(request.node.fspath))):
        pytest.skip(STANDIN_REASON)


def require_tools(*tools: str, why: str) -> None:
    """Module-level guard: skip when a tool is missing, but fail under CI=true."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed: {why}"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def tool_or_fail(tool: str, why: str) -> str:
    """A tool a single test needs: its path, a skip when missing, a failure under CI=true."""
    path = shutil.which(tool)
    if path:
        return path
    if in_ci():
        pytest.fail(f"CI=true and {tool} is not installed: {why}", pytrace=False)
    pytest.skip(f"{tool} is not installed: {why}")
