# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml on one lab HA site (3 servers on embedded etcd, 1 load balancer, 1 agent), in the order a site lives:
check on bare hosts, converge, no-op, the restart contract (a binary installed by an earlier, partial run; a run
killed between plays), token failures, a rebuilt first server, reset. The tests share the lab and run in file order.
The plain HA converge / idempotence / check / etcd voters / token-not-logged sequence is molecule/ha's.

The k3s here is the project's test runtime (tests/k3s_runtime) unless RELEASES=/K3S_VERSION= name real releases.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest
from edgefleet_testing import NEXT_VERSION, VERSION, Lab, adhoc, flat

pytestmark = pytest.mark.lab

SERVERS = ("server-1", "server-2", "server-3")
AGENT = "agent-1"
NODES = (*SERVERS, AGENT)
KUBECTL_NODES = "k3s kubectl get nodes -o json"
UNTOUCHED = "for p in /usr/local/bin/k3s /etc/rancher/k3s /var/lib/rancher; do [ -e $p ] && echo $p; done; true"


@pytest.fixture(scope="module")
def lab():
    lab = Lab("roles-ha-test")
    try:
        lab.up(servers=3, agents=1, lbs=1)
        yield lab
    finally:
        lab.down()


def _versions(lab: Lab) -> dict[str, str]:
    nodes = json.loads(lab.out("server-1", KUBECTL_NODES))["items"]
    return {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes}


def _voters(lab: Lab) -> list[str]:
    script = (
        "python3 -c \"import json,ssl,urllib.request;print(urllib.request.urlopen('https://127.0.0.1:6443/db/info',"
        'context=ssl._create_unverified_context()).read().decode())"'
    )
    members = json.loads(lab.out("server-2", script))["members"]
    return sorted(m["name"].rsplit("-", 1)[0] for m in members if not m.get("isLearner"))


