# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib
import json
import socket

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.edgefleet.k3s.plugins.modules import k3s_token
from module_harness import ModuleFail, runner

PW = "Pa55w0rd-0f-the-cluster"
AGENT_PW = "agent-only-password"
OTHER_HASH = "f" * 64


run_module, run = runner(k3s_token)


def ca_hash_of(pki):
    return hashlib.sha256(pki.ca.pem).hexdigest()


@pytest.fixture
def data_dir(tmp_path, pki):
    server = tmp_path / "k3s" / "server"
    (server / "tls").mkdir(parents=True)
    (server / "tls" / "server-ca.crt").write_bytes(pki.ca.pem)
    for name, text in (
        ("token", "K10%s::server:%s\n" % (ca_hash_of(pki), PW)),
        ("agent-token", "K10%s::node:%s\n" % (ca_hash_of(pki), AGENT_PW)),
    ):
        (server / name).write_text(text)
        (server / name).chmod(0o600)
    return tmp_path / "k3s"


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "https://127.0.0.1:%d" % sock.getsockname()[1]


@pytest.mark.parametrize("check_mode", [False, True])
def test_server_token_happy_path(patched_exits, pki, k3s_server, data_dir, check_mode):
    args = {"data_dir": str(data_dir), "server_url": k3s_server.url, "_ansible_check_mode": check_mode}
    result = run(args)
    assert result["changed"] is False
    assert result["token"] == "K10%s::server:%s" % (ca_hash_of(pki), PW)
    assert result["ca_hash"] == ca_hash_of(pki)
    assert result["token_kind"] == "full"
    assert result["credential_type"] == "password"
    assert result["username"] == "server"
    assert result["token_file"] == str(data_dir / "server" / "token")
    assert result["ca_verified"] is True
    assert result["ca_trusted_by_host"] is False
    assert result["server_url"] == k3s_server.url
    assert [r["path"] for r in k3s_server.requests] == ["/cacerts", "/cacerts"]


def test_secret_only_in_token_key(patched_exits, k3s_server, data_dir):
    result, module = run_module({"data_dir": str(data_dir), "server_url": k3s_server.url})
    rest = {k: v for k, v in result.items() if k != "token"}
    assert PW not in json.dumps(rest)
    assert PW in result["token"]
    assert all(PW not in json.dumps(r["headers"]) for r in k3s_server.requests)
    # Nothing from the file is registered for masking: Ansible would replace the returned token by '********'.
    assert not any(PW in value for value in module.no_log_values)


def test_real_module_output(capsys, k3s_server, data_dir, pki):
    """Unpatched exit_json: what Ansible really receives (masking applied)."""
    with patch_module_args({"data_dir": str(data_dir), "server_url": k3s_server.url}), pytest.raises(SystemExit):
        k3s_token.main()
    output = json.loads(capsys.readouterr().out)
    assert output["token"] == "K10%s::server:%s" % (ca_hash_of(pki), PW)
    output.pop("token")
    assert PW not in json.dumps(output)


def test_token_parameter_is_masked_and_not_returned(capsys, k3s_server, pki):
    args = {"token": PW, "server_url": k3s_server.url, "data_dir": "/nonexistent"}
    with patch_module_args(args), pytest.raises(SystemExit):
        k3s_token.main()
    out = capsys.readouterr().out
    assert PW not in out
    output = json.loads(out)
    assert "token" not in output
    assert output["ca_hash"] == ca_hash_of(pki)
    assert output["token_kind"] == "short"
    assert output["token_file"] is None


def test_token_parameter_value_is_a_no_log_value(patched_exits, k3s_server):
    module = run_module({"token": PW, "server_url": k3s_server.url})[1]
    assert PW in module.no_log_values


def test_agent_token(patched_exits, pki, k3s_server, data_dir):
    result = run({"data_dir": str(data_dir), "server_url": k3s_server.url, "token_type": "agent"})
    assert result["token"] == "K10%s::node:%s" % (ca_hash_of(pki), AGENT_PW)
    assert result["token_file"] == str(data_dir / "server" / "agent-token")


def test_wrong_hash_fails_with_k3s_message(patched_exits, pki, k3s_server, data_dir):
    (data_dir / "server" / "token").write_text("K10%s::server:%s\n" % (OTHER_HASH, PW))
    result = run({"data_dir": str(data_dir), "server_url": k3s_server.url}, expect=ModuleFail)
    assert result["msg"] == "token CA hash does not match the Cluster CA certificate hash: %s != %s" % (
        OTHER_HASH,
        ca_hash_of(pki),
    )
    assert PW not in json.dumps(result)


@pytest.mark.parametrize(("token_type", "user"), [("server", "server"), ("agent", "node")])
def test_short_token_file_becomes_full(patched_exits, pki, k3s_server, tmp_path, token_type, user):
    token_file = tmp_path / "cluster-token"
    token_file.write_text(PW + "\n")
    token_file.chmod(0o600)
    args = {"token_file": str(token_file), "server_url": k3s_server.url, "token_type": token_type}
    result = run(args)
    assert result["token"] == "K10%s::%s:%s" % (ca_hash_of(pki), user, PW)
    assert result["token_kind"] == "short"
    assert result["ca_verified"] is False
    assert result["username"] == ""


