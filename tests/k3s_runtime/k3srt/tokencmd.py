"""`k3s token` (K3S_BEHAVIOUR §1.6): generate, rotate, create/list/delete bootstrap tokens."""

from __future__ import annotations

import base64
import datetime
import os
import secrets
import string
import sys
import time

from . import httpclient, tokens

USAGE = "usage: k3s token [create|delete|generate|list|rotate] [flags]"
ALPHABET = string.ascii_lowercase + string.digits


def _opts(argv: list[str], names: dict) -> dict:
    out = dict(names)
    i = 0
    positional = []
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        key, eq, value = arg.lstrip("-").partition("=")
        aliases = {"t": "token", "s": "server", "o": "output", "d": "data-dir"}
        key = aliases.get(key, key)
        if key not in names:
            raise SystemExit(f"Incorrect Usage: flag provided but not defined: -{key}")
        if not eq:
            value = argv[i]
            i += 1
        out[key] = value
    out["_args"] = positional
    return out


def _rand(n: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


def _kube(opts: dict):
    path = opts.get("kubeconfig") or os.environ.get("KUBECONFIG") or "/etc/rancher/k3s/k3s.yaml"
    import yaml

    with open(path, encoding="utf-8") as fh:
        kc = yaml.safe_load(fh)
    cluster = kc["clusters"][0]["cluster"]
    user = kc["users"][0]["user"]
    ca = base64.b64decode(cluster["certificate-authority-data"])
    import tempfile

    tmp = tempfile.mkdtemp(prefix="k3s-token-")
    crt, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
    for p, field in ((crt, "client-certificate-data"), (key, "client-key-data")):
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(user[field]))
    ctx = httpclient.context(ca, cert=(crt, key))
    for p in (crt, key):
        os.unlink(p)
    os.rmdir(tmp)
    return cluster["server"], ctx, ca


def create(opts: dict) -> int:
    server, ctx, ca = _kube(opts)
    token = opts["_args"][0] if opts["_args"] else f"{_rand(6)}.{_rand(16)}"
    m = tokens.BOOTSTRAP_RE.match(token)
    if not m:
        print(f'Error: given token didn\'t match pattern "{tokens.BOOTSTRAP_RE.pattern}"', file=sys.stderr)
        return 1
    data = {"token-id": m.group(1), "token-secret": m.group(2), "auth-extra-groups": opts["groups"]}
    if opts["description"]:
        data["description"] = opts["description"]
    for usage in opts["usages"].split(","):
        data[f"usage-bootstrap-{usage.strip()}"] = "true"
    ttl = _duration(opts["ttl"])
    if ttl:
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ttl)
        data["expiration"] = exp.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": f"bootstrap-token-{m.group(1)}", "namespace": "kube-system"},
        "stringData": data,
    }
    try:
        httpclient.request(f"{server}/api/v1/namespaces/kube-system/secrets", ctx, "POST", body=body)
    except httpclient.ClientError as exc:
        if exc.status == 409:
            print(f'Error: a token with id "{m.group(1)}" already exists', file=sys.stderr)
            return 1
        raise
    print(f"K10{tokens.ca_hash(ca)}::{token}")
    return 0


def _duration(text: str) -> int:
    text = text.strip()
    if text in ("0", "0s", ""):
        return 0
    units = {"h": 3600, "m": 60, "s": 1}
    total, num = 0, ""
    for ch in text:
        if ch.isdigit():
            num += ch
        else:
            total += int(num or 0) * units[ch]
            num = ""
    return total + int(num or 0)


def rotate(opts: dict) -> int:
    token = opts["token"] or os.environ.get("K3S_TOKEN", "")
    if not token:
        with open("/var/lib/rancher/k3s/server/token", encoding="utf-8") as fh:
            token = fh.read().strip()
    print(
        "\033[33mWARNING: Recommended to keep a record of the old token. If restoring from a snapshot, you must use "
        "the token associated with that snapshot.\033[0m"
    )
    target = httpclient.ValidatedServer(opts["server"], tokens.parse(token), "server", lambda *a: None)
    target.get("/v1-k3s/token", method="PUT", body={"newToken": opts["new-token"]})
    time.sleep(1)
    print("Token rotated, restart k3s nodes with new token")
    return 0


def run(argv: list[str], env: dict) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    sub, rest = argv[0], argv[1:]
    try:
        if sub == "generate":
            print(f"{_rand(6)}.{_rand(16)}")
            return 0
        if sub == "rotate":
            defaults = {
                "token": "",
                "server": env.get("K3S_URL") or "https://127.0.0.1:6443",
                "new-token": "",
                "data-dir": "",
                "kubeconfig": "",
            }
            return rotate(_opts(rest, defaults))
        if sub == "create":
            defaults = {
                "description": "",
                "groups": "system:bootstrappers:k3s:default-node-token",
                "ttl": "24h",
                "usages": "signing,authentication",
                "kubeconfig": "",
                "data-dir": "",
            }
            return create(_opts(rest, defaults))
    except (httpclient.ClientError, tokens.TokenError, OSError) as exc:
        print(f'time="{time.strftime("%Y-%m-%dT%H:%M:%SZ")}" level=fatal msg="Error: {exc}"', file=sys.stderr)
        return 1
    print(f"k3s token {sub}: not implemented by the k3s test runtime", file=sys.stderr)
    return 1