def _started(lab: Lab, host: str) -> dict[str, int]:
    """When the k3s unit's main process started and when the unit became active (µs, CLOCK_MONOTONIC: the lab's
    hosts are containers on one kernel, so the values of different hosts compare)."""
    unit = "k3s" if host in SERVERS else "k3s-agent"
    props = lab.unit(host, unit, "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
    return {
        "start": int(props["ExecMainStartTimestampMonotonic"]),
        "active": int(props["ActiveEnterTimestampMonotonic"]),
    }


def _config(lab: Lab, host: str) -> str:
    return lab.out(host, "cat /etc/rancher/k3s/config.yaml")


def test_check_on_bare_hosts_reports_changes_and_installs_nothing(lab):
    preview = lab.play("site.yml", "--check", "--diff").ok()
    assert preview.changed and all(n > 0 for n in preview.changed.values()), preview.changed
    for host in ("server-1", "server-2", AGENT):
        assert lab.out(host, UNTOUCHED).strip() == "", host


def test_converge_gives_agents_their_own_token(lab):
    lab.play("site.yml").ok()
    server_token = lab.out("server-1", "cat /var/lib/rancher/k3s/server/token").strip()
    agent_token = lab.out(AGENT, "cat /etc/rancher/k3s/cluster-token").strip()
    server_password = server_token.split(":")[-1]
    agent_password = agent_token.split(":")[-1]
    assert server_token.startswith("K10") and "::server:" in server_token
    # The agent joined with its own token (k3s agent-token): user node, another password than the server token.
    assert agent_token.startswith("K10") and "::node:" in agent_token
    assert agent_password != server_password
    # Nothing on the agent holds the server token's password (what lets a host join as a server).
    hits = lab.sh(AGENT, "grep", "-rlF", server_password, "/etc/rancher", "/var/lib/rancher/k3s", check=False)
    assert hits.returncode == 1 and hits.stdout == "", f"the server token is on the agent: {hits.stdout}"
    assert "cluster-init: true" in _config(lab, "server-1")
    for host in ("server-2", "server-3"):
        assert "server: https://" in _config(lab, host) and "cluster-init" not in _config(lab, host)
    files = {
        "server-1": ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/k3s.yaml", "/etc/rancher/k3s/agent-token"],
        "server-2": ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/cluster-token", "/etc/rancher/k3s/agent-token"],
        AGENT: ["/etc/rancher/k3s/config.yaml", "/etc/rancher/k3s/cluster-token"],
    }
    for host, paths in files.items():
        modes = lab.sh(host, "stat", "-c", "%n %a", *paths).stdout.strip().splitlines()
        assert len(modes) == len(paths) and all(line.endswith(" 600") for line in modes), modes


def test_kubectl_creates_objects_through_the_load_balancer(lab, tmp_path):
    """The machine's own kubectl (a real client, protobuf bodies included) against the VIP, with the admin
    kubeconfig of server-1 (issue 9: create configmap / namespace / deployment must work, not only apply/get)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing (make test installs kubernetes-client)"
    vip = lab.cluster_vars()["k3s_lb_vip"]
    config = lab.out("server-1", "cat /etc/rancher/k3s/k3s.yaml").replace(
        "https://127.0.0.1:6443", f"https://{vip}:6443"
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(config)
    kubeconfig.chmod(0o600)

    def run(*args: str) -> str:
        proc = subprocess.run(
            [kubectl, "--kubeconfig", str(kubeconfig), "--request-timeout=20s", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    run("create", "namespace", "through-lb")
    run("-n", "through-lb", "create", "configmap", "settings", "--from-literal=mode=edge")
    run("-n", "through-lb", "create", "deployment", "web", "--image=registry.example/web:1.0", "--replicas=2")
    run("-n", "through-lb", "create", "secret", "generic", "creds", "--from-literal=user=edge")
    assert json.loads(run("-n", "through-lb", "get", "configmap", "settings", "-o", "json"))["data"] == {"mode": "edge"}
    deployment = json.loads(run("-n", "through-lb", "get", "deployment", "web", "-o", "json"))
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:1.0"


def test_backup_is_copied_off_the_node_with_token_and_manifest(lab, tmp_path):
    dest = tmp_path / "backups"
    first = lab.play("backup.yml", "-e", f"k3s_backup_dest={dest}", "-e", "k3s_backup_keep=1").ok()
    (backup,) = [p for p in dest.iterdir() if p.is_dir()]
    files = sorted(p.name for p in backup.iterdir())
    copies = [backup.name, backup.name + ".token", backup.name + ".agent-token"]
    assert files == sorted(copies + [backup.name + ".sha256"]), files
    lines = (backup / (backup.name + ".sha256")).read_text().splitlines()
    manifest = {name: digest for digest, name in (line.split("  ") for line in lines)}
    assert set(manifest) == set(copies)
    for name, digest in manifest.items():
        assert hashlib.sha256((backup / name).read_bytes()).hexdigest() == digest, name
        assert stat.S_IMODE((backup / name).stat().st_mode) == 0o600, name
    token = lab.out("server-1", "cat /var/lib/rancher/k3s/server/token")
    assert (backup / (backup.name + ".token")).read_text() == token
    agent_token = lab.out("server-1", "cat /etc/rancher/k3s/agent-token")
    assert (backup / (backup.name + ".agent-token")).read_text() == agent_token
    assert agent_token.strip() not in first.output, "the agent token reached the output"
    assert token.split(":")[-1].strip() not in first.output, "the token reached the output"
    # only the snapshot is in k3s's snapshot directory; a second backup with keep=1 leaves one set here
    assert lab.out("server-1", "ls /var/lib/rancher/k3s/server/db/snapshots").split() == [backup.name]
    time.sleep(1.1)  # the next snapshot's name carries another unix second
    lab.play("backup.yml", "-e", f"k3s_backup_dest={dest}", "-e", "k3s_backup_keep=1").ok()
    (newer,) = [p.name for p in dest.iterdir() if p.is_dir()]
    assert newer != backup.name


def _configmap(lab: Lab, name: str) -> str | None:
    proc = lab.sh("server-2", "k3s", "kubectl", "get", "configmap", name, "-o", "jsonpath={.data.value}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def _copy_set(source: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in source.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return dest


def _active(lab: Lab) -> list[str]:
    return [lab.unit(h, "k3s", "ActiveState")["ActiveState"] for h in SERVERS]


def test_restore_refuses_a_bad_backup_before_anything_stops(lab, tmp_path):
    """Refusals only: the restore itself is drilled by the molecule `backup` scenario (HA and disaster case)."""
    dest = tmp_path / "backups"
    lab.play("backup.yml", "-e", f"k3s_backup_dest={dest}").ok()
    (backup,) = [p for p in dest.iterdir() if p.is_dir()]
    lab.sh("server-1", "k3s", "kubectl", "create", "configmap", "after-backup", "--from-literal=value=kept")

    # A snapshot that does not match its manifest, one whose token is another cluster's, and one without a token.
    tampered = _copy_set(backup, tmp_path / "tampered" / backup.name)
    with (tampered / backup.name).open("ab") as f:
        f.write(b"x")
    foreign = _copy_set(backup, tmp_path / "foreign" / backup.name)
    token = foreign / (backup.name + ".token")
    token.write_text(token.read_text().rsplit(":", 1)[0] + ":" + "0" * 32 + "\n")
    manifest = foreign / (backup.name + ".sha256")
    manifest.write_text(
        "".join(f"{hashlib.sha256((foreign / n).read_bytes()).hexdigest()}  {n}\n" for n in (backup.name, token.name))
    )
    tokenless = _copy_set(backup, tmp_path / "tokenless" / backup.name)
    (tokenless / (backup.name + ".token")).unlink()
    cases = (
        (tampered, "does not match the manifest: it is not a complete, intact backup"),
        (foreign, "must be this cluster's own"),
        (tokenless, ".token missing"),
    )
    for bad, message in cases:
        refused = lab.play("restore.yml", "-e", f"k3s_restore_from={bad}")
        assert refused.returncode != 0 and message in flat(refused.output), refused.tail()
        assert "Nothing was stopped." in flat(refused.output)
        assert _active(lab) == ["active"] * 3
    assert _configmap(lab, "after-backup") == "kept"
    lab.sh("server-1", "k3s", "kubectl", "delete", "configmap", "after-backup")


def test_a_run_without_changes_restarts_nothing(lab):
    before = {host: _started(lab, host) for host in NODES}
    lab.play("site.yml").unchanged()
    assert {host: _started(lab, host) for host in NODES} == before, "a run without changes restarted k3s"


def test_report_names_the_nodes_that_run_another_version(lab):
    report = lab.play("report.yml", version="v1.0.0+k3s1")
    assert report.returncode != 0
    text = flat(report.output)
    assert "The cluster is not healthy: nodes not running v1.0.0+k3s1 [" in text, report.tail()
    for node in NODES:
        assert node in text.split("The cluster is not healthy")[1], node


def test_binary_installed_by_an_earlier_partial_run_is_restarted_into(lab):
    """§1 of the converge issue: `--tags runtime` installs the new binary and restarts nothing; the full run that
    follows must restart every node onto it (decided from the host: the binary is newer than the process)."""
    assert NEXT_VERSION, "no release to upgrade to: set EDGEFLEET_K3S_NEXT_VERSION (K3S_VERSION's successor)"
    lab.play("site.yml", "--tags", "runtime", version=NEXT_VERSION).ok()
    assert set(_versions(lab).values()) == {VERSION}, "the runtime play alone must not restart k3s"
    lab.play("site.yml", version=NEXT_VERSION).ok()
    assert _versions(lab) == dict.fromkeys(NODES, NEXT_VERSION)
    # One server at a time: each server had become active again before the next one was stopped and started.
    starts = [_started(lab, host) for host in SERVERS]
    for earlier, later in zip(starts, starts[1:], strict=False):
        assert earlier["active"] < later["start"], f"two servers restarted at once: {starts}"
    lab.play("site.yml", version=NEXT_VERSION).unchanged()


def test_run_killed_between_the_runtime_and_server_plays_converges_next_time(lab):
    killed = lab.play("site.yml", stop_at="PLAY [Load balancers")
    assert "PLAY [Servers]" not in killed.stdout and killed.returncode != 0, killed.tail()
    # The binary of VERSION is installed, the old one still runs: exactly the state a lost controller leaves.
    assert VERSION in lab.out(AGENT, "/usr/local/bin/k3s --version")
    assert set(_versions(lab).values()) == {NEXT_VERSION}
    lab.play("site.yml").ok()
    assert _versions(lab) == dict.fromkeys(NODES, VERSION)
    lab.play("site.yml").unchanged()


def test_a_token_of_another_cluster_stops_the_run_before_any_change(lab):
    token_file = "/var/lib/rancher/k3s/server/token"
    original = lab.out("server-1", f"cat {token_file}").strip()
    forged = "K10" + "0" * 64 + "::" + original.split("::", 1)[1]
    lab.sh("server-1", "cp", "-p", token_file, "/root/token.bak")
    try:
        lab.sh("server-1", "sh", "-c", f"sed -i 's/^K10[0-9a-f]*::/K10{'0' * 64}::/' {token_file}")
        assert lab.out("server-1", f"cat {token_file}").strip() == forged
        run = lab.play("site.yml", "--tags", "server")
        assert run.returncode != 0
        assert "token CA hash does not match the Cluster CA certificate hash" in flat(run.output), run.tail()
        assert set(run.changed.values()) == {0}, run.changed
    finally:
        lab.sh("server-1", "sh", "-c", f"cp -p /root/token.bak {token_file}")
    lab.play("site.yml").unchanged()


def test_an_agent_that_cannot_join_fails_early_with_the_reason(lab):
    token_file = "/etc/rancher/k3s/cluster-token"
    good = lab.out(AGENT, f"cat {token_file}").strip()
    wrong = good.rsplit(":", 1)[0] + ":" + "0" * 32
    lab.sh(AGENT, "sh", "-c", f"sed -i 's/:[^:]*$/:{'0' * 32}/' {token_file}")
    assert lab.out(AGENT, f"cat {token_file}").strip() == wrong
    began = time.monotonic()
    run = adhoc(lab.inventory, AGENT, "edgefleet.k3s.k3s_service", "node_type=agent state=restarted fail_fast=15")
    took = time.monotonic() - began
    assert run.returncode != 0
    assert "k3s-agent does not start" in flat(run.output), run.tail()
    assert took < 120, f"the failure took {took:.0f}s to show"
    # The next converge rewrites the token and restarts the agent.
    lab.play("site.yml").ok()
    assert lab.out(AGENT, f"cat {token_file}").strip() == good
    assert _versions(lab)[AGENT] == VERSION


def test_rebuilt_first_server_joins_the_cluster_instead_of_creating_one(lab):
    lab.play("reset.yml", "--limit", "server-1").ok()
    lab.play("site.yml").ok()
    config = _config(lab, "server-1")
    assert "cluster-init" not in config and "server: https://" in config, config
    assert _voters(lab) == list(SERVERS)
    lab.play("site.yml").unchanged()


def test_reset_removes_everything_and_is_idempotent(lab):
    lab.play("reset.yml").ok()
    for host in ("server-1", "server-2", AGENT):
        left = lab.sh(
            host,
            "sh",
            "-c",
            "ls -d /var/lib/rancher/k3s /etc/rancher/k3s /usr/local/bin/k3s /etc/systemd/system/k3s* 2>/dev/null;"
            " ps -eo args | grep -E '[k]3s (server|agent)|[e]tcd --' || true",
            check=False,
        ).stdout
        assert left.strip() == "", f"{host} still has: {left}"
    lab.play("reset.yml").unchanged()
