"""The loadbalancer role on a podman lab (2 servers, 2 load balancers): check mode on fresh hosts, idempotence, the
VIP forwarding to healthy backends, VIP failover when haproxy stops or the MASTER host goes down, and a dead backend
taken out by the health check; then playbooks/report.yml through that VIP (healthy, unhealthy, no etcd, no k3s).

k3s itself is not installed: every server runs a small HTTPS responder on :6443 (fake_backends.yml) that answers
GET /ping with "pong" like k3s, GET /whoami with its host name so the test sees which backend answered, and the
node list and /db/info the test writes; a fake `k3s kubectl get nodes` fetches the node list through --server.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from edgefleet_testing import Lab, Run, flat, playbook, recap

pytestmark = pytest.mark.lab

LAB = Lab("lbtest")
HERE = Path(__file__).resolve().parent
LBS = ("lb-1", "lb-2")
PORT = 6443


def _play(name: str, *args: str) -> Run:
    """tests/integration/loadbalancer/NAME against the lab."""
    return playbook(LAB.inventory, str(HERE / name), *args, timeout=300)


def https_get(address: str, port: int, path: str, timeout: float = 3.0) -> tuple[int, str]:
    """GET https://ADDRESS:PORT/PATH without certificate verification (the test backends are self-signed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"https://{address}:{port}{path}", context=ctx, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


def _holders(vip: str) -> list[str]:
    """Load balancers that hold the VIP on an interface right now."""
    out = []
    for lb in LBS:
        proc = LAB.sh(lb, "ip", "-o", "-4", "addr", "show", check=False)
        if proc.returncode == 0 and f" {vip}/" in proc.stdout:
            out.append(lb)
    return out


