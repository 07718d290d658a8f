# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mirror host serves what `mirror publish` copied, to this machine and to lab hosts; it can be switched off."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.lab
LAB_UP_ARGS = ("--servers", "1", "--agents", "0", "--gpu-agents", "0", "--lbs", "0")
VERSION = "v1.36.1+k3s1"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    payload = os.urandom(256 * 1024)  # random content: a stale or wrong file cannot match
    rel = root / VERSION
    rel.mkdir()
    (rel / "k3s").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    (rel / "sha256sum-amd64.txt").write_text(f"{digest}  k3s\n")
    return root, payload, digest


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def test_published_file_is_served_with_its_content(lab, release):
    root, payload, digest = release
    lab.cli("mirror", "publish", str(root))
    base = f"http://{lab.ip('mirror')}"
    assert _get(f"{base}/v1.36.1%2Bk3s1/k3s") == payload  # GitHub-style URL: '+' encoded as %2B
    assert _get(f"{base}/{VERSION}/sha256sum-amd64.txt").decode() == f"{digest}  k3s\n"


def test_lab_hosts_download_from_the_mirror_url_in_the_inventory(lab, release):
    root, _payload, digest = release
    lab.cli("mirror", "publish", str(root))
    url = f"http://{lab.ip('mirror')}/v1.36.1%2Bk3s1/k3s"
    proc = lab.sh("server-1", "sh", "-c", f"curl -fsS {url} | sha256sum", check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == digest
    assert f"k3s_release_base_url: http://{lab.ip('mirror')}" in lab.inventory.read_text()


def test_missing_file_is_a_404(lab):
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(f"http://{lab.ip('mirror')}/v0.0.0/k3s")
    assert err.value.code == 404


def test_mirror_stop_and_start(lab, release):
    root, payload, _digest = release
    lab.cli("mirror", "publish", str(root))
    url = f"http://{lab.ip('mirror')}/{VERSION}/k3s"
    lab.cli("mirror", "stop")
    with pytest.raises(urllib.error.URLError):
        _get(url)
    failed = lab.sh("server-1", "curl", "-fsS", "--max-time", "3", url, check=False)
    assert failed.returncode != 0
    lab.cli("mirror", "start")
    assert _get(url) == payload
