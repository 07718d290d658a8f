"""Per-lab state kept in .lab/<lab>/: state.json, the SSH key pair, the mirror tree, the generated inventory."""

import fcntl
import json
import os
import re
import subprocess
from contextlib import contextmanager
from pathlib import Path

from edgefleet_lab import paths

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
LABEL = "edgefleet.lab"


class Lab:
    """Names and files of one lab."""

    def __init__(self, name: str):
        if not NAME_RE.match(name):
            raise ValueError(f"lab name {name!r}: use 1-40 characters a-z, 0-9, '-'")
        self.name = name
        self.dir = paths.lab_dir(name)

    # names
    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    # files
    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def pubkey(self) -> Path:
        return self.dir / "id_ed25519.pub"

    @property
    def mirror_dir(self) -> Path:
        return self.dir / "mirror"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    def load(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}

    def save(self, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.state_file)

    def require_state(self) -> dict:
        state = self.load()
        if not state:
            raise SystemExit(f"lab {self.name!r} is not up (no {self.state_file})")
        return state

    def ensure_key(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        if not self.key.exists():
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"edgefleet-lab-{self.name}",
                    "-f",
                    str(self.key),
                ],
                check=True,
                stdin=subprocess.DEVNULL,
            )
        self.key.chmod(0o600)


def ip(state: dict, octet: int) -> str:
    return f"{state['prefix']}.{octet}"


@contextmanager
def global_lock(name: str = ".lock"):
    """Serialise work shared between labs started at the same time (network allocation, image build)."""
    root = paths.state_root()
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / name, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
