# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection tarball: `ansible-galaxy collection build` of the working tree, installed offline with
`ansible-galaxy collection install`, usable by ansible-doc, and without the test infrastructure (the k3s-compatible
test runtime, the lab) or developer files."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SHIPPED = (
    "MANIFEST.json",
    "FILES.json",
    "meta/runtime.yml",
    "plugins/modules/k3s_token.py",
    "roles/server/tasks/main.yml",
    "roles/runtime/meta/argument_specs.yml",
    "playbooks/site.yml",
    "inventory/sample/hosts.yml",
)
LEFT_OUT = (
    "tests/k3s_runtime",
    "tests/lab",
    "tests/lab_tests",
    "tests/runtime",
    ".venv",
    ".build",
    ".lab",
    ".git",
    "Makefile",
    "requirements-dev.txt",
    "docs/dev",
)


def _run(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_tarball_builds_installs_offline_and_leaves_test_infrastructure_out(tmp_path):
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    built = _run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "dist"), str(ROOT))
    assert built.returncode == 0, built.stderr
    tarball = tmp_path / "dist" / f"edgefleet-k3s-{version}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, missing
    leaked = sorted(n for n in names if any(n == p or n.startswith(p + "/") for p in LEFT_OUT))
    assert not leaked, leaked[:20]

    target = tmp_path / "installed"
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(target)}
    installed = _run(str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(target), env=env)
    assert installed.returncode == 0, installed.stderr
    assert (target / "ansible_collections" / "edgefleet" / "k3s" / "roles" / "server" / "tasks" / "main.yml").is_file()
    listed = _run(str(BIN / "ansible-galaxy"), "collection", "list", "edgefleet.k3s", env=env)
    assert f"edgefleet.k3s {version}" in " ".join(listed.stdout.split()), listed.stdout
    doc = _run(str(BIN / "ansible-doc"), "edgefleet.k3s.k3s_token", env=env)
    assert doc.returncode == 0 and "token_type" in doc.stdout, doc.stderr
