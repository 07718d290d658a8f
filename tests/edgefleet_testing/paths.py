# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where things are, and which k3s releases the tests install (EDGEFLEET_RELEASES / EDGEFLEET_K3S_VERSION, set by
the Makefile from RELEASES= / K3S_VERSION=, so every test also runs against a supplied real k3s release)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASES = Path(os.environ.get("EDGEFLEET_RELEASES") or ROOT / ".build" / "releases")
VERSION = os.environ.get("EDGEFLEET_K3S_VERSION") or "v1.36.1+k3s1"
# The releases the test runtime builds, oldest first (tests/k3s_runtime/releases.yml).
VERSIONS = ("v1.31.5+k3s1", "v1.35.5+k3s1", "v1.36.1+k3s1", "v1.36.2+k3s1")
# The release an upgrade test moves to (RELEASES must hold it too when it is a directory of real releases).
NEXT_VERSION = os.environ.get("EDGEFLEET_K3S_NEXT_VERSION") or (
    VERSIONS[VERSIONS.index(VERSION) + 1] if VERSION in VERSIONS[:-1] else ""
)


def build_releases() -> Path:
    """Make sure RELEASES holds VERSION; the test runtime is built when RELEASES is the default build directory."""
    if not (RELEASES / VERSION / "k3s").is_file():
        if RELEASES != ROOT / ".build" / "releases":
            raise AssertionError(f"{RELEASES}/{VERSION}/k3s does not exist (RELEASES= must hold K3S_VERSION=)")
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "k3s_runtime" / "build.py"), "--out", str(RELEASES)],
            check=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    return RELEASES
