"""config.yaml + drop-ins merge and flag precedence (K3S_BEHAVIOUR §1.4, §2)."""

from __future__ import annotations

import pytest
from k3srt import cli, configfile, flags


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_dropins_merge_in_lexical_order_and_plus_appends(tmp_path):
    main = tmp_path / "config.yaml"
    write(main, "node-label: [a=1]\ntls-san: one\nnode-name: first\n")
    write(tmp_path / "config.yaml.d" / "20-b.yaml", "node-label+: [c=3]\nnode-name: last\n")
    write(tmp_path / "config.yaml.d" / "10-a.yml", "node-label+: b=2\n")
    write(tmp_path / "config.yaml.d" / "30-ignored.txt", "node-name: nope\n")
    merged = configfile.merge(configfile.files(str(main)))
    assert merged["node-label"] == ["a=1", "b=2", "c=3"]
    assert merged["node-name"] == "last"
    assert list(merged) == ["node-label", "tls-san", "node-name"]


def test_key_without_plus_replaces_accumulated_list(tmp_path):
    main = tmp_path / "config.yaml"
    write(main, "node-label: [a=1]\n")
    write(tmp_path / "config.yaml.d" / "10.yaml", "node-label: [z=9]\n")
    assert configfile.merge(configfile.files(str(main)))["node-label"] == ["z=9"]


def test_missing_config_loads_nothing_but_dropins_still_load(tmp_path):
    main = tmp_path / "config.yaml"
    assert configfile.files(str(main)) == []
    write(tmp_path / "config.yaml.d" / "x.yaml", "debug: true\n")
    assert configfile.merge(configfile.files(str(main))) == {"debug": True}


def test_precedence_cli_over_file_over_env(tmp_path):
    cfg = tmp_path / "config.yaml"
    write(cfg, "node-name: from-file\ncluster-domain: file.local\n")
    env = {"K3S_CONFIG_FILE": str(cfg), "K3S_NODE_NAME": "from-env", "K3S_TOKEN": "envtoken"}
    values, _ = cli.resolve("server", ["--node-name", "from-cli"], env)
    assert values["node-name"] == "from-cli"
    assert values["cluster-domain"] == "file.local"
    assert values["token"] == "envtoken"


def test_server_drops_unknown_keys_with_warning(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    write(cfg, "not-a-flag: 1\nnode-name: node-1\n")
    values, _ = cli.resolve("server", [], {"K3S_CONFIG_FILE": str(cfg)})
    assert values["node-name"] == "node-1"
    assert "Unknown flag --not-a-flag found in config.yaml, skipping" in capsys.readouterr().err


def test_agent_refuses_server_only_keys(tmp_path):
    cfg = tmp_path / "config.yaml"
    write(cfg, "disable: [traefik]\n")
    with pytest.raises(flags.UsageError, match="flag provided but not defined: -disable"):
        cli.resolve("agent", [], {"K3S_CONFIG_FILE": str(cfg)})


def test_comma_split_only_for_listed_flags(tmp_path):
    values, _ = cli.resolve(
        "server", ["--tls-san=a,b", "--node-label=x=1,y=2"], {"K3S_CONFIG_FILE": str(tmp_path / "none.yaml")}
    )
    assert values["tls-san"] == ["a", "b"]
    assert values["node-label"] == ["x=1,y=2"]


def test_version_output_is_two_lines():
    text = cli.version_text()
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("k3s version v1.") and "+k3s" in lines[0]
    assert lines[1].startswith("go version go1.")
