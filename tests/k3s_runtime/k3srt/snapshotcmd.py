"""`k3s etcd-snapshot save|delete|ls|list|l|prune`: the client side; the server does the work at /db/snapshot.

run_snapshot_cli(argv, env): argv are the arguments after `etcd-snapshot`; env is the process environment.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

from . import httpclient, tokens

SUBCOMMANDS = {"save": "save", "delete": "delete", "ls": "list", "list": "list", "l": "list", "prune": "prune"}
_S3_STRINGS = [
    "endpoint",
    "endpoint-ca",
    "access-key",
    "secret-key",
    "session-token",
    "bucket",
    "bucket-lookup-type",
    "region",
    "retention",
    "folder",
    "proxy",
    "config-secret",
    "timeout",
]
# canonical name -> (kind, aliases); kind: bool | str | int
FLAGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "debug": ("bool", ()),
    "config": ("str", ("c",)),
    "log": ("str", ("l",)),
    "alsologtostderr": ("bool", ()),
    "node-name": ("str", ()),
    "data-dir": ("str", ("d",)),
    "etcd-token": ("str", ("t",)),
    "etcd-server": ("str", ("s",)),
    "dir": ("str", ("etcd-snapshot-dir",)),
    "name": ("str", ()),
    "snapshot-compress": ("bool", ("etcd-snapshot-compress",)),
    "snapshot-retention": ("int", ("etcd-snapshot-retention",)),
    "s3": ("bool", ("etcd-s3",)),
    "s3-skip-ssl-verify": ("bool", ("etcd-s3-skip-ssl-verify",)),
    "s3-insecure": ("bool", ("etcd-s3-insecure",)),
    **{f"s3-{n}": ("str", (f"etcd-s3-{n}",)) for n in _S3_STRINGS},
    "output": ("str", ("o",)),  # ls only
}
ALIASES = {alias: name for name, (_k, aliases) in FLAGS.items() for alias in (name, *aliases)}
# No default retention: `prune` sends one only when it was given (flag or config), else the server's own
# --etcd-snapshot-retention applies (pkg/cli/etcdsnapshot/etcd_snapshot.go builds the request from set flags only).
DEFAULTS = {"etcd-server": "https://127.0.0.1:6443", "name": "on-demand", "output": "table"}
# `k3s etcd-snapshot` without a subcommand prints its help and does nothing (v1.27.1 and later: the command has no
# Action of its own, only subcommands; pkg/cli/cmds/etcd_snapshot.go).
HELP = """NAME:
   k3s etcd-snapshot

USAGE:
   k3s etcd-snapshot command [command options] [arguments...]

COMMANDS:
   save        Trigger an immediate etcd snapshot
   delete      Delete given snapshot(s)
   ls, list, l List snapshots
   prune       Remove snapshots that match the name prefix that exceed the configured retention count
