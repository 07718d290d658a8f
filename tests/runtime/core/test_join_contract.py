"""Joining nodes: join-time token checks, node passwords, the server certificate's names, and an agent with a wrong
token (the stand-in or EDGEFLEET_K3S_BIN). Each docstring states the k3s behaviour and its source file."""

from __future__ import annotations

import base64
import hashlib

from core_helpers import TOKEN, Admin, free_port, kubeconfig_line, still_running_without, wait_exit
from test_token_contract import UP, server_token, start_agent

CONFIG_WAIT = "Waiting to retrieve agent configuration; server is not ready"


def joining_server(nodes, server, extra: str):
    port = free_port()
    node = nodes("s2", "server", "")
    node.config.write_text(
        f"server: {server.url}\nnode-name: s2\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n"
        + kubeconfig_line(node.etc)
        + extra
    )
    return node.start()


def text(node) -> str:
    return node.log().replace('\\"', '"')


def test_token_ca_error_when_joining_is_fatal(nodes, server):
    """pkg/cluster/bootstrap.go shouldBootstrapLoad: the join token is validated against the server's CA before
    anything else; a CA hash mismatch fails the start ("failed to validate token")."""
    bad = "K10" + "0" * 64 + "::server:" + TOKEN
    node = joining_server(nodes, server, f'token: "{bad}"\n')
    assert wait_exit(node, 60) == 1
    assert "failed to validate token" in text(node)
    assert "token CA hash does not match the Cluster CA certificate hash" in text(node)


def test_agent_token_ca_error_in_the_config_check_is_fatal(nodes, server):
    """pkg/cluster/bootstrap.go compareConfig: the agent token (else the token) is validated again as user node;
    a token or CA error there is returned and wrapped "failed to validate server configuration" — only a failed GET
    of /v1-k3s/config is skipped with a warning."""
    bad_agent = "K10" + "1" * 64 + "::node:whatever"
    node = joining_server(nodes, server, f'token: "{server_token(server)}"\nagent-token: "{bad_agent}"\n')
    assert wait_exit(node, 60) == 1
    assert "failed to validate server configuration" in text(node)
    assert "token CA hash does not match" in text(node)
    assert "Skipping cluster configuration validation" not in text(node)


def test_node_password_is_checked_whenever_its_secret_exists(nodes, server):
    """pkg/nodepassword/nodepassword.go ensure(): the node-password secret is verified whenever it exists, whether
    or not a Node of that name does; a mismatch is a 403, which the agent reports as "Node password rejected"
    (pkg/agent/config/config.go) and retries."""
    admin = Admin(server.etc / "k3s" / "k3s.yaml")
    other = base64.b64encode(hashlib.sha256(b"some-other-password").digest()).decode()
    status, _ = admin(
        "POST",
        "/api/v1/namespaces/kube-system/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "k3s.cattle.io/node-password",
            "metadata": {"name": "a7.node-password.k3s", "namespace": "kube-system"},
            "data": {"hash": base64.b64encode(other.encode()).decode()},
        },
    )
    assert status == 201
    assert admin("GET", "/api/v1/nodes/a7")[0] == 404
    agent = start_agent(nodes, server, "a7", server_token(server))
    agent.wait_log("Node password rejected", timeout=40)
    assert CONFIG_WAIT in agent.log()
    still_running_without(agent, UP, 2)


def test_join_host_is_checked_against_the_server_certificate(nodes, server):
    """Go's TLS client (clientaccess.getCACerts, third request with the downloaded bundle) checks the URL's host
    against the serving certificate's SANs: 127.0.0.2 is not among them, so validation fails and the agent keeps
    retrying ("CA cert validation failed")."""
    url = server.url.replace("127.0.0.1", "127.0.0.2")
    agent = start_agent(nodes, server, "a8", server_token(server), url=url)
    agent.wait_log("CA cert validation failed", timeout=30)
    still_running_without(agent, UP, 3)


def test_agent_with_a_wrong_password_retries_forever(nodes, server):
    """pkg/agent/config/config.go Get: the token's CA hash validates, /v1-k3s/config answers 401 "not authorized"
    (pkg/server/auth/auth.go), and the agent logs "Waiting to retrieve agent configuration; server is not ready:
    …" with the server's answer every 5-10 s, forever; it never reports ready (no READY=1, the unit stays
    activating) and does not exit."""
    wrong = server_token(server).rsplit(":", 1)[0] + ":not-the-password"
    agent = start_agent(nodes, server, "a9", wrong)
    agent.wait_log(CONFIG_WAIT, timeout=30, times=2)
    assert f"{CONFIG_WAIT}: failed to retrieve configuration from server: not authorized" in agent.log()
    assert agent.proc.poll() is None
    assert UP not in agent.log()
    assert "not-the-password" not in agent.log()
