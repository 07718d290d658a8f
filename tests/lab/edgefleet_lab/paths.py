"""Where the lab keeps things: repository root, per-lab state directory, podman configuration."""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
LAB_DIR = PACKAGE_DIR.parent
REPO_ROOT = LAB_DIR.parent.parent
CONTAINERS_CONF = LAB_DIR / "containers.conf"


def state_root() -> Path:
    """Directory holding every lab's state (`.lab/` at the repository root unless EDGEFLEET_LAB_STATE is set)."""
    return Path(os.environ.get("EDGEFLEET_LAB_STATE", REPO_ROOT / ".lab")).resolve()


def lab_dir(lab: str) -> Path:
    return state_root() / lab
