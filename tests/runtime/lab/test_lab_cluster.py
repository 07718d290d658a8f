# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Contract tests of the k3s test runtime on real lab hosts (systemd, podman network, haproxy in front).

The tests run in order on one cluster; a test whose prerequisite failed fails at once (it is never skipped).
No token value ever appears in an assertion message: checks compute booleans or counts first."""

from __future__ import annotations

import calendar
import concurrent.futures
import hashlib
import json
import re
import time

import pytest
from lab_helpers import (
    AGENT,
    CONFIG,
    LB,
    SERVER_DIR,
    SERVERS,
    TOKEN_FILE,
    Secret,
    member_node,
    node_ready,
    wait_for,
    yaml_config,
)

pytestmark = [pytest.mark.lab, pytest.mark.timeout(900)]

JOINERS = ("server-2", "server-3")
TOKEN_RE = re.compile(r"K10([0-9a-f]{64})::server:(.+)")
MEMBER_RE = re.compile(r"(server-[1-3])-[0-9a-f]{8}")


def require(secret, *steps: str) -> None:
    missing = [s for s in steps if s not in secret.done]
    if missing:
        pytest.fail(f"prerequisite step(s) failed earlier: {', '.join(missing)}")


def lb_url(lab) -> str:
    return f"https://{lab.ip(LB)}:6443"


def server_config(lab, host: str, first: bool) -> str:
    items = {"cluster-init": True} if first else {"server": lb_url(lab)}
    items.update({"token-file": TOKEN_FILE, "node-ip": lab.ip(host), "tls-san": [lab.ip(LB)]})
    return yaml_config(items)


def voters(lab, host: str) -> set[str] | None:
    """Node names of the voting members seen by HOST, or None while a learner is present."""
    members = lab.db_info(host)
    if any(m.get("isLearner") for m in members):
        return None
    return {member_node(m) for m in members}


def is_active(lab, host: str, unit: str = "k3s") -> bool:
    return lab.script(host, f"systemctl is-active --quiet {unit}", check=False).returncode == 0


def join_server(lab, host: str, timeout: float = 150) -> None:
    """Start HOST (config already written) and wait until its own /db/info lists it and the unit is active."""
    lab.script(host, "systemctl enable --no-block --now k3s")
    wait_for(
        lambda: any(member_node(m) == host for m in lab.db_info(host)) and is_active(lab, host),
        timeout,
        what=f"{host} listed by its own /db/info with k3s active",
    )


def wait_three_voters(lab, timeout: float = 120) -> None:
    for host in SERVERS:
        wait_for(lambda h=host: voters(lab, h) == set(SERVERS), timeout, what=f"3 voting members seen by {host}")


def etcd_annotations_match_members(lab) -> bool:
    """Every server's Node carries etcd.k3s.cattle.io/node-name = its current member name and node-address = its IP."""
    names = {member_node(m): m["name"] for m in lab.db_info("server-1")}
    nodes = lab.nodes("server-1", lb_url(lab))
    for host in SERVERS:
        ann = nodes[host]["metadata"].get("annotations", {})
        if ann.get("etcd.k3s.cattle.io/node-name") != names.get(host):
            raise AssertionError(f"{host}: annotation {ann.get('etcd.k3s.cattle.io/node-name')} != {names.get(host)}")
        if ann.get("etcd.k3s.cattle.io/node-address") != lab.ip(host):
            raise AssertionError(f"{host}: node-address annotation {ann.get('etcd.k3s.cattle.io/node-address')}")
    return True


def configmap_value(lab, host: str, name: str, server: str | None = None) -> str | None:
    """data.value of ConfigMap NAME; None when it does not exist; any other kubectl error raises."""
    proc = lab.kubectl(host, f"get configmap {name} -o json", server)
    if proc.returncode != 0:
        if "NotFound" in proc.stderr or "not found" in proc.stderr:
            return None
        raise AssertionError(f"kubectl get configmap {name} on {host}: {proc.stderr.strip()}")
    return json.loads(proc.stdout).get("data", {}).get("value")


def read_token(lab, host: str, password: str) -> tuple[str | None, bool]:
    """(CA hash or None when malformed, whether the password is the cluster's) of HOST's server/token; the
    token itself never leaves this function (nothing here can raise with it in scope)."""
    m = TOKEN_RE.fullmatch(lab.out(host, f"cat {SERVER_DIR}/token").strip())
    return (m.group(1), m.group(2) == password) if m else (None, False)


