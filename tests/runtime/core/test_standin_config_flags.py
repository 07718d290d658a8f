"""config.yaml + drop-ins merge and flag precedence (K3S_BEHAVIOUR §1.4, §2), on the stand-in's parser in process
(hence `standin`; test_config_contract.py checks values on running processes). Sources: pkg/configfilearg/parser.go,
urfave/cli v2 flag_*.go, Go's flag package and strconv/time parsers, gopkg.in/yaml.v2 resolve.go."""

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


def test_plus_key_with_null_value_adds_nothing(tmp_path):
    """readConfigFile/toSlice: a `key+:` with no value appends nothing to the accumulated list."""
    main = tmp_path / "config.yaml"
    write(main, "node-label: [a=1]\n")
    write(tmp_path / "config.yaml.d" / "10.yaml", "node-label+:\n")
    merged = configfile.merge(configfile.files(str(main)))
    assert merged["node-label"] == ["a=1"]
    assert configfile.to_args(merged, None, print) == ["--node-label=a=1"]


def test_first_plus_key_just_sets_the_value(tmp_path):
    main = tmp_path / "config.yaml"
    write(main, "node-label+: a=1\n")
    assert configfile.merge(configfile.files(str(main))) == {"node-label": "a=1"}


def test_yaml_v2_booleans(tmp_path):
    """gopkg.in/yaml.v2 resolves y/Y/n/N (and yes/no/on/off) to booleans; quoted they stay strings."""
    main = tmp_path / "config.yaml"
    write(main, 'debug: y\nselinux: N\nnode-name: "n"\n')
    assert configfile.merge(configfile.files(str(main))) == {"debug": True, "selinux": False, "node-name": "n"}


@pytest.mark.parametrize("value", ["yes", "no", "", "tRuE", "on"])
def test_bool_flag_values_outside_parsebool_are_usage_errors(tmp_path, value):
    with pytest.raises(flags.UsageError, match="invalid boolean value"):
        cli.resolve("server", [f"--debug={value}"], {"K3S_CONFIG_FILE": str(tmp_path / "none.yaml")})


@pytest.mark.parametrize(("value", "expected"), [("0x10", 16), ("010", 8), ("1_000", 1000), ("+7", 7)])
def test_int_flags_use_parseint_base_zero(tmp_path, value, expected):
    values, _ = cli.resolve(
        "server", [f"--etcd-snapshot-retention={value}"], {"K3S_CONFIG_FILE": str(tmp_path / "none.yaml")}
    )
    assert values["etcd-snapshot-retention"] == expected


@pytest.mark.parametrize("value", ["", "08", "1__0", "ten", "99999999999999999999"])
def test_int_flags_refuse_what_go_refuses(tmp_path, value):
    with pytest.raises(flags.UsageError, match="for flag -etcd-snapshot-retention"):
        cli.resolve("server", [f"--etcd-snapshot-retention={value}"], {"K3S_CONFIG_FILE": str(tmp_path / "n.yaml")})


@pytest.mark.parametrize("value", ["10", "", "m", "1x", ".s"])
def test_duration_flags_refuse_what_parseduration_refuses(tmp_path, value):
    with pytest.raises(flags.UsageError, match="parse error"):
        cli.resolve("server", [f"--etcd-s3-timeout={value}"], {"K3S_CONFIG_FILE": str(tmp_path / "none.yaml")})


def test_int_variable_empty_keeps_default_and_bad_is_an_error(tmp_path):
    env = {"K3S_CONFIG_FILE": str(tmp_path / "none.yaml"), "K3S_LB_SERVER_PORT": ""}
    assert cli.resolve("agent", ["--server=https://x:6443"], env)[0]["lb-server-port"] == 6444
    env["K3S_LB_SERVER_PORT"] = "64x"
    with pytest.raises(flags.EnvError, match='could not parse "64x" as int value from environment variable'):
        cli.resolve("agent", [], env)


def test_only_config_and_c_name_the_config_file(tmp_path):
    """findConfigFileFlag recognises --config and -c (with a separate value or `=`), nothing else."""
    assert configfile.find_path(["-c", "/x.yaml"], {}) == "/x.yaml"
    assert configfile.find_path(["--config=/y.yaml"], {}) == "/y.yaml"
    assert configfile.find_path(["-config", "/z.yaml"], {}) == configfile.DEFAULT_PATH
