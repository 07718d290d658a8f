import os
import sys

import pytest

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(_REPO, "tests", "k3s_runtime"))
sys.path.insert(0, os.path.join(_REPO, "tests", "runtime"))

import k3sbin  # noqa: E402
from k3srt import containerd  # noqa: E402


@pytest.fixture(autouse=True)
def _standin_only(request):
    k3sbin.skip_standin(request)


_ORIGINAL_SEARCH_PREFIX = containerd.SEARCH_PREFIX


@pytest.fixture
def original_search_prefix():
    """The module's search prefix as imported, before isolated_prefix replaced it."""
    return _ORIGINAL_SEARCH_PREFIX


@pytest.fixture(autouse=True)
def isolated_prefix(tmp_path, monkeypatch):
    """Replace /usr/local/nvidia/toolkit:/opt/kwasm/bin by two empty temp dirs, so the host's files never leak in.

    Returns (toolkit_dir, kwasm_dir); tests that need the prefix put stubs there.
    """
    toolkit = tmp_path / "usr-local-nvidia-toolkit"
    kwasm = tmp_path / "opt-kwasm-bin"
    toolkit.mkdir()
    kwasm.mkdir()
    monkeypatch.setattr(containerd, "SEARCH_PREFIX", "%s:%s" % (toolkit, kwasm))
    return toolkit, kwasm


@pytest.fixture
def make_bin(tmp_path):
    """make_bin(dirname, *names, mode=0o755) -> dir path: stub executables named like the runtime binaries."""

    def make(dirname, *names, mode=0o755):
        directory = tmp_path / dirname
        directory.mkdir(exist_ok=True)
        for name in names:
            path = directory / name
            path.write_text("#!/bin/sh\nexit 0\n")
            path.chmod(mode)
        return str(directory)

    return make


@pytest.fixture
def logs():
    """A log(msg, level="info") callable that records (level, msg) tuples in .lines."""

    class Log:
        def __init__(self):
            self.lines = []

        def __call__(self, msg, level="info"):
            self.lines.append((level, msg))

    return Log()


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "k3s"
    path.mkdir()
    return str(path)


@pytest.fixture
def no_registries(tmp_path):
    """Agent flags pointing --private-registry at a file that does not exist (never /etc/rancher/k3s)."""
    return {"private-registry": str(tmp_path / "absent-registries.yaml")}
