# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore drill's objects, through a real kubectl and the kubeconfig given (the molecule `backup` scenario
points it at the load balancer VIP).

    python -m edgefleet_testing.drill --kubeconfig K --state DIR seed     # namespaces, ConfigMaps, Secrets
    python -m edgefleet_testing.drill --kubeconfig K --state DIR damage   # delete, alter, add after the snapshot
    python -m edgefleet_testing.drill --kubeconfig K --state DIR check [--expect-damage]

Content is random (seeded, so a failure can be replayed) and what `seed` created is kept in DIR/expected.json;
`check` compares every object's data with it, key by key, and prints the figures as one JSON line: created,
restored (identical), lost (missing or different), leftover (made after the snapshot and still there). It exits 0
when nothing is lost and nothing is left over; with --expect-damage it exits 0 only when the damage is visible
(the comparison can fail, and does, before the restore).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
from pathlib import Path

LABEL = "drill.edgefleet.io/set"
NAMESPACES = 4
CONFIGMAPS = 200
SECRETS = 50
LATE = 20


class DrillError(Exception):
    pass


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    binary = shutil.which("kubectl")
    if not binary:
        raise DrillError("kubectl is missing (make host-deps installs kubernetes-client)")
    proc = subprocess.run(
        [binary, "--kubeconfig", kubeconfig, "--request-timeout=60s", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise DrillError(f"kubectl {' '.join(args[:3])} …: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def _text(rng: random.Random, lo: int, hi: int) -> str:
    alphabet = string.ascii_letters + string.digits + " -_.:/=\n"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def objects(seed: int) -> dict[str, dict]:
    """key (Kind/namespace/name) → the object seed creates."""
    rng = random.Random(seed)
    out: dict[str, dict] = {}
    for n in range(NAMESPACES):
        ns = f"drill-{n}"
        out[f"Namespace//{ns}"] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {LABEL: "seed"}},
        }
    for i in range(CONFIGMAPS):
        ns, name = f"drill-{i % NAMESPACES}", f"settings-{i:03d}"
        data = {f"key-{k}": _text(rng, 1, 400) for k in range(rng.randint(1, 5))}
        meta = {"name": name, "namespace": ns, "labels": {LABEL: "seed", "index": str(i)}}
        out[f"ConfigMap/{ns}/{name}"] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    for i in range(SECRETS):
        ns, name = f"drill-{i % NAMESPACES}", f"credentials-{i:03d}"
        data = {
            f"secret-{k}": base64.b64encode(rng.randbytes(rng.randint(8, 256))).decode()
            for k in range(rng.randint(1, 3))
        }
        meta = {"name": name, "namespace": ns, "labels": {LABEL: "seed", "index": str(i)}}
        out[f"Secret/{ns}/{name}"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": meta,
            "data": data,
        }
    return out


def _apply_file(kubeconfig: str, verb: str, items: list[dict]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, fh)
    try:
        kubectl(kubeconfig, verb, "-f", fh.name)
    finally:
        os.unlink(fh.name)


def seed(kubeconfig: str, state: Path, seed_value: int) -> dict:
    wanted = objects(seed_value)
    namespaces = [o for k, o in wanted.items() if k.startswith("Namespace/")]
    _apply_file(kubeconfig, "create", namespaces)
    _apply_file(kubeconfig, "create", [o for k, o in wanted.items() if not k.startswith("Namespace/")])
    state.mkdir(parents=True, exist_ok=True)
    path = state / "expected.json"
    path.write_text(json.dumps({"seed": seed_value, "objects": wanted}))
    path.chmod(0o600)
    return {"created": len(wanted), "seed": seed_value}


def damage(kubeconfig: str, state: Path) -> dict:
    """After the snapshot: delete a namespace with everything in it, delete and alter objects, add new ones."""
    expected = json.loads((state / "expected.json").read_text())["objects"]
    gone_ns = f"drill-{NAMESPACES - 1}"
    kubectl(kubeconfig, "delete", "configmaps,secrets", "-n", gone_ns, "-l", LABEL)
    kubectl(kubeconfig, "delete", "namespace", gone_ns, "--wait=false")
    cms = sorted(k for k in expected if k.startswith("ConfigMap/") and f"/{gone_ns}/" not in k)
    secrets = sorted(k for k in expected if k.startswith("Secret/") and f"/{gone_ns}/" not in k)
    deleted = cms[0::3] + secrets[0::2]
    altered = cms[1::3][:50]
    by_kind_ns: dict[tuple[str, str], list[str]] = {}
    for key in deleted:
        kind, ns, name = key.split("/")
        by_kind_ns.setdefault((kind.lower(), ns), []).append(name)
    for (kind, ns), names in sorted(by_kind_ns.items()):
        kubectl(kubeconfig, "delete", kind, "-n", ns, *names)
    for key in altered:
        _kind, ns, name = key.split("/")
        kubectl(kubeconfig, "patch", "configmap", "-n", ns, name, "--type", "merge", "-p",
                json.dumps({"data": {"key-0": "changed after the snapshot"}}))  # fmt: skip
    late = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"late-{i:02d}", "namespace": "drill-0", "labels": {LABEL: "late"}},
         "data": {"made": "after the snapshot"}}
        for i in range(LATE)
    ]  # fmt: skip
    _apply_file(kubeconfig, "create", late)
    return {"namespace_deleted": gone_ns, "deleted": len(deleted), "altered": len(altered), "added": len(late)}


