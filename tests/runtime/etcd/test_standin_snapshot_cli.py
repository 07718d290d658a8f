"""`k3s etcd-snapshot` client side against a local supervisor serving /cacerts and /db/snapshot."""

import hashlib
import json
import os
import re

import pytest
import yaml
from k3srt import etcd


@pytest.fixture
def server(make_node):
    node = make_node("alpha")
    node.start("new")
    ctx = node.ctx
    with open(os.path.join(ctx.tls_dir, "server-ca.crt"), "rb") as f:
        ca_hash = hashlib.sha256(f.read()).hexdigest()
    fd = os.open(os.path.join(ctx.server_dir, "token"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"K10{ca_hash}::server:{ctx.server_password}\n")
    return node


def cli(node, *args, env=None):
    base = ["--data-dir", node.ctx.data_dir, "--etcd-server", node.ctx.url]
    environ = {"K3S_CONFIG_FILE": os.path.join(node.ctx.data_dir, "none.yaml"), **(env or {})}
    return etcd.run_snapshot_cli([*args[:1], *base, *args[1:]], environ)


def logs(stderr: str) -> list[tuple[str, str]]:
    return re.findall(r'time="[^"]+" level=(\w+) msg="((?:[^"\\]|\\.)*)"', stderr)


def test_save_ls_delete_prune(server, capsys):
    snapdir = os.path.join(server.ctx.server_dir, "db", "snapshots")
    assert cli(server, "save") == 0
    out = capsys.readouterr()
    (name,) = os.listdir(snapdir)
    assert re.fullmatch(r"on-demand-alpha-\d+", name)
    assert logs(out.err) == [("info", f"Snapshot {name} saved.")]
    assert out.out == ""

    assert cli(server, "ls") == 0
    lines = capsys.readouterr().out.splitlines()
    size = os.path.getsize(os.path.join(snapdir, name))
    loc = f"file://{snapdir}/{name}"
    assert len(lines) == 2
    assert re.fullmatch(r"Name +Location +Size +Created", lines[0])
    assert re.fullmatch(rf"{name} +{re.escape(loc)} +{size} +\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lines[1])
    # tabwriter alignment: each column starts at the same offset in header and row
    assert lines[0].index("Location") == lines[1].index("file://") == len(name) + 1

    assert cli(server, "list", "-o", "json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["kind"] == "List" and listing["items"][0]["spec"]["snapshotName"] == name
    assert cli(server, "l", "--output=yaml") == 0
    assert yaml.safe_load(capsys.readouterr().out)["items"][0]["spec"]["location"] == loc
    assert cli(server, "ls", "-o", "wide") == 1
    assert logs(capsys.readouterr().err) == [("fatal", "invalid output format: wide")]

    import time

    time.sleep(1.05)
    assert cli(server, "save", "--name", "nightly", "--snapshot-compress") == 0
    zipped = logs(capsys.readouterr().err)[0][1].split()[1]
    assert zipped.startswith("nightly-alpha-") and zipped.endswith(".zip")

    assert cli(server, "delete") == 1
    assert logs(capsys.readouterr().err) == [("fatal", "no snapshots given for removal")]
    assert cli(server, "delete", name, "ghost") == 0
    assert logs(capsys.readouterr().err) == [
        ("info", f"Snapshot {name} deleted."),
        ("warning", "Snapshot ghost not found."),
    ]
    assert os.listdir(snapdir) == [zipped]

    for _ in range(2):
        time.sleep(1.05)
        assert cli(server, "save", "--name", "nightly") == 0
    capsys.readouterr()
    assert cli(server, "prune", "--name", "nightly", "--snapshot-retention", "2") == 0
    assert logs(capsys.readouterr().err) == [("info", f"Snapshot {zipped} deleted.")]
    assert len(os.listdir(snapdir)) == 2


def test_token_and_config_file(server, capsys, tmp_path):
    # a token whose CA hash does not match is refused before any credentials are sent
    bad = "K10" + "0" * 64 + "::server:" + server.ctx.server_password
    assert cli(server, "save", "--etcd-token", bad) == 1
    (entry,) = logs(capsys.readouterr().err)
    assert entry[0] == "fatal" and entry[1].startswith("token CA hash does not match the Cluster CA certificate hash")
    # wrong password: the server refuses
    assert cli(server, "save", "-t", "wrong") == 1
    assert "see server log for details" in capsys.readouterr().err
    # config file: etcd-snapshot-dir and etcd-snapshot-compress carry over, unknown keys are skipped with a warning
    custom = tmp_path / "snaps"
    custom.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"etcd-snapshot-dir": str(custom), "etcd-snapshot-compress": True, "token": "x"}))
    assert cli(server, "save", env={"K3S_CONFIG_FILE": str(cfg)}) == 0
    entries = logs(capsys.readouterr().err)
    assert ("warning", "Unknown flag --token found in config.yaml, skipping") in entries
    (created,) = os.listdir(custom)
    assert created.endswith(".zip") and ("info", f"Snapshot {created} saved.") in entries


def test_without_a_subcommand_it_prints_help_and_saves_nothing(server, capsys):
    """k3s >= v1.27.1: `k3s etcd-snapshot` has subcommands and no Action of its own (pkg/cli/cmds/etcd_snapshot.go),
    so urfave/cli prints the help; no snapshot is taken."""
    snapdir = os.path.join(server.ctx.server_dir, "db", "snapshots")
    assert cli(server) == 0
    out = capsys.readouterr()
    assert "COMMANDS:" in out.out and "save" in out.out
    assert not os.path.isdir(snapdir) or os.listdir(snapdir) == []


def test_prune_without_a_retention_uses_the_servers(server, capsys):
    """pkg/cli/etcdsnapshot/etcd_snapshot.go sends only the flags that were set: without --snapshot-retention the
    server's own --etcd-snapshot-retention decides (here 2, not the client default of 5)."""
    snapdir = os.path.join(server.ctx.server_dir, "db", "snapshots")
    server.ctx.config["etcd-snapshot-retention"] = 2
    os.makedirs(snapdir, exist_ok=True)
    names = [f"keep-alpha-{1700000000 + i}" for i in range(4)]  # four saves, one second apart
    for name in names:
        with open(os.path.join(snapdir, name), "wb") as f:
            f.write(b"snapshot")
    assert cli(server, "prune", "--name", "keep") == 0
    assert [m for _level, m in logs(capsys.readouterr().err)] == [f"Snapshot {n} deleted." for n in names[:2]]
    assert sorted(os.listdir(snapdir)) == names[-2:]