def ready_since(lab, node: str, since: int) -> bool:
    """NODE is Ready with a heartbeat no older than SINCE (unix seconds), read through the LB."""
    conds = {c["type"]: c for c in lab.nodes("server-2", lb_url(lab))[node]["status"]["conditions"]}
    beat = calendar.timegm(time.strptime(conds["Ready"]["lastHeartbeatTime"], "%Y-%m-%dT%H:%M:%SZ"))
    return conds["Ready"]["status"] == "True" and beat >= since


# --- 1. servers join through the LB, one at a time; learners are promoted ------------------------------------------
def test_servers_join_through_lb_and_become_voters(rtlab, secret):
    lab = rtlab
    lab.put_file("server-1", TOKEN_FILE, secret.password + "\n")
    lab.put_file("server-1", CONFIG, server_config(lab, "server-1", first=True))
    lab.start_k3s("server-1")
    assert [member_node(m) for m in lab.db_info("server-1")] == ["server-1"]
    secret.full = Secret(lab.out("server-1", f"cat {SERVER_DIR}/token").strip())
    for host in JOINERS:
        lab.put_file(host, TOKEN_FILE, secret.full + "\n")
        lab.put_file(host, CONFIG, server_config(lab, host, first=False))
        join_server(lab, host)
    wait_three_voters(lab)
    for m in lab.db_info("server-1"):
        node = MEMBER_RE.fullmatch(m["name"])
        assert node, f"member name {m['name']!r} is not <node>-<8 hex>"
        ip = lab.ip(node.group(1))
        assert isinstance(m["ID"], int) and m["ID"] > 0, m
        assert m["peerURLs"] == [f"https://{ip}:2380"] and m["clientURLs"] == [f"https://{ip}:2379"], m
    code = lab.out(
        "server-1", "curl -sk -o /dev/null -w %{http_code} --max-time 10 -X POST https://127.0.0.1:6443/db/info"
    )
    assert code == "405", f"POST /db/info: HTTP {code}"
    # through the LB the client is not loopback: /db/info needs k3s:server credentials there
    code = lab.out("server-1", f"curl -sk -o /dev/null -w %{{http_code}} --max-time 10 {lb_url(lab)}/db/info")
    assert code == "401", f"/db/info via the LB without credentials: HTTP {code}"
    secret.done.add("servers")


def test_joining_servers_start_without_crash_restart(rtlab, secret):
    """A learner refuses reads: a joining server must wait for its promotion, not crash and be restarted."""
    require(secret, "servers")
    for host in JOINERS:
        restarts = rtlab.out(host, "systemctl show -p NRestarts --value k3s").strip()
        journal = rtlab.journal(host, "k3s")
        assert "Traceback" not in journal, f"{host}: k3s crashed while joining (restarts={restarts})"
        assert restarts == "0", f"{host}: k3s was restarted {restarts} time(s) while joining"


# --- 2. real kubectl through the LB ---------------------------------------------------------------------------------
def test_kubectl_through_lb_shows_servers_ready_with_roles(rtlab, secret):
    require(secret, "servers")
    nodes = wait_for(
        lambda: (n := rtlab.nodes("server-1", lb_url(rtlab))) and all(node_ready(n.get(h, {})) for h in SERVERS) and n,
        60,
        what="3 Ready servers via the LB",
    )
    for host in SERVERS:
        labels = nodes[host]["metadata"].get("labels", {})
        assert labels.get("node-role.kubernetes.io/control-plane") == "true", host
        assert labels.get("node-role.kubernetes.io/etcd") == "true", host
    # every backend serves the LB's address in its certificate: ask each server through its own IP as well
    for host in SERVERS:
        proc = rtlab.kubectl("server-1", "get --raw /version", f"https://{rtlab.ip(host)}:6443")
        assert proc.returncode == 0, f"kubectl to {host} directly: {proc.stderr}"
    assert etcd_annotations_match_members(rtlab)
    secret.done.add("kubectl")


