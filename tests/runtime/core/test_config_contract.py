"""Flag values from config.yaml and K3S_* variables, checked on `k3s server` processes (the stand-in or
EDGEFLEET_K3S_BIN). k3s flags are urfave/cli v2 flags on Go's flag package (pkg/cli/cmds/server.go)."""

from __future__ import annotations

import pytest
from core_helpers import TOKEN, free_port, kubeconfig_line, mode, wait_exit


def text(node) -> str:
    """The log with logrus's quoting of msg="…" undone."""
    return node.log().replace('\\"', '"')


def server_with(nodes, extra: str, env: dict | None = None):
    port = free_port()
    node = nodes("s1", "server", "", env)
    node.config.write_text(
        f'token: "{TOKEN}"\nnode-name: s1\nnode-ip: 127.0.0.1\nhttps-listen-port: {port}\n'
        + kubeconfig_line(node.etc)
        + extra
    )
    return node.start()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('cluster-init: "yes"\n', 'invalid boolean value "yes" for -cluster-init: parse error'),
        ("cluster-init:\n", 'invalid boolean value "" for -cluster-init: parse error'),
        ('etcd-snapshot-retention: ""\n', 'invalid value "" for flag -etcd-snapshot-retention: parse error'),
        ('etcd-snapshot-retention: "5x"\n', 'invalid value "5x" for flag -etcd-snapshot-retention: parse error'),
        (
            'etcd-snapshot-reconcile-interval: "10"\n',
            'invalid value "10" for flag -etcd-snapshot-reconcile-interval: parse error',
        ),
    ],
)
def test_config_values_are_parsed_like_go_flags(nodes, line, message):
    """Go's flag package parses bool flags with strconv.ParseBool (only 1/t/T/TRUE/true/True and their false
    forms), ints with strconv.ParseInt(s, 0, 64) and durations with time.ParseDuration; pkg/configfilearg/parser.go
    turns each key into --key=value (an empty value into --key=), so `yes`, empty values, `5x` and a duration
    without unit end the server with urfave's usage error."""
    node = server_with(nodes, line)
    assert wait_exit(node) == 1
    assert message in text(node)


def test_bool_variable_that_does_not_parse_is_an_error(nodes):
    """urfave/cli v2 BoolFlag.Apply: a K3S_* value must pass strconv.ParseBool ("" means false)."""
    node = server_with(nodes, "", {"K3S_CLUSTER_INIT": "yes"})
    assert wait_exit(node) == 1
    assert 'could not parse "yes" as bool value from environment variable "K3S_CLUSTER_INIT"' in text(node)


def test_empty_bool_variable_is_false(nodes):
    """urfave/cli v2 BoolFlag.Apply: an empty K3S_* value sets the flag to false (no etcd: sqlite)."""
    node = server_with(nodes, "", {"K3S_CLUSTER_INIT": ""})
    node.wait_log("k3s is up and running")
    assert (node.data / "server" / "db" / "state.db").exists()


def test_bad_write_kubeconfig_mode_is_logged_and_ignored(nodes):
    """writeKubeConfig (pkg/server/server.go): a --write-kubeconfig-mode that strconv.ParseInt(mode, 8, 0) refuses
    is logged ("Failed to set … to mode …") and the kubeconfig keeps the mode it was written with; the server runs."""
    node = server_with(nodes, 'write-kubeconfig-mode: "0x644"\n')
    node.wait_log("k3s is up and running")
    assert "Failed to set" in node.log() and "0x644" in node.log()
    assert mode(node.etc / "k3s" / "k3s.yaml") == 0o600


def test_octal_write_kubeconfig_mode(nodes):
    """writeKubeConfig parses the mode in base 8: "0644" gives rw-r--r--."""
    node = server_with(nodes, 'write-kubeconfig-mode: "0644"\n')
    node.wait_log("k3s is up and running")
    assert mode(node.etc / "k3s" / "k3s.yaml") == 0o644
