"""Three real etcd members formed through the join code; promotion by the leader loop; quorum; removal."""

import json
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest
from harness import wait_for
from k3srt import etcd


def members(node):
    return node.runtime.client.member_list()


def voters(node):
    return [m for m in members(node) if not m.get("isLearner")]


def form_cluster(make_node, count=3):
    first = make_node("s1", node_ip="127.0.0.2")
    first.start("new")
    nodes = [first]
    for i in range(2, count + 1):
        node = make_node(f"s{i}", node_ip=f"127.0.0.{i + 1}")
        node.start("join", first.ctx.url)
        nodes.append(node)
        wait_for(lambda n=i: len(voters(first)) == n, 60, what=f"s{i} promoted to voter")
    return nodes


def test_three_member_cluster_learner_then_voter(make_node):
    s1 = make_node("s1", node_ip="127.0.0.2")
    s1.start("new")
    s2 = make_node("s2", node_ip="127.0.0.3")
    s2.start("join", s1.ctx.url)
    joined = [m for m in members(s1) if m["name"] == s2.runtime.name]
    assert len(joined) == 1 and joined[0]["peerURLs"] == [f"https://127.0.0.3:{s2.ctx.etcd_peer_port}"]
    # etcd listens on loopback and the node IP, advertises the node IP
    args = s2.runtime.proc.args
    port = s2.ctx.etcd_client_port
    assert f"--listen-client-urls=https://127.0.0.1:{port},https://127.0.0.3:{port}" in args
    assert f"--advertise-client-urls=https://127.0.0.3:{port}" in args
    assert "--initial-cluster-state=existing" in args
    assert any(m.startswith(f"Adding member {s2.runtime.name}=https://127.0.0.3:") for m in s2.ctx.messages())
    # the leader's promotion loop makes it a voter
    wait_for(lambda: len(voters(s1)) == 2, 60, what="s2 promoted")
    assert any("Promoted learner" in m for n in (s1, s2) for m in n.ctx.messages())
    s3 = make_node("s3", node_ip="127.0.0.4")
    s3.start("join", s1.ctx.url)
    wait_for(lambda: len(voters(s1)) == 3, 60, what="s3 promoted")
    names = sorted(m["name"] for m in members(s2))
    assert names == sorted(n.runtime.name for n in (s1, s2, s3))
    # data written on one member is visible on another
    s3.kv.put("/registry/x", b"from-s3")
    assert wait_for(lambda: s1.kv.get("/registry/x"), 10)[0] == b"from-s3"


def test_third_join_waits_while_second_is_learner(make_node):
    s1 = make_node("s1")
    s1.start("new")
    # slow promotion down so s2 stays a learner for a while
    s1.runtime.stop_event.set()
    s2 = make_node("s2")
    s2.start("join", s1.ctx.url)
    s2.runtime.stop_event.set()
    assert [m for m in members(s1) if m.get("isLearner")]
    s3 = make_node("s3")
    s3.ctx.etcd_start_timeout = 4.0
    with pytest.raises(etcd.EtcdError, match="too many learner members"):
        s3.start("join", s1.ctx.url)
    waiting = (
        "Waiting for other members to finish joining etcd cluster: etcdserver: too many learner members in cluster"
    )
    assert waiting in s3.ctx.messages("info")
    assert not any(m["peerURLs"] == [f"https://127.0.0.1:{s3.ctx.etcd_peer_port}"] for m in members(s1))


def test_duplicate_node_name_refused(make_node):
    s1 = make_node("s1")
    s1.start("new")
    # a second server with the same node name (own data dir) must be refused before touching the cluster
    other = make_node("s1-dup")
    other.ctx.node_name = "s1"
    msg = "etcd cluster join failed: duplicate node name found, please use a unique name for this node"
    with pytest.raises(etcd.EtcdError) as err:
        other.start("join", s1.ctx.url)
    assert str(err.value) == msg
    # the member name file is forgotten so that a fixed node name gets a new member name
    assert not os.path.exists(os.path.join(other.ctx.server_dir, "db", "etcd", "name"))
    assert len(members(s1)) == 1


