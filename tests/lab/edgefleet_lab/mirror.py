"""The release mirror host: serves .lab/<lab>/mirror/ over plain HTTP on port 80 (python3 http.server unit)."""

import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

from edgefleet_lab import podman
from edgefleet_lab.state import Lab

SERVE_DIR = "/srv/mirror"
UNIT = "edgefleet-mirror.service"
UNIT_TEXT = f"""[Unit]
Description=edgefleet lab release mirror (HTTP on port 80)
After=network.target

[Service]
ExecStart=/usr/bin/python3 -m http.server 80 --bind 0.0.0.0 --directory {SERVE_DIR}
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""


def install_service(lab: Lab) -> None:
    name = lab.container("mirror")
    script = f"cat > /etc/systemd/system/{UNIT} && systemctl daemon-reload && systemctl enable --now --quiet {UNIT}"
    podman.run("exec", "-i", name, "sh", "-c", script, input=UNIT_TEXT.encode())


def answers(ip: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"http://{ip}/", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait(ip: str, timeout: float = 30, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(ip) == up:
            return
        time.sleep(0.2)
    raise TimeoutError(f"mirror http://{ip}/ did not {'answer' if up else 'stop'} within {timeout:.0f} s")


def publish(lab: Lab, source: Path) -> list[str]:
    """Copy SOURCE's content into the mirror tree (merging); return the published relative paths."""
    source = Path(source)
    if not source.is_dir():
        raise SystemExit(f"mirror publish: {source} is not a directory")
    lab.mirror_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, lab.mirror_dir, dirs_exist_ok=True)
    return sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())


def set_running(lab: Lab, ip: str, running: bool) -> None:
    podman.run("exec", lab.container("mirror"), "systemctl", "start" if running else "stop", UNIT)
    wait(ip, up=running)
