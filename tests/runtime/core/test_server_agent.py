"""A `k3s server` (sqlite) and `k3s agent` process (the stand-in, or EDGEFLEET_K3S_BIN): files, tokens,
endpoints, real kubectl."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import stat
import subprocess
import time
import urllib.error
import urllib.request

import k3sbin
from core_helpers import RUNTIME, TOKEN, free_port


def fetch(url: str, auth: tuple[str, str] | None = None, method: str = "GET"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_server_files_tokens_and_modes(server):
    sdir = server.data / "server"
    assert mode(sdir) == 0o700
    token = (sdir / "token").read_text()
    assert mode(sdir / "token") == 0o600
    ca = (sdir / "tls" / "server-ca.crt").read_bytes()
    assert token == f"K10{hashlib.sha256(ca).hexdigest()}::server:{TOKEN}\n"
    # printTokens (pkg/server/server.go) links both to filepath.Join(<absolute data dir>/server, "token")
    assert os.readlink(sdir / "node-token") == str(sdir / "token")
    assert os.readlink(sdir / "agent-token") == str(sdir / "token")
    passwd = (sdir / "cred" / "passwd").read_text()
    assert f"{TOKEN},server,server,k3s:server" in passwd
    assert mode(sdir / "cred" / "passwd") == 0o600
    kubeconfig = server.etc / "k3s" / "k3s.yaml"
    assert mode(kubeconfig) == 0o600
    assert (sdir / "db" / "state.db").exists()
    for key in ("server-ca.key", "client-ca.key", "client-admin.key", "etcd/server-ca.key"):
        assert mode(sdir / "tls" / key) == 0o600, key
    assert "runtimes.yaml" in os.listdir(sdir / "manifests")
    assert TOKEN not in server.log()


def test_supervisor_endpoints_and_auth(server):
    assert fetch(server.url + "/ping") == (200, b"pong")
    status, body = fetch(server.url + "/cacerts")
    assert status == 200 and body == (server.data / "server" / "tls" / "server-ca.crt").read_bytes()
    assert fetch(server.url + "/v1-k3s/config")[0] == 401
    assert fetch(server.url + "/v1-k3s/config", ("node", "wrong"))[0] == 401
    # groups do not nest: server credentials are refused on agent routes
    assert fetch(server.url + "/v1-k3s/config", ("server", TOKEN))[0] == 403
    status, body = fetch(server.url + "/v1-k3s/config", ("node", TOKEN))
    assert status == 200
    config = json.loads(body)
    assert config["ClusterDomain"] == "cluster.local" and "Token" not in json.dumps(config)
    assert fetch(server.url + "/api/v1/nodes")[0] == 401
    # no embedded etcd on a sqlite server
    status, body = fetch(server.url + "/db/info")
    assert status == 400 and b"etcd datastore disabled" in body
    assert fetch(server.url + "/v1-k3s/server-bootstrap", ("server", TOKEN))[0] == 400


def test_real_kubectl_sees_ready_node_and_runtimeclasses(server):
    kubectl = k3sbin.tool_or_fail("kubectl", "the kubectl contract needs a real kubectl")
    env = {**os.environ, "KUBECONFIG": str(server.etc / "k3s" / "k3s.yaml")}
    out = subprocess.run(
        [kubectl, "get", "nodes", "-o", "json"], env=env, capture_output=True, text=True, check=True
    ).stdout
    (node,) = json.loads(out)["items"]
    assert node["metadata"]["name"] == "s1"
    ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready == ["True"]
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"
    names = subprocess.run(
        [kubectl, "get", "runtimeclass", "-o", "name"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "runtimeclass.node.k8s.io/nvidia" in names and "runtimeclass.node.k8s.io/nvidia-cdi" not in names


def _agent(nodes, server, name, token_text, extra=""):
    agent = nodes(name, "agent", f"server: {server.url}\nnode-name: {name}\nnode-ip: 127.0.0.1\n{extra}")
    token_file = agent.root / "token"
    token_file.write_text(token_text)
    os.chmod(token_file, 0o600)
    agent.env["K3S_TOKEN_FILE"] = str(token_file)
    return agent.start()


def test_agent_joins_with_full_token(nodes, server):
    token = (server.data / "server" / "token").read_text().strip()
    agent = _agent(nodes, server, "a1", token, "node-label: [zone=shelf-a]\n")
    agent.wait_log("k3s agent is up and running")
    adir = agent.data / "agent"
    assert mode(adir) == 0o700 and mode(adir / "client-kubelet.key") == 0o600
    assert mode(agent.node_password_path) == 0o600
    assert (adir / "etc" / "containerd" / "config.toml").exists()
    status, body = fetch(server.url + "/api/v1/nodes/a1")
    assert status == 401  # anonymous is refused even after the join
    assert token.split("::")[1] not in agent.log()


def test_agent_with_wrong_ca_hash_is_refused(nodes, server):
    bad = "K10" + "0" * 64 + "::node:" + TOKEN
    agent = _agent(nodes, server, "a2", bad)
    agent.wait_log("token CA hash does not match the Cluster CA certificate hash", timeout=20)
    time.sleep(1)
    assert "k3s agent is up and running" not in agent.log()
    assert not (agent.data / "agent" / "client-kubelet.crt").exists()


def test_restart_with_other_token_is_refused(server):
    server.stop()
    server.config.write_text(server.config.read_text().replace(TOKEN, "another-token-0123456789"))
    server.start()
    deadline = time.monotonic() + 20
    while server.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.proc.returncode == 1
    assert "bootstrap data already found and encrypted with different token" in server.log()


def test_unknown_agent_config_key_fails_like_urfave(nodes, server):
    agent = nodes("a3", "agent", f"server: {server.url}\ncluster-init: true\n")
    agent.env["K3S_TOKEN"] = TOKEN
    agent.start()
    assert agent.proc.wait(20) == 1
    assert "Incorrect Usage: flag provided but not defined: -cluster-init" in agent.log()


def test_cluster_reset_refused_with_server_url(nodes):
    node = nodes("s9", "server", f"server: https://127.0.0.1:{free_port()}\ncluster-reset: true\n")
    node.start()
    assert node.proc.wait(20) == 1
    assert "cannot perform cluster-reset while server URL is set" in node.log()


def test_token_rotate_changes_the_token(server):
    new = "rotated-token-0123456789abcdef"
    env = {**server.env, "K3S_TOKEN": TOKEN}
    proc = subprocess.run(
        [*k3sbin.command(), "token", "rotate", "--server", server.url, "--new-token", new],
        env=env, cwd=RUNTIME, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Token rotated, restart k3s nodes with new token" in proc.stdout
    assert new not in proc.stdout + proc.stderr
    token = (server.data / "server" / "token").read_text()
    assert token.endswith(f"::server:{new}\n") and mode(server.data / "server" / "token") == 0o600
    assert fetch(server.url + "/v1-k3s/config", ("node", TOKEN))[0] == 401
    assert fetch(server.url + "/v1-k3s/config", ("node", new))[0] == 200
