"""Manifests a server stages into server/manifests on every start (K3S_BEHAVIOUR §3 Auto-deploy).

runtimes.yaml is the real content (RuntimeClasses). The other components are not run by the test runtime:
each is staged as a ConfigMap that says so, so disabling/re-enabling them behaves like k3s on disk and in the API.
"""

from __future__ import annotations

import os

RUNTIME_HANDLERS = (
    "nvidia",
    "nvidia-experimental",
    "crun",
    "lunatic",
    "slight",
    "spin",
    "wws",
    "wasmedge",
    "wasmer",
    "wasmtime",
)
COMPONENTS = ("ccm", "coredns", "local-storage", "metrics-server", "rolebindings", "traefik")


def runtimes_yaml() -> str:
    docs = [
        f"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: {h}\nhandler: {h}\n"
        for h in RUNTIME_HANDLERS
    ]
    return "---\n".join(docs)


def placeholder(component: str) -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
        f"  name: k3srt-{component}\n  namespace: kube-system\n"
        "data:\n"
        f"  note: the k3s test runtime stages {component} but does not run it\n"
    )


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def stage(manifests_dir: str, disabled: set[str], api, log) -> None:
    """(Re)write bundled manifests; delete files and Addons of disabled components."""
    files = {"runtimes": ("runtimes.yaml", runtimes_yaml())}
    for comp in COMPONENTS:
        rel = "metrics-server/metrics-server.yaml" if comp == "metrics-server" else f"{comp}.yaml"
        files[comp] = (rel, placeholder(comp))
    for comp, (rel, text) in files.items():
        path = os.path.join(manifests_dir, rel)
        if comp in disabled:
            if os.path.exists(path):
                os.remove(path)
                log(f"Removed disabled component manifest {rel}")
            if api is not None:
                api.remove_addon(os.path.splitext(os.path.basename(rel))[0])
            continue
        _write(path, text)