def _get(url, ctx, auth=True, method="GET"):
    context = ssl.create_default_context(cafile=f"{ctx.tls_dir}/server-ca.crt")
    req = urllib.request.Request(url, method=method, data=b"{}" if method == "POST" else None)
    if auth:
        import base64

        req.add_header("Authorization", "Basic " + base64.b64encode(f"server:{ctx.server_password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_db_info_shape(make_node):
    s1 = make_node("s1", node_ip="127.0.0.2")
    status, body = _get(s1.ctx.url + "/db/info", s1.ctx)
    assert status == 500  # etcd not started yet
    s1.start("new")
    s1.runtime.stop_event.set()  # keep s2 a learner
    s2 = make_node("s2")
    s2.start("join", s1.ctx.url)
    status, body = _get(s1.ctx.url + "/db/info", s1.ctx)
    assert status == 200 and set(body) == {"members"}
    by_name = {m["name"]: m for m in body["members"]}
    m1, m2 = by_name[s1.runtime.name], by_name[s2.runtime.name]
    assert set(m1) == {"ID", "name", "peerURLs", "clientURLs"}  # isLearner omitted when false
    assert isinstance(m1["ID"], int) and m1["ID"] == s1.runtime.member_id
    assert m1["peerURLs"] == [f"https://127.0.0.2:{s1.ctx.etcd_peer_port}"]
    assert m1["clientURLs"] == [f"https://127.0.0.2:{s1.ctx.etcd_client_port}"]
    assert m2["isLearner"] is True
    status, _ = _get(s1.ctx.url + "/db/info", s1.ctx, method="POST")
    assert status == 405
    status, body = _get(s1.ctx.url + "/db/info", s1.ctx, auth=False)  # loopback clients need no credentials
    assert status == 200 and len(body["members"]) == 2


def test_quorum_loss_blocks_writes(make_node):
    s1, s2, s3 = form_cluster(make_node)
    s1.kv.put("/before", b"ok")
    s2.stop_etcd()
    s3.stop_etcd()
    s1.kv.client.timeout = 5.0
    s1.kv.client.close()
    start = time.monotonic()
    with pytest.raises((etcd.EtcdUnavailable, etcd.EtcdAPIError)):
        s1.kv.put("/after", b"lost")
    assert time.monotonic() - start < 30
    with pytest.raises((etcd.EtcdUnavailable, etcd.EtcdAPIError)):
        s1.kv.get("/before")  # linearizable reads need quorum too
    # one member back (existing data) restores quorum
    s2.start("existing")
    wait_for(lambda: s1.kv.put("/after", b"back"), 60, what="writes after quorum is restored")
    assert s2.kv.get("/before")[0] == b"ok"


def test_member_removal_writes_tombstone(make_node):
    s1, s2, s3 = form_cluster(make_node)
    removed = etcd.on_node_deleted(s1.ctx, "s3")  # asynchronous, retries while etcd says "unhealthy cluster"
    assert removed == [s3.runtime.name]
    wait_for(lambda: len(members(s1)) == 2, 60, what="member removed")
    assert sorted(m["name"] for m in members(s1)) == sorted([s1.runtime.name, s2.runtime.name])
    tomb = os.path.join(s3.ctx.server_dir, "db", "etcd", "tombstone")
    wait_for(lambda: os.path.exists(tomb), 30, what="tombstone on removed node")
    msg = "This node has been removed from the cluster - please restart k3s to rejoin the cluster"
    assert msg in s3.ctx.messages()
    wait_for(lambda: not s3.runtime.proc.alive(), 30, what="removed etcd stopped")
    s3.stop_etcd()
    # restart without --server: refused with k3s's message
    with pytest.raises(etcd.EtcdError, match="tombstone file has been detected but --server is empty"):
        s3.start("existing")
    # restart with --server: data dir backed up, node rejoins under a new member name
    s3.ctx.config["server"] = s1.ctx.url
    s3.start("existing")
    db = os.path.join(s3.ctx.server_dir, "db")
    assert [d for d in os.listdir(db) if d.startswith("etcd-backup-")]
    assert not os.path.exists(tomb)
    wait_for(lambda: len(voters(s1)) == 3, 60, what="s3 rejoined as voter")
    assert s3.runtime.name in [m["name"] for m in members(s1)]