def _wait(what: str, probe: Callable[[], object], timeout: float = 30.0):
    """Poll PROBE until it returns something truthy; fail with WHAT and the last value after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _whoami(vip: str, count: int) -> list[str]:
    names = []
    for path in ["/whoami"] * count:
        status, body = https_get(vip, PORT, path)
        assert status == 200
        names.append(body)
    return names


def _fingerprint(lb: str) -> str:
    """What check mode must not change: the config files and the service states."""
    return LAB.out(
        lb,
        "sha256sum /etc/haproxy/haproxy.cfg; ls -a /etc/keepalived; "
        "systemctl is-active haproxy keepalived; systemctl is-enabled haproxy keepalived; ip -o -4 addr show; true",
    )


@pytest.fixture(scope="module")
def lab() -> dict:
    """The lab LAB (2 servers, 2 load balancers), with its VIP; always removed afterwards."""
    try:
        inventory = LAB.up(servers=2, lbs=2, publish=False)
        yield {"inventory": inventory, "vip": LAB.cluster_vars()["k3s_lb_vip"]}
    finally:
        LAB.down()


def test_check_mode_on_fresh_load_balancers_changes_nothing(lab):
    before = {lb: _fingerprint(lb) for lb in LBS}
    proc = _play("converge.yml", "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    counts = recap(proc.stdout)
    for lb in LBS:
        assert counts[lb]["changed"] > 0, f"check mode on a fresh {lb} should report changes"
    assert "+    mode tcp" in proc.stdout, "the haproxy diff is missing"
    assert "+    virtual_router_id 51" in proc.stdout, "the keepalived diff is missing"
    after = {lb: _fingerprint(lb) for lb in LBS}
    assert after == before
    for lb in LBS:
        lines = after[lb].splitlines()
        assert "keepalived.conf" not in lines, f"{lb}: check mode wrote keepalived.conf"
        assert lines.count("inactive") == 2, f"{lb}: check mode started a service"


def test_converge_then_second_run_changes_nothing(lab):
    backends = _play("fake_backends.yml")
    assert backends.returncode == 0, backends.stdout[-3000:]
    first = _play("converge.yml")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert all(recap(first.stdout)[lb]["changed"] > 0 for lb in LBS)
    second = _play("converge.yml")
    assert second.returncode == 0, second.stdout[-4000:]
    counts = recap(second.stdout)
    assert {lb: counts[lb]["changed"] for lb in LBS} == {lb: 0 for lb in LBS}, second.stdout[-4000:]


def test_vip_on_first_lb_forwards_to_every_backend(lab):
    vip = lab["vip"]
    assert _wait("the VIP on lb-1 only", lambda: _holders(vip) == ["lb-1"])
    assert https_get(vip, PORT, "/ping") == (200, "pong")
    assert set(_whoami(vip, 6)) == {"server-1", "server-2"}


def test_vip_moves_to_backup_when_haproxy_stops_and_comes_back(lab):
    vip = lab["vip"]
    LAB.out("lb-1", "systemctl stop haproxy")
    try:
        _wait("the VIP to move to lb-2", lambda: _holders(vip) == ["lb-2"])
        assert https_get(vip, PORT, "/ping") == (200, "pong")
    finally:
        LAB.out("lb-1", "systemctl start haproxy")
    _wait("the VIP back on lb-1 (higher priority)", lambda: _holders(vip) == ["lb-1"])
    assert https_get(vip, PORT, "/ping") == (200, "pong")


def test_vip_moves_when_the_master_host_is_down(lab):
    vip = lab["vip"]
    LAB.cli("stop", "lb-1")
    try:
        _wait("the VIP on lb-2 with lb-1 powered off", lambda: _holders(vip) == ["lb-2"])
        assert https_get(vip, PORT, "/ping") == (200, "pong")
    finally:
        LAB.cli("start", "lb-1")
    # keepalived and haproxy are enabled: the rebooted MASTER takes the VIP back by itself.
    _wait("the VIP back on the rebooted lb-1", lambda: _holders(vip) == ["lb-1"], timeout=45)
    assert https_get(vip, PORT, "/ping") == (200, "pong")


def test_dead_backend_is_taken_out_and_comes_back(lab):
    vip = lab["vip"]
    master = _wait("one VIP holder", lambda: _holders(vip))[0]
    assert LAB.haproxy_backends(master) == {"server-1": "UP", "server-2": "UP"}
    LAB.out("server-2", "systemctl stop fake-k3s")
    try:
        _wait("server-2 marked DOWN", lambda: LAB.haproxy_backends(master).get("server-2") == "DOWN")
        assert LAB.haproxy_backends(master)["server-1"] == "UP"
        assert set(_whoami(vip, 6)) == {"server-1"}
    finally:
        LAB.out("server-2", "systemctl start fake-k3s")
    _wait("server-2 back UP", lambda: LAB.haproxy_backends(master).get("server-2") == "UP")
    assert set(_whoami(vip, 6)) == {"server-1", "server-2"}


def test_vrrp_password_file_is_private_idempotent_and_removable(lab):
    secret = "Lb7pass9"
    first = _play("converge.yml", "--diff", "-e", f"k3s_lb_auth_pass={secret}")
    assert first.returncode == 0, first.stdout[-4000:]
    assert secret not in first.stdout + first.stderr
    for lb in LBS:
        assert LAB.out(lb, "stat -c %a /etc/keepalived/k3s-vrrp-auth.conf").strip() == "600"
    again = _play("converge.yml", "-e", f"k3s_lb_auth_pass={secret}")
    assert again.returncode == 0, again.stdout[-4000:]
    assert {lb: recap(again.stdout)[lb]["changed"] for lb in LBS} == {lb: 0 for lb in LBS}
    # Both routers accept each other's authenticated adverts: still one VIP holder, the MASTER.
    time.sleep(4)
    assert _holders(lab["vip"]) == ["lb-1"]
    back = _play("converge.yml")
    assert back.returncode == 0, back.stdout[-4000:]
    for lb in LBS:
        assert "k3s-vrrp-auth.conf" not in LAB.out(lb, "ls /etc/keepalived").split()
    assert _wait("the VIP on lb-1 only", lambda: _holders(lab["vip"]) == ["lb-1"])


# playbooks/report.yml against the same lab: the fake k3s on the servers serves nodes.json and dbinfo.json, and logs
# the Host each node list was asked at.


def _node(name: str, ip: str, ready: bool = True) -> dict:
    labels = {f"node-role.kubernetes.io/{r}": "true" for r in ("control-plane", "etcd", "master")}
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown"}],
            "nodeInfo": {"kubeletVersion": "v1.36.1+k3s1"},
            "addresses": [{"type": "InternalIP", "address": ip}],
        },
    }


def _member(name: str, ip: str, learner: bool = False) -> dict:
    member = {"ID": abs(hash(name)), "name": name, "peerURLs": [f"https://{ip}:2380"]}
    if learner:
        member["isLearner"] = True  # k3s omits isLearner when false
    return member


def _cluster(lab, nodes: list[dict], members: list[dict] | None) -> None:
    """Serve NODES and MEMBERS (None: no embedded etcd, /db/info answers 400) from both servers."""
    for host in ("server-1", "server-2"):
        files = {"nodes.json": {"kind": "NodeList", "items": nodes}}
        if members is not None:
            files["dbinfo.json"] = {"members": members}
        code = "import base64, json, os\nos.chdir('/opt/fake-k3s')\n"
        code += "for f in ('nodes.json', 'dbinfo.json'):\n    os.path.exists(f) and os.remove(f)\n"
        for name, obj in files.items():
            blob = base64.b64encode(json.dumps(obj).encode()).decode()
            code += f"open({name!r}, 'wb').write(base64.b64decode({blob!r}))\n"
        LAB.sh(host, "python3", "-c", code)


def _servers(lab) -> tuple[list[dict], list[dict]]:
    prefix = lab["vip"].rsplit(".", 1)[0]
    nodes = [_node("server-1", f"{prefix}.20"), _node("server-2", f"{prefix}.21")]
    members = [_member("server-1-0a1b2c3d", f"{prefix}.20"), _member("server-2-9e8f7a6b", f"{prefix}.21")]
    return nodes, members


def _report(lab, *args: str) -> Run:
    return playbook(LAB.inventory, "report.yml", *args, timeout=300)


def test_report_healthy_cluster_through_the_vip(lab):
    nodes, members = _servers(lab)
    _cluster(lab, nodes, members)
    for host in ("server-1", "server-2"):
        LAB.out(host, "rm -f /opt/fake-k3s/requests.log")
    for args in ((), ("--check",)):
        proc = _report(lab, *args)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert recap(proc.stdout)["server-1"]["changed"] == 0
        text = flat(proc.stdout)
        assert f"API https://{lab['vip']}:6443 (through the load balancer): 2 nodes, 2 Ready" in text
        assert "server-2 Ready control-plane,etcd,master v1.36.1+k3s1" in text
        assert "etcd: 2 members, 2 voters, 0 learners" in text
        assert "PROBLEM" not in text
    # both runs read the nodes through the VIP (whichever server haproxy picked)
    hosts = LAB.out("server-1", "cat /opt/fake-k3s/requests.log 2>/dev/null; true").split()
    hosts += LAB.out("server-2", "cat /opt/fake-k3s/requests.log 2>/dev/null; true").split()
    assert hosts == [f"{lab['vip']}:6443"] * 2


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not_ready", "not Ready [server-2]"),
        ("learner", "servers that are not voting etcd members [server-2]"),
        ("missing", "missing nodes [server-2]"),
    ],
)
def test_report_fails_on_an_unhealthy_cluster(lab, case, expected):
    nodes, members = _servers(lab)
    if case == "not_ready":
        nodes[1] = _node("server-2", nodes[1]["status"]["addresses"][0]["address"], ready=False)
    elif case == "learner":
        members[1]["isLearner"] = True
    else:
        nodes, members = nodes[:1], members[:1]
    _cluster(lab, nodes, members)
    proc = _report(lab)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert expected in flat(proc.stdout), proc.stdout[-3000:]
    assert "The cluster is not healthy" in flat(proc.stdout)


def test_report_without_embedded_etcd(lab):
    nodes, _members = _servers(lab)
    _cluster(lab, nodes, None)
    proc = _report(lab)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "etcd: not used (SQLite or external datastore)" in flat(proc.stdout)


def test_report_before_k3s_runs(lab):
    LAB.out("server-1", "mv /etc/rancher/k3s/k3s.yaml /etc/rancher/k3s/k3s.yaml.off")
    try:
        check = _report(lab, "--check")
        assert check.returncode == 0, check.stdout[-3000:]
        assert "no cluster to report" in flat(check.stdout)
        real = _report(lab)
        assert real.returncode != 0
        assert "k3s has not run there" in flat(real.stdout)
    finally:
        LAB.out("server-1", "mv /etc/rancher/k3s/k3s.yaml.off /etc/rancher/k3s/k3s.yaml")
