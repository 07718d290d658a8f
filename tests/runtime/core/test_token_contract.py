"""Token formats, the CA hash and token files, checked on running `k3s server` / `k3s agent` processes (the stand-in
or EDGEFLEET_K3S_BIN). Each docstring states the k3s behaviour and the k3s source file it follows."""

from __future__ import annotations

import hashlib
import os

from core_helpers import (
    TOKEN,
    fetch,
    free_port,
    install_server_ca,
    kubeconfig_line,
    make_ca,
    mode,
    still_running_without,
    wait_exit,
)

UP = "k3s agent is up and running"


def start_server(nodes, name="s1", extra="", data_setup=None):
    port = free_port()
    node = nodes(name, "server", "")
    node.config.write_text(
        f'token: "{TOKEN}"\nnode-name: {name}\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n'
        + kubeconfig_line(node.etc)
        + extra
    )
    node.port, node.url = port, f"https://127.0.0.1:{port}"
    if data_setup is not None:
        data_setup(node.data)
    return node.start()


def start_agent(nodes, server, name, token_text, extra="", url=None, binary=None):
    agent = nodes(name, "agent", f"server: {url or server.url}\nnode-name: {name}\nnode-ip: 127.0.0.1\n{extra}")
    token_file = agent.root / "token"
    token_file.write_text(token_text)
    os.chmod(token_file, 0o600)
    agent.env["K3S_TOKEN_FILE"] = str(token_file)
    return agent.start(binary=binary)


def server_token(server) -> str:
    return (server.data / "server" / "token").read_text().strip()


def test_ca_bundle_with_an_intermediate_hashes_the_root_der(nodes):
    """k3s hashCA (pkg/clientaccess/token.go): a bundle of several certificates is verified from its first
    certificate; the token hash is the SHA-256 of the DER of the root that chain ends at, not of the file."""
    root = make_ca("edgefleet-root-ca")
    inter = make_ca("edgefleet-intermediate-ca", issuer=root)
    bundle = inter.pem + root.pem
    server = start_server(nodes, data_setup=lambda d: install_server_ca(d, bundle, inter.key_pem))
    server.wait_log("k3s is up and running")
    want = hashlib.sha256(root.der).hexdigest()
    assert server_token(server) == f"K10{want}::server:{TOKEN}"
    assert want != hashlib.sha256(bundle).hexdigest()
    agent = start_agent(nodes, server, "a1", server_token(server))
    agent.wait_log(UP, timeout=60)


def test_ca_bundle_of_two_roots_hashes_the_raw_bytes(nodes):
    """k3s hashCA (pkg/clientaccess/token.go): when the first certificate does not verify against the others (two
    unrelated roots), the hash falls back to the SHA-256 of the raw bundle bytes."""
    first, second = make_ca("edgefleet-root-a"), make_ca("edgefleet-root-b")
    bundle = first.pem + second.pem
    server = start_server(nodes, data_setup=lambda d: install_server_ca(d, bundle, first.key_pem))
    server.wait_log("k3s is up and running")
    assert server_token(server) == f"K10{hashlib.sha256(bundle).hexdigest()}::server:{TOKEN}"
    agent = start_agent(nodes, server, "a1", server_token(server))
    agent.wait_log(UP, timeout=60)


def test_upper_case_ca_hash_is_refused(nodes, server):
    """k3s validateCACerts (pkg/clientaccess/token.go) compares the token's hash with the served CA's hash as
    strings: an upper-case hash never matches, and the agent keeps retrying (pkg/agent/run.go)."""
    text = server_token(server)
    hash_part = text[3:67]
    agent = start_agent(nodes, server, "a1", "K10" + hash_part.upper() + text[67:])
    agent.wait_log(f"token CA hash does not match the Cluster CA certificate hash: {hash_part.upper()} != {hash_part}")
    still_running_without(agent, UP, 3)


def test_k10_token_without_hash_separator_is_credentials_only(nodes, server):
    """k3s parseToken (pkg/clientaccess/token.go): ``K10user:pw`` has no ``::``, so it carries no CA hash and
    ``user:pw`` are the credentials; the agent warns that the CA is not validated and joins."""
    agent = start_agent(nodes, server, "a1", f"K10node:{TOKEN}")
    agent.wait_log(UP, timeout=60)
    assert "the token does not include a CA hash" in agent.log()


