"""`k3s kubectl`: the host's real kubectl with k3s' kubeconfig defaults (K3S_BEHAVIOUR §1.9).

Real k3s embeds kubectl; the test runtime execs the kubectl found on PATH (Debian's kubernetes-client in the lab
image) so that every call is a real kubectl speaking to the runtime's API."""

from __future__ import annotations

import os
import shutil
import sys

DEFAULT = os.path.join(os.environ.get("K3SRT_ETC_DIR", "/etc/rancher"), "k3s", "k3s.yaml")


def run(argv: list[str], env: dict) -> int:
    env = dict(env)
    if not env.get("KUBECONFIG") and not any(a == "--kubeconfig" or a.startswith("--kubeconfig=") for a in argv):
        path = DEFAULT if os.path.exists(DEFAULT) else os.path.expanduser("~/.kube/k3s.yaml")
        if os.path.exists(path) and not os.access(path, os.R_OK):
            print(
                f"Unable to read {path}, please start server with --write-kubeconfig-mode or "
                "--write-kubeconfig-group to modify kube config permissions",
                file=sys.stderr,
            )
        env["KUBECONFIG"] = path
    me = os.path.realpath(sys.argv[0])
    for cand in (shutil.which("kubectl", path=env.get("PATH")), "/usr/bin/kubectl"):
        if cand and os.path.realpath(cand) != me and os.access(cand, os.X_OK):
            os.execve(cand, [cand, *argv], env)  # noqa: S606 - exec the real kubectl, no shell
    print(
        "kubectl: no kubectl binary found on this host (the k3s test runtime execs the host's kubectl)", file=sys.stderr
    )
    return 1
