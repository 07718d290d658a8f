"""Thin wrapper around the podman CLI (always with the lab's private containers.conf)."""

import json
import os
import subprocess

from edgefleet_lab.paths import CONTAINERS_CONF


class PodmanError(RuntimeError):
    pass


def env() -> dict:
    e = dict(os.environ)
    e.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return e


def run(*args: str, check: bool = True, input: bytes | None = None, timeout: float | None = 300) -> str:
    """Run `podman ARGS`, return stdout; raise PodmanError with stderr when it fails and check is set."""
    proc = subprocess.run(
        ["podman", *args],
        input=input if input is not None else b"",
        capture_output=True,
        env=env(),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def ok(*args: str) -> bool:
    proc = subprocess.run(["podman", *args], stdin=subprocess.DEVNULL, capture_output=True, env=env())
    return proc.returncode == 0


def image_exists(ref: str) -> bool:
    return ok("image", "exists", ref)


def container_exists(name: str) -> bool:
    return ok("container", "exists", name)


def network_exists(name: str) -> bool:
    return ok("network", "exists", name)


def inspect_container(name: str) -> dict | None:
    out = run("container", "inspect", name, check=False)
    data = json.loads(out) if out.strip() else []
    return data[0] if data else None


def containers_with_prefix(prefix: str) -> list[dict]:
    """All containers (any state) whose name starts with PREFIX: [{'name', 'state'}]."""
    out = run("ps", "-a", "--format", "json")
    rows = json.loads(out) if out.strip() else []
    found = []
    for row in rows:
        names = row.get("Names") or []
        for name in names:
            if name.startswith(prefix):
                found.append({"name": name, "state": row.get("State", "")})
    return found


def networks() -> list[dict]:
    out = run("network", "ls", "--format", "json")
    return json.loads(out) if out.strip() else []


def used_subnets() -> set[str]:
    subnets = set()
    for net in networks():
        for sub in net.get("subnets") or []:
            subnets.add(sub.get("subnet", ""))
    return subnets
