"""SSH from this machine to lab hosts with the lab key (also the ssh_config the lab writes)."""

import subprocess
import time

from edgefleet_lab.state import Lab

OPTIONS = [
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=3",
]  # fmt: skip


def command(lab: Lab, ip: str, *remote: str) -> list[str]:
    return ["ssh", "-i", str(lab.key), *OPTIONS, f"root@{ip}", *remote]


def answers(lab: Lab, ip: str, timeout: float = 10) -> bool:
    """True when `ssh root@IP true` succeeds with the lab key."""
    try:
        proc = subprocess.run(command(lab, ip, "true"), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


def wait(lab: Lab, ip: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(lab, ip):
            return
        time.sleep(0.3)
    raise TimeoutError(f"ssh root@{ip} did not answer within {timeout:.0f} s")


def config(lab: Lab, hosts: dict[str, str]) -> str:
    """ssh_config text for HOSTS (name -> ip)."""
    blocks = []
    for name, ip in hosts.items():
        blocks.append(
            f"Host {name} {lab.container(name)}\n"
            f"  HostName {ip}\n"
            "  User root\n"
            f"  IdentityFile {lab.key}\n"
            "  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n"
            "  UserKnownHostsFile /dev/null\n"
            "  LogLevel ERROR\n"
        )
    return "\n".join(blocks)