def test_bootstrap_shaped_server_token_is_refused_at_start(nodes):
    """k3s util.NormalizeToken (pkg/util/token.go), called when the server saves its bootstrap data
    (pkg/cluster/storage.go Save): a bootstrap token ``<id>.<secret>`` is not a password, the server fails."""
    port = free_port()
    node = nodes("s1", "server", f'token: "abcdef.0123456789abcdef"\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n')
    node.config.write_text(node.config.read_text() + kubeconfig_line(node.etc))
    node.start()
    assert wait_exit(node) == 1
    assert "failed to normalize server token" in node.log()


def test_token_file_wins_over_token(nodes):
    """pkg/cli/server/server.go and pkg/cli/agent/agent.go read --token-file after --token, so the file's content
    (trimmed, pkg/util/file.go ReadFile) is the token when both are set."""
    port = free_port()
    server = nodes("s1", "server", "")
    token_file = server.root / "server-token"
    token_file.write_text("from-the-file-0123456789\n")
    server.config.write_text(
        f'token: "{TOKEN}"\ntoken-file: {token_file}\nnode-name: s1\nnode-ip: 127.0.0.1\n'
        f"https-listen-port: {port}\n" + kubeconfig_line(server.etc)
    )
    server.url = f"https://127.0.0.1:{port}"
    server.start().wait_log("k3s is up and running")
    assert server_token(server).endswith("::server:from-the-file-0123456789")
    assert fetch(server.url + "/v1-k3s/config", ("node", "from-the-file-0123456789"))[0] == 200
    assert fetch(server.url + "/v1-k3s/config", ("node", TOKEN))[0] == 401
    agent = nodes("a1", "agent", f"server: {server.url}\nnode-name: a1\nnode-ip: 127.0.0.1\ntoken: wrong-token\n")
    agent_file = agent.root / "token"
    agent_file.write_text(server_token(server) + "\n")
    agent.env["K3S_TOKEN_FILE"] = str(agent_file)
    agent.start().wait_log(UP, timeout=60)


def test_removing_agent_token_resets_node_password_and_relinks(nodes):
    """pkg/daemons/control/deps/deps.go genUsers: without --agent-token the node password is set to the server
    password on every start; pkg/server/server.go printTokens replaces the agent-token file by a symlink to
    <data-dir>/server/token."""
    server = start_server(nodes, extra='agent-token: "separate-agent-token-0123"\n')
    server.wait_log("k3s is up and running")
    sdir = server.data / "server"
    assert not os.path.islink(sdir / "agent-token")
    assert (sdir / "agent-token").read_text().strip().endswith("::node:separate-agent-token-0123")
    assert mode(sdir / "agent-token") == 0o600
    assert fetch(server.url + "/v1-k3s/config", ("node", "separate-agent-token-0123"))[0] == 200
    server.stop()
    server.config.write_text(server.config.read_text().replace('agent-token: "separate-agent-token-0123"\n', ""))
    server.start().wait_log("k3s is up and running", times=2)
    assert os.readlink(sdir / "agent-token") == str(sdir / "token")
    assert fetch(server.url + "/v1-k3s/config", ("node", "separate-agent-token-0123"))[0] == 401
    assert fetch(server.url + "/v1-k3s/config", ("node", TOKEN))[0] == 200


def test_token_files_keep_their_mode_kubeconfig_is_reset(nodes, server):
    """pkg/server/handlers/token.go WriteToken uses os.WriteFile (the mode applies to a new file only), passwd is
    rewritten only when an entry changed (pkg/passwd/passwd.go), but writeKubeConfig (pkg/server/server.go) chmods
    the kubeconfig to 0600 (or --write-kubeconfig-mode) on every start."""
    sdir = server.data / "server"
    kubeconfig = server.etc / "k3s" / "k3s.yaml"
    os.chmod(sdir / "token", 0o640)
    os.chmod(sdir / "cred" / "passwd", 0o640)
    os.chmod(kubeconfig, 0o644)
    server.stop()
    server.start().wait_log("k3s is up and running", times=2)
    assert mode(sdir / "token") == 0o640
    assert mode(sdir / "cred" / "passwd") == 0o640
    assert mode(kubeconfig) == 0o600
    assert os.readlink(sdir / "node-token") == str(sdir / "token")