# --- 3. token files ---------------------------------------------------------------------------------------------
def test_token_files_on_every_server(rtlab, secret):
    require(secret, "servers")
    hashes = set()
    for host in SERVERS:
        mode = rtlab.out(host, f"stat -c %a {SERVER_DIR}/token").strip()
        assert mode == "600", f"{host}: server/token mode {mode}"
        ca_hash, same_password = read_token(rtlab, host, secret.password)
        assert ca_hash is not None, f"{host}: server/token is not K10<64 hex>::server:<password> (value withheld)"
        assert same_password, f"{host}: server/token does not carry the cluster password (value withheld)"
        ca_sha = rtlab.out(host, f"sha256sum {SERVER_DIR}/tls/server-ca.crt").split()[0]
        assert ca_hash == ca_sha, f"{host}: token CA hash differs from sha256(server-ca.crt)"
        hashes.add(ca_sha)
        link = rtlab.out(host, f"test -L {SERVER_DIR}/node-token && readlink {SERVER_DIR}/node-token").strip()
        assert link in ("token", f"{SERVER_DIR}/token"), f"{host}: node-token -> {link!r}"
    assert len(hashes) == 1, f"servers have different CAs: {sorted(hashes)}"


# --- 4. an agent with a wrong CA hash is refused ----------------------------------------------------------------
def test_agent_with_wrong_ca_hash_is_refused(rtlab, secret):
    require(secret, "servers")
    lab = rtlab
    wrong = Secret("K10" + hashlib.sha256(b"not the cluster CA").hexdigest() + "::server:" + secret.password)
    lab.put_file(AGENT, TOKEN_FILE, wrong + "\n")
    lab.put_file(
        AGENT, CONFIG, yaml_config({"server": lb_url(lab), "token-file": TOKEN_FILE, "node-ip": lab.ip(AGENT)})
    )
    lab.script(AGENT, "systemctl enable --no-block --now k3s-agent")
    try:
        wait_for(
            lambda: "token CA hash does not match" in lab.journal(AGENT, "k3s-agent"),
            60,
            what="agent journal: token CA hash does not match",
        )
        time.sleep(12)  # more than one agent retry and one heartbeat period
        assert AGENT not in lab.nodes("server-1"), "agent registered although its token's CA hash is wrong"
        has_cert = lab.script(AGENT, "test -e /var/lib/rancher/k3s/agent/client-kubelet.crt", check=False).returncode
        assert has_cert != 0, "agent obtained a kubelet certificate with a wrong CA hash"
    finally:
        lab.script(AGENT, "systemctl stop k3s-agent; systemctl reset-failed k3s-agent", check=False)


# --- 2b. the agent joins through the LB ---------------------------------------------------------------------------
def test_agent_joins_through_lb_and_is_ready(rtlab, secret):
    require(secret, "servers")
    lab = rtlab
    lab.put_file(AGENT, TOKEN_FILE, secret.full + "\n")
    lab.start_k3s(AGENT, "k3s-agent", timeout=120)
    wait_for(lambda: node_ready(lab.nodes("server-1", lb_url(lab)).get(AGENT, {})), 60, what="agent Ready via LB")
    balancer = json.loads(lab.out(AGENT, "cat /var/lib/rancher/k3s/agent/etc/k3s-agent-load-balancer.json"))
    assert balancer["ServerURL"] == lb_url(lab)
    assert sorted(balancer["ServerAddresses"]) == sorted(f"{lab.ip(h)}:6443" for h in SERVERS)
    secret.done.add("agent")


# --- 7. the token never shows up in process lists or journals -----------------------------------------------------
def test_token_never_in_ps_or_journal(rtlab, secret):
    require(secret, "servers", "agent")
    password = secret.password
    for host in (*SERVERS, AGENT):
        ps = rtlab.out(host, "ps -ef")
        assert "/usr/local/bin/k3s" in ps, f"{host}: k3s is not running, the check would prove nothing"
        cmdlines = rtlab.out(host, "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; true")
        journal = rtlab.journal(host, "k3s", "k3s-agent")
        assert journal.strip(), f"{host}: empty journal, the check would prove nothing"
        environ = rtlab.out(host, "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; true")
        texts = (("ps", ps), ("cmdline", cmdlines), ("environ", environ), ("journal", journal))
        hits = {name: text.count(password) for name, text in texts}
        assert not any(hits.values()), f"{host}: the cluster password appears in {hits}"


