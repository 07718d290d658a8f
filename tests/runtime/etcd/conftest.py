import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import k3sbin  # noqa: E402
from certs import ClusterPKI  # noqa: E402
from harness import Node  # noqa: E402

# Skips are not passes: with CI=true a missing etcd fails the run (tests/runtime/k3sbin.py).
k3sbin.require_tools("etcd", "etcdctl", why="the embedded-etcd contract runs Debian's etcd")


@pytest.fixture(autouse=True)
def _standin_only(request):
    k3sbin.skip_standin(request)


@pytest.fixture(scope="session")
def pki():
    return ClusterPKI()


@pytest.fixture
def make_node(tmp_path, pki):
    """Factory for Nodes sharing one PKI; every etcd process is stopped (or killed) at teardown."""
    nodes = []

    def make(name: str, config: dict | None = None, node_ip: str = "127.0.0.1") -> Node:
        node = Node(str(tmp_path), name, pki, config, node_ip)
        nodes.append(node)
        return node

    yield make
    for node in reversed(nodes):
        node.close()