def test_bootstrap_token_file(patched_exits, pki, k3s_server, tmp_path):
    token_file = tmp_path / "bootstrap-token"
    token_file.write_text("abcdef.0123456789abcdef\n")
    result = run({"token_file": str(token_file), "server_url": k3s_server.url})
    assert result["token"] == "K10%s::abcdef.0123456789abcdef" % ca_hash_of(pki)
    assert (result["token_kind"], result["credential_type"], result["username"]) == ("bootstrap", "bootstrap", None)


def test_served_ca_not_matching_listener(patched_exits, k3s_server, data_dir, cert_factory):
    k3s_server.routes[("*", "/cacerts")] = (200, cert_factory("impostor", ca=True).pem, "text/plain")
    result = run({"data_dir": str(data_dir), "server_url": k3s_server.url}, expect=ModuleFail)
    assert result["msg"].startswith("CA cert validation failed: ")


def test_missing_token_file(patched_exits, tmp_path):
    result = run({"data_dir": str(tmp_path)}, expect=ModuleFail)
    assert result["msg"] == "token file %s/server/token does not exist (has k3s server started on this host?)" % (
        tmp_path
    )


def test_malformed_token_file(patched_exits, data_dir):
    (data_dir / "server" / "token").write_text("K10abc::server:%s\n" % PW)
    result = run({"data_dir": str(data_dir)}, expect=ModuleFail)
    assert result["msg"] == "invalid token CA hash length"


def test_empty_token_file(patched_exits, data_dir):
    (data_dir / "server" / "token").write_text("\n")
    result = run({"data_dir": str(data_dir)}, expect=ModuleFail)
    assert result["msg"] == "token must not be empty"


def test_verify_ca_false_makes_no_request(patched_exits, pki, data_dir):
    result = run({"data_dir": str(data_dir), "server_url": closed_port_url(), "verify_ca": False})
    assert result["token"] == "K10%s::server:%s" % (ca_hash_of(pki), PW)
    assert (result["server_url"], result["ca_verified"]) == (None, False)


def test_verify_ca_false_short_token_uses_local_ca(patched_exits, pki, data_dir):
    (data_dir / "server" / "token").write_text(PW)
    result = run({"data_dir": str(data_dir), "verify_ca": False})
    assert result["token"] == "K10%s::server:%s" % (ca_hash_of(pki), PW)


def test_verify_ca_false_short_token_without_local_ca(patched_exits, data_dir):
    (data_dir / "server" / "token").write_text(PW)
    (data_dir / "server" / "tls" / "server-ca.crt").unlink()
    result = run({"data_dir": str(data_dir), "verify_ca": False}, expect=ModuleFail)
    assert "the token has no CA hash" in result["msg"]


def test_unreachable_server(patched_exits, data_dir):
    url = closed_port_url()
    result = run({"data_dir": str(data_dir), "server_url": url, "timeout": 2}, expect=ModuleFail)
    assert result["msg"].startswith("failed to get CA certs from %s/cacerts" % url)


def test_token_and_token_file_are_exclusive(patched_exits, tmp_path):
    result = run({"token": PW, "token_file": str(tmp_path / "t")}, expect=ModuleFail)
    assert "mutually exclusive" in result["msg"]


def _bundle_server(https_server_factory, cert_factory, tmp_path, kind):
    """A supervisor whose CA bundle is an intermediate + its root, or two roots (the listener is signed by the first
    certificate of the bundle); the data dir holds the same bundle as server/tls/server-ca.crt."""
    if kind == "intermediate":
        root = cert_factory("edgefleet-root", ca=True, days=3650)
        first = cert_factory("edgefleet-intermediate", issuer=root, ca=True, days=3650)
        bundle, expected = first.pem + root.pem, hashlib.sha256(root.der).hexdigest()
    else:
        first = cert_factory("edgefleet-root-a", ca=True, days=3650)
        bundle = first.pem + cert_factory("edgefleet-root-b", ca=True, days=3650).pem
        expected = hashlib.sha256(bundle).hexdigest()
    leaf = cert_factory("k3s", issuer=first, sans=("127.0.0.1", "localhost"))
    server = https_server_factory(leaf.pem, leaf.key_pem, chain_pem=first.pem if kind == "intermediate" else b"")
    server.routes[("*", "/cacerts")] = (200, bundle, "text/plain")
    data = tmp_path / "bundle-k3s"
    (data / "server" / "tls").mkdir(parents=True)
    (data / "server" / "tls" / "server-ca.crt").write_bytes(bundle)
    token = data / "server" / "token"
    token.write_text("K10%s::server:%s\n" % (expected, PW))
    token.chmod(0o600)
    return server, data, expected


@pytest.mark.parametrize("kind", ["intermediate", "two-roots"])
def test_bundle_hash_agrees_with_k3s(patched_exits, https_server_factory, cert_factory, tmp_path, kind):
    """k3s hashCA (pkg/clientaccess/token.go): a bundle with an intermediate hashes its root's DER; two unrelated
    roots hash the raw bytes. The module verifies the token k3s wrote against the served bundle and agrees."""
    server, data, expected = _bundle_server(https_server_factory, cert_factory, tmp_path, kind)
    result = run({"data_dir": str(data), "server_url": server.url})
    assert result["ca_hash"] == expected
    assert result["ca_verified"] is True
    assert result["token"] == "K10%s::server:%s" % (expected, PW)
    offline = run({"data_dir": str(data), "token": PW, "verify_ca": False})
    assert offline["ca_hash"] == expected