def test_only_k3s_itself_notifies_systemd(rtlab, secret):
    """The etcd child must not inherit NOTIFY_SOCKET (with NotifyAccess=all it would report READY too early)."""
    require(secret, "servers")
    for host in SERVERS:
        journal = rtlab.journal(host, "k3s")
        assert "reception only permitted for main PID" not in journal, f"{host}: a k3s child sent sd_notify"


# --- 5. HA: one server down, the LB and etcd keep working; it rejoins -------------------------------------------
def test_ha_server_down_lb_and_quorum_keep_working(rtlab, secret):
    require(secret, "servers", "kubectl")
    lab, lb = rtlab, lb_url(rtlab)
    stopped_at = int(lab.out("server-2", "date +%s"))
    lab.cli("stop", "server-1")
    try:
        wait_for(lambda: lab.kubectl("server-2", "get nodes", lb).returncode == 0, 60, what="kubectl via LB")
        wait_for(
            lambda: (
                lab.kubectl("server-2", "create configmap ha-write --from-literal=value=while-s1-down", lb).returncode
                == 0
            ),
            60,
            what="write through the LB with server-1 down",
        )
        assert configmap_value(lab, "server-3", "ha-write", lb) == "while-s1-down"
        assert voters(lab, "server-2") == set(SERVERS), "membership changed while server-1 was only down"
        if "agent" in secret.done:  # the agent's heartbeats go through the LB to a live server
            wait_for(lambda: ready_since(lab, AGENT, stopped_at + 1), 40, what="agent heartbeat with server-1 down")
        before_start = int(lab.out("server-2", "date +%s"))
    finally:
        lab.cli("start", "server-1")
    wait_for(lambda: is_active(lab, "server-1"), 120, what="k3s active on server-1 after power-on")
    # server-1's own API (127.0.0.1) reads from its own etcd member: the write made while it was down is there
    wait_for(lambda: configmap_value(lab, "server-1", "ha-write") == "while-s1-down", 90, what="server-1 caught up")

    wait_for(
        lambda: ready_since(lab, "server-1", before_start), 90, what="server-1 Ready with a heartbeat after restart"
    )
    wait_three_voters(lab, 60)


# --- 5b. a server cut off the network catches up after heal ------------------------------------------------------
def test_isolated_server_catches_up_after_heal(rtlab, secret):
    require(secret, "servers", "kubectl")
    lab, lb = rtlab, lb_url(rtlab)
    lab.cli("isolate", "server-3")
    try:
        wait_for(
            lambda: (
                lab.kubectl("server-1", "create configmap while-isolated --from-literal=value=v", lb).returncode == 0
            ),
            60,
            what="write through the LB with server-3 isolated",
        )
        healed_at = int(lab.out("server-1", "date +%s"))
    finally:
        lab.cli("heal", "server-3")
    wait_for(lambda: configmap_value(lab, "server-3", "while-isolated") == "v", 120, what="server-3 caught up")
    wait_for(lambda: ready_since(lab, "server-3", healed_at), 60, what="server-3 Ready again after heal")
    wait_three_voters(lab, 60)
    assert is_active(lab, "server-3")


