"""Clear errors when this machine lacks a tool the lab needs (instead of a traceback deep inside)."""

import os
import shutil

NEEDS = {
    "image": {"podman": "podman", "debootstrap": "debootstrap", "chroot": "coreutils", "tar": "tar"},
    "up": {"podman": "podman", "ssh": "openssh-client", "ssh-keygen": "openssh-client", "iptables": "iptables"},
}


def check(verb: str) -> None:
    missing = sorted({pkg for tool, pkg in NEEDS.get(verb, {}).items() if not _found(tool)})
    if missing:
        raise SystemExit(
            f"edgefleet_lab {verb}: missing tools; install them with: apt-get install -y {' '.join(missing)}"
        )
    if os.geteuid() != 0:
        raise SystemExit(f"edgefleet_lab {verb}: the lab runs rootful podman; run it as root")


def _found(tool: str) -> bool:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return shutil.which(tool, path=path) is not None
