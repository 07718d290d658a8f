import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from certs import ClusterPKI  # noqa: E402
from harness import Node  # noqa: E402

if shutil.which("etcd") is None or shutil.which("etcdctl") is None:  # pragma: no cover
    pytest.skip("etcd/etcdctl not installed", allow_module_level=True)


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