# --- 6. snapshot save -> cluster-reset restore drill --------------------------------------------------------------
def test_snapshot_save_and_cluster_reset_restore(rtlab, secret):
    require(secret, "servers", "kubectl")
    lab, lb = rtlab, lb_url(rtlab)
    proc = lab.kubectl("server-1", "create configmap drill --from-literal=value=drill-42", lb)
    assert proc.returncode == 0, proc.stderr
    save = lab.script("server-1", "k3s etcd-snapshot save --name drill", check=False, timeout=120)
    assert save.returncode == 0, save.stderr
    leaked = save.stderr.count(secret.password)
    assert leaked == 0, "etcd-snapshot save printed the cluster password"
    listing = lab.script("server-1", "k3s etcd-snapshot ls -o json", check=False, timeout=60)
    assert listing.returncode == 0, listing.stderr
    drills = [i for i in json.loads(listing.stdout)["items"] if i["spec"]["snapshotName"].startswith("drill-server-1-")]
    assert len(drills) == 1, (
        f"etcd-snapshot ls: {[i['spec']['snapshotName'] for i in json.loads(listing.stdout)['items']]}"
    )
    table = lab.script("server-1", "k3s etcd-snapshot ls", check=False, timeout=60).stdout
    assert drills[0]["spec"]["snapshotName"] in table
    assert re.fullmatch(r"drill-server-1-\d{10}", drills[0]["spec"]["snapshotName"]), drills[0]["spec"]
    path = drills[0]["spec"]["location"].removeprefix("file://")
    assert path.startswith(f"{SERVER_DIR}/db/snapshots/"), path
    assert lab.script("server-1", f"test -s {path}", check=False).returncode == 0, f"snapshot file {path} missing"

    assert lab.kubectl("server-1", "delete configmap drill", lb).returncode == 0
    assert lab.kubectl("server-1", "create configmap after-snapshot --from-literal=value=x", lb).returncode == 0
    assert configmap_value(lab, "server-2", "drill", lb) is None

    for host in SERVERS:
        lab.script(host, "systemctl stop k3s", timeout=90)
    reset_at = int(lab.out("server-1", "date +%s"))
    reset = lab.script(
        "server-1", f"k3s server --cluster-reset --cluster-reset-restore-path={path}", check=False, timeout=240
    )
    leaked = reset.stderr.count(secret.password) + reset.stdout.count(secret.password)
    assert leaked == 0, "k3s server --cluster-reset printed the cluster password"
    assert reset.returncode == 0, reset.stderr[-3000:]
    assert "Managed etcd cluster membership has been reset" in reset.stderr
    db_dir = lab.out("server-1", f"ls {SERVER_DIR}/db").split()
    assert "reset-flag" in db_dir and any(d.startswith("etcd-old-") for d in db_dir), db_dir
    lab.start_k3s("server-1")
    assert "reset-flag" not in lab.out("server-1", f"ls {SERVER_DIR}/db").split(), "normal start kept reset-flag"
    assert [member_node(m) for m in lab.db_info("server-1")] == ["server-1"]
    assert configmap_value(lab, "server-1", "drill") == "drill-42"

    for host in JOINERS:
        lab.script(host, f"rm -rf {SERVER_DIR}/db")
        join_server(lab, host)
    wait_three_voters(lab)
    assert configmap_value(lab, "server-3", "drill", lb) == "drill-42"
    wait_for(lambda: etcd_annotations_match_members(lab), 30, what="Node etcd annotations = new member names")
    tokens_after = {read_token(lab, h, secret.password) for h in SERVERS}
    ca_after = {lab.out(h, f"sha256sum {SERVER_DIR}/tls/server-ca.crt").split()[0] for h in SERVERS}
    assert len(ca_after) == 1 and tokens_after == {(ca_after.pop(), True)}, "tokens/CA differ after the restore"
    assert configmap_value(lab, "server-2", "after-snapshot", lb) is None, "data written after the snapshot survived"
    # the agent kept running through the outage and reports again through the LB
    wait_for(lambda: ready_since(lab, AGENT, reset_at), 90, what="agent Ready again after the restore")


# --- 8. whole-cluster power cycle: every server off, then on again ------------------------------------------------
def test_all_servers_power_cycle(rtlab, secret):
    require(secret, "servers", "kubectl")
    lab, lb = rtlab, lb_url(rtlab)
    assert lab.kubectl("server-1", "create configmap before-outage --from-literal=value=kept", lb).returncode == 0
    for host in SERVERS:
        lab.cli("stop", host)
    powered_on = int(lab.out(AGENT, "date +%s"))
    # all at once: a lone etcd member has no quorum, so k3s (Type=notify) holds each host's boot until the others
    # are up, and `lab start` waits for the boot to finish
    with concurrent.futures.ThreadPoolExecutor(len(SERVERS)) as pool:
        list(pool.map(lambda h: lab.cli("start", h), SERVERS))
    for host in SERVERS:
        wait_for(lambda h=host: is_active(lab, h), 180, what=f"k3s active on {host} after the outage")
    wait_three_voters(lab, 60)
    for host in SERVERS:
        assert configmap_value(lab, host, "before-outage") == "kept", host
        wait_for(lambda h=host: ready_since(lab, h, powered_on), 60, what=f"{host} Ready after the outage")
    if "agent" in secret.done:
        wait_for(lambda: ready_since(lab, AGENT, powered_on), 60, what="agent Ready after the outage")
