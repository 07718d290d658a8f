# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server, agent and reset flows on a lab HA site (3 servers on embedded etcd + 1 load balancer + 1 agent) with
the project's k3s-compatible test runtime published on the lab mirror (.build/releases, built if missing).

Checks: converge, second run changed=0, check mode changes nothing, three voting etcd members, the token never in
the output (even with -vvv), rebuilding the first server makes it join instead of running cluster-init again, and
reset.yml removes everything and is idempotent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from roles_helpers import ROOT, changed_counts, flat, lab_cli

pytestmark = pytest.mark.lab

LAB = "roles-ha-test"
VERSION = os.environ.get("EDGEFLEET_K3S_VERSION") or "v1.36.1+k3s1"
RELEASES = Path(os.environ.get("EDGEFLEET_RELEASES") or ROOT / ".build" / "releases")
DB_INFO = (
    "import json, ssl, urllib.request; "
    "print(urllib.request.urlopen('https://127.0.0.1:6443/db/info', "
    "context=ssl._create_unverified_context()).read().decode())"
)


def _lab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return lab_cli(LAB, *args, check=check)


def _exec(host: str, *cmd: str) -> str:
    return _lab("exec", host, "--", *cmd).stdout


@pytest.fixture(scope="module")
def lab():
    if not (RELEASES / VERSION / "k3s").is_file():
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "k3s_runtime" / "build.py"), "--out", str(RELEASES)],
            check=True,
            timeout=900,
        )
    try:
        _lab("up", "--servers", "3", "--agents", "1", "--lbs", "1", "--gpu-agents", "0")
        _lab("mirror", "publish", str(RELEASES))
        inventory = ROOT / ".lab" / LAB / "inventory.yml"
        _lab("inventory", "--output", str(inventory))
        yield inventory
    finally:
        _lab("down", check=False)


def _play(env, inventory: Path, playbook: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(inventory),
            str(ROOT / "playbooks" / playbook),
            "-e",
            f"k3s_version={VERSION}",
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def _voters(host: str) -> list[str]:
    members = json.loads(_exec(host, "python3", "-c", DB_INFO))["members"]
    return sorted(m["name"] for m in members if not m.get("isLearner"))


def _config(host: str) -> str:
    return _exec(host, "cat", "/etc/rancher/k3s/config.yaml")


def test_ha_converge_idempotence_rebuild_and_reset(lab, ansible_env):
    # --check --diff on bare hosts: every host reports what it would change, and nothing is installed
    preview = _play(ansible_env, lab, "site.yml", "--check", "--diff")
    assert preview.returncode == 0, flat(preview.stdout)[-4000:]
    preview_counts = changed_counts(preview.stdout)
    assert preview_counts and all(n > 0 for n in preview_counts.values()), preview_counts
    untouched = "for p in /usr/local/bin/k3s /etc/rancher/k3s /var/lib/rancher; do if [ -e $p ]; then echo $p; fi; done"
    for host in ("server-1", "server-2", "agent-1"):
        assert _exec(host, "sh", "-c", untouched).strip() == "", host

    converge = _play(ansible_env, lab, "site.yml", "-vvv")
    assert converge.returncode == 0, flat(converge.stdout)[-4000:]
    token = _exec("server-1", "cat", "/var/lib/rancher/k3s/server/token").strip()
    assert token.startswith("K10")
    assert token.split(":")[-1] not in converge.stdout + converge.stderr, "the token leaked into the output"

    voters = _voters("server-1")
    assert [v.rsplit("-", 1)[0] for v in voters] == ["server-1", "server-2", "server-3"], voters
    assert "cluster-init: true" in _config("server-1")
    for host in ("server-2", "server-3"):
        assert "server: https://" in _config(host)
        assert "cluster-init" not in _config(host)
    secret_files = {
        "server-1": ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/k3s.yaml"],
        "server-2": ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/cluster-token"],
        "agent-1": ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/cluster-token"],
    }
    for host, files in secret_files.items():
        modes = _exec(host, "stat", "-c", "%n %a", *files).strip().splitlines()
        assert len(modes) == len(files) and all(line.endswith(" 600") for line in modes), modes

    again = _play(ansible_env, lab, "site.yml")
    assert again.returncode == 0, flat(again.stdout)[-4000:]
    assert set(changed_counts(again.stdout).values()) == {0}, changed_counts(again.stdout)

    check = _play(ansible_env, lab, "site.yml", "--check", "--diff")
    assert check.returncode == 0, flat(check.stdout)[-4000:]
    assert set(changed_counts(check.stdout).values()) == {0}, changed_counts(check.stdout)

    # Rebuild the first server: it must join the existing cluster, not run cluster-init again.
    wipe = _play(ansible_env, lab, "reset.yml", "--limit", "server-1")
    assert wipe.returncode == 0, flat(wipe.stdout)[-3000:]
    rebuild = _play(ansible_env, lab, "site.yml")
    assert rebuild.returncode == 0, flat(rebuild.stdout)[-4000:]
    config = _config("server-1")
    assert "cluster-init" not in config and "server: https://" in config, config
    voters = _voters("server-2")
    assert len(voters) == 3, voters
    assert sorted(v.rsplit("-", 1)[0] for v in voters) == ["server-1", "server-2", "server-3"], voters
    stable = _play(ansible_env, lab, "site.yml")
    assert set(changed_counts(stable.stdout).values()) == {0}, changed_counts(stable.stdout)

    reset = _play(ansible_env, lab, "reset.yml")
    assert reset.returncode == 0, flat(reset.stdout)[-3000:]
    for host in ("server-1", "server-2", "agent-1"):
        left = _lab(
            "exec",
            host,
            "--",
            "sh",
            "-c",
            "ls -d /var/lib/rancher/k3s /etc/rancher/k3s /usr/local/bin/k3s /etc/systemd/system/k3s* 2>/dev/null;"
            " ps -eo args | grep -E '[k]3s (server|agent)|[e]tcd --' || true",
            check=False,
        ).stdout
        assert left.strip() == "", f"{host} still has: {left}"
    reset_again = _play(ansible_env, lab, "reset.yml")
    assert set(changed_counts(reset_again.stdout).values()) == {0}, changed_counts(reset_again.stdout)
