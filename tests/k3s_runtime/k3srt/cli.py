"""Multicall dispatch of the `k3s` test runtime binary (K3S_BEHAVIOUR §1.1)."""

from __future__ import annotations

import os
import sys

from . import buildinfo, configfile, flags, nodeinfo

COMMANDS = (
    "server",
    "agent",
    "kubectl",
    "crictl",
    "ctr",
    "check-config",
    "token",
    "etcd-snapshot",
    "secrets-encrypt",
    "certificate",
    "completion",
)
HELP = """NAME:
   k3s - Kubernetes, but small and simple (k3s-compatible TEST RUNTIME of edgefleet.k3s)

USAGE:
   k3s [global options] command [command options]

COMMANDS:
   server         Run management server
   agent          Run node agent
   kubectl        Run kubectl
   token          Manage tokens
   etcd-snapshot  Manage etcd snapshots
"""


def version_text() -> str:
    return f"k3s version {buildinfo.VERSION} ({buildinfo.COMMIT[:8]})\ngo version {buildinfo.GO_VERSION}\n"


def resolve(command: str, argv: list[str], env: dict) -> tuple[dict, list[str]]:
    """Config-file args go right after the subcommand, before the CLI args; then env, then defaults."""
    table = flags.SERVER_FLAGS if command == "server" else flags.AGENT_FLAGS
    known = None if command == "agent" else set(flags.index(table))
    file_args, _ = configfile.load_args(argv, env, known, lambda m: nodeinfo.log(m, "warning"))
    values, positional, _ = flags.parse(file_args + argv, table, env)
    if positional:
        raise flags.UsageError(f"unexpected argument {positional[0]!r}")
    return values, file_args + argv


def _serve(command: str, argv: list[str], env: dict) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(f"NAME:\n   k3s {command} - Run {'management server' if command == 'server' else 'node agent'}")
        return 0
    try:
        config, full = resolve(command, argv, env)
    except flags.UsageError as exc:
        print(f"Incorrect Usage: {exc}\n", file=sys.stderr)
        print(f"NAME:\n   k3s {command}", file=sys.stderr)
        nodeinfo.log(f"Error: {exc}", "fatal")
        return 1
    except (configfile.ConfigError, flags.EnvError) as exc:
        nodeinfo.log(f"Error: {exc}", "fatal")
        return 1
    if config["debug"]:
        os.environ["K3S_DEBUG"] = "true"
    if command == "server":
        from . import server

        return server.run(config, full, env)
    from . import agent

    return agent.run(config, full, env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0])
    env = dict(os.environ)
    if prog in ("kubectl", "crictl", "ctr"):
        argv = ["k3s", prog, *argv[1:]]
    args = argv[1:]
    while args:  # global flags before the subcommand: --debug, --data-dir/-d DIR
        head = args[0]
        if head == "--debug":
            env["K3S_DEBUG"] = "true"
            args = args[1:]
        elif head in ("--data-dir", "-d") and len(args) > 1:
            env["K3S_DATA_DIR"] = args[1]
            args = args[2:]
        elif head.startswith(("--data-dir=", "-d=")):
            env["K3S_DATA_DIR"] = head.split("=", 1)[1]
            args = args[1:]
        else:
            break
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(HELP)
        return 0
    if args[0] in ("-v", "--version"):
        sys.stdout.write(version_text())
        return 0
    command, rest = args[0], args[1:]
    if command in ("server", "agent"):
        return _serve(command, rest, env)
    if command == "kubectl":
        from . import kubectlcmd

        return kubectlcmd.run(rest, env)
    if command == "token":
        from . import tokencmd

        return tokencmd.run(rest, env)
    if command == "etcd-snapshot":
        from . import snapshotcmd

        return snapshotcmd.run_snapshot_cli(rest, env)
    if command in COMMANDS:
        print(f"k3s {command}: not implemented by the k3s test runtime", file=sys.stderr)
        return 1
    print(f"Incorrect Usage: command {command!r} not found", file=sys.stderr)
    return 1