"""


class CLIError(Exception):
    pass


def _quote(msg: str) -> str:
    return '"' + msg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def log(level: str, msg: str) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f'time="{now}" level={level} msg={_quote(msg)}', file=sys.stderr, flush=True)


# -- argument parsing (urfave-like: flags before positionals, --flag=value / --flag value / -f value) ---------
def _set(opts: dict, name: str, value, origin: str) -> None:
    kind = FLAGS[name][0]
    if kind == "bool":
        value = str(value).lower() in ("true", "1", "yes", "") if not isinstance(value, bool) else value
    elif kind == "int":
        try:
            value = int(value)
        except ValueError as exc:
            raise CLIError(f'invalid value "{value}" for flag -{name}: parse error') from exc
    opts[name] = value


def parse_args(argv: list[str], opts: dict) -> tuple[str | None, list[str]]:
    sub, positional, i = None, [], 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if positional or not arg.startswith("-") or arg in ("-", "--"):
            if arg == "--" and not positional:
                positional.extend(argv[i:])
                break
            if sub is None and arg in SUBCOMMANDS:
                sub = arg
            else:
                positional.append(arg)
            continue
        key, has_eq, value = arg.lstrip("-").partition("=")
        name = ALIASES.get(key)
        if name is None:
            raise CLIError(f"flag provided but not defined: -{key}")
        if not has_eq and FLAGS[name][0] != "bool":
            if i >= len(argv):
                raise CLIError(f"flag needs an argument: -{key}")
            value, i = argv[i], i + 1
        elif not has_eq:
            value = True
        _set(opts, name, value, "cli")
    return sub, positional


def _config_path(argv: list[str], env) -> str:
    if env.get("K3S_CONFIG_FILE"):
        return env["K3S_CONFIG_FILE"]
    for i, arg in enumerate(argv):
        for prefix in ("--config=", "-c="):
            if arg.startswith(prefix):
                return arg[len(prefix) :]
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return argv[i + 1]
    return "/etc/rancher/k3s/config.yaml"


def load_config(path: str) -> dict:
    """config.yaml + config.yaml.d/*.y(a)ml merged (key+ appends); only etcd-snapshot flag keys survive."""
    import yaml

    files = [path] if os.path.isfile(path) else []
    dropins = path + ".d"
    if os.path.isdir(dropins):
        files += [
            os.path.join(dropins, f)
            for f in sorted(os.listdir(dropins))
            if f.lower().endswith((".yaml", ".yml")) and os.path.isfile(os.path.join(dropins, f))
        ]
    merged: dict = {}
    for file in files:
        with open(file) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict):
            raise CLIError(f"failed to parse {file}: not a map")
        for key, value in data.items():
            key = str(key)
            if key.endswith("+"):
                key = key[:-1]
                prev = merged.get(key, [])
                merged[key] = (prev if isinstance(prev, list) else [prev]) + (
                    value if isinstance(value, list) else [value]
                )
            else:
                merged[key] = value
    out = {}
    for key, value in merged.items():
        name = ALIASES.get(key)
        if name is None or name == "output":
            log("warning", f"Unknown flag --{key} found in config.yaml, skipping")
            continue
        out[name] = value[-1] if isinstance(value, list) else value
    return out


# -- talking to the server ----------------------------------------------------------------------------------
def _read_token(opts: dict, data_dir: str) -> str:
    """--etcd-token, else <data-dir>/server/token with trailing newlines removed (pkg/cli/etcdsnapshot)."""
    if opts.get("etcd-token"):
        return str(opts["etcd-token"])
    path = os.path.join(data_dir, "server", "token")
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError as exc:
        raise CLIError(f"open {path}: {exc.strerror.lower()}") from exc


def post_snapshot(opts: dict, data_dir: str, body: dict):
    """clientaccess.ParseAndValidateToken(--etcd-server, token, WithUser("server")), then POST /db/snapshot: the
    token parser, CA hash and CA validation are the runtime's one implementation (tokens, httpclient)."""
    server = str(opts.get("etcd-server") or DEFAULTS["etcd-server"])
    try:
        target = httpclient.ValidatedServer(
            server, tokens.parse(_read_token(opts, data_dir)), "server", lambda m, lv="info": log(lv, m)
        )
    except (tokens.TokenError, httpclient.ClientError) as exc:
        raise CLIError(str(exc)) from exc
    try:
        headers = {"Content-Type": "application/json"}
        raw = target.get("/db/snapshot", headers, "POST", json.dumps(body).encode(), timeout=120)
    except httpclient.ClientError as exc:
        raise CLIError(f"see server log for details: {exc}") from exc
    return json.loads(raw or b"{}")


# -- output -------------------------------------------------------------------------------------------------
def table(rows: list[list[str]]) -> str:
    """Go tabwriter (minwidth 0, padding 1, ' '): every tab-terminated cell padded to its column width + 1."""
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i] + 1) for i, cell in enumerate(row[:-1])] + row[-1:]
        lines.append("".join(cells))
    return "".join(line + "\n" for line in lines)


def _location_size_created(item: dict) -> tuple[str, str, str]:
    spec, status = item.get("spec", {}), item.get("status", {})
    return spec.get("location", ""), str(status.get("size", "")), status.get("creationTime", "")


def render_list(listing: dict, fmt: str) -> str:
    items = sorted(
        listing.get("items") or [],
        key=lambda i: (i.get("status", {}).get("creationTime", ""), i.get("spec", {}).get("snapshotName", "")),
    )
    out = {"apiVersion": "v1", "kind": "List", "items": items}
    if fmt == "json":
        return json.dumps(out, indent=4) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(out, sort_keys=False)
    rows = [["Name", "Location", "Size", "Created"]]
    rows += [[i["spec"]["snapshotName"], *_location_size_created(i)] for i in items]
    return table(rows)


# -- entry point --------------------------------------------------------------------------------------------
def _run(argv: list[str], env) -> int:
    opts: dict = dict(DEFAULTS)
    if env.get("K3S_NODE_NAME"):
        opts["node-name"] = env["K3S_NODE_NAME"]
    if env.get("K3S_DATA_DIR"):
        opts["data-dir"] = env["K3S_DATA_DIR"]
    for name, value in load_config(_config_path(argv, env)).items():
        _set(opts, name, value, "config")
    cli: dict = {}
    sub, positional = parse_args(argv, cli)
    opts.update(cli)
    if not sub:
        sys.stdout.write(HELP)
        return 0
    sub = SUBCOMMANDS[sub]
    data_dir = str(opts.get("data-dir") or "/var/lib/rancher/k3s")
    body: dict = {}
    if "dir" in opts:
        body["dir"] = opts["dir"]
    if "snapshot-compress" in opts:
        body["compress"] = bool(opts["snapshot-compress"])
    if opts.get("s3"):
        body["s3"] = {k[3:]: v for k, v in opts.items() if k.startswith("s3-")}
    if sub == "list":
        fmt = str(opts.get("output") or "table")
        if fmt not in ("json", "yaml", "table"):
            raise CLIError(f"invalid output format: {fmt}")
        sys.stdout.write(render_list(post_snapshot(opts, data_dir, {**body, "operation": "list"}), fmt))
        return 0
    if sub == "save":
        if positional:
            raise CLIError(f"save does not take any arguments: {positional}")
        resp = post_snapshot(opts, data_dir, {**body, "operation": "save", "name": [opts["name"]], "retention": 0})
        for name in resp.get("created") or []:
            log("info", f"Snapshot {name} saved.")
        return 0
    if sub == "delete":
        if not positional:
            raise CLIError("no snapshots given for removal")
        resp = post_snapshot(opts, data_dir, {**body, "operation": "delete", "name": positional})
        deleted = resp.get("deleted") or []
        for name in deleted:
            log("info", f"Snapshot {name} deleted.")
        for name in positional:
            if name not in deleted:
                log("warning", f"Snapshot {name} not found.")
        return 0
    body.update(operation="prune", name=[opts["name"]])
    if "snapshot-retention" in opts:
        body["retention"] = int(opts["snapshot-retention"])
    for name in post_snapshot(opts, data_dir, body).get("deleted") or []:
        log("info", f"Snapshot {name} deleted.")
    return 0


def run_snapshot_cli(argv: list[str], env) -> int:
    try:
        return _run(list(argv), env if env is not None else os.environ)
    except CLIError as exc:
        log("fatal", str(exc))
        return 1