def _key(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"


def check(kubeconfig: str, state: Path) -> dict:
    expected = json.loads((state / "expected.json").read_text())["objects"]
    found: dict[str, dict] = {}
    for kind in ("namespaces", "configmaps", "secrets"):
        listing = json.loads(kubectl(kubeconfig, "get", kind, "--all-namespaces", "-l", LABEL, "-o", "json"))
        for obj in listing["items"]:
            obj.setdefault("kind", {"namespaces": "Namespace", "configmaps": "ConfigMap", "secrets": "Secret"}[kind])
            found[_key(obj)] = obj
    restored, lost, different = 0, [], []
    for key, want in expected.items():
        have = found.get(key)
        if have is None:
            lost.append(key)
        elif key.startswith("Namespace/"):
            if (have.get("status") or {}).get("phase", "Active") != "Active":
                different.append(key)
            else:
                restored += 1
        elif have.get("data") != want["data"] or have["metadata"].get("labels") != want["metadata"]["labels"]:
            different.append(key)
        else:
            restored += 1
    leftover = sorted(k for k, o in found.items() if o["metadata"].get("labels", {}).get(LABEL) == "late")
    return {
        "created": len(expected),
        "restored": restored,
        "lost": len(lost) + len(different),
        "missing": len(lost),
        "different": len(different),
        "leftover": len(leftover),
        "examples": (lost + different + leftover)[:5],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="edgefleet_testing.drill", description=__doc__.split("\n\n")[0])
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--state", required=True, type=Path, help="directory of expected.json")
    sub = p.add_subparsers(dest="verb", required=True)
    sp = sub.add_parser("seed")
    sp.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    sub.add_parser("damage")
    sp = sub.add_parser("check")
    sp.add_argument("--expect-damage", action="store_true")
    ns = p.parse_args(argv)
    try:
        if ns.verb == "seed":
            result = seed(
                ns.kubeconfig, ns.state, ns.seed if ns.seed is not None else random.SystemRandom().randrange(2**31)
            )
            ok = True
        elif ns.verb == "damage":
            result, ok = damage(ns.kubeconfig, ns.state), True
        else:
            result = check(ns.kubeconfig, ns.state)
            intact = result["lost"] == 0 and result["leftover"] == 0
            ok = not intact if ns.expect_damage else intact
    except DrillError as exc:
        print(f"drill {ns.verb}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
