"""EtcdKV retries what passes on its own (an election, an unreachable endpoint) for a bounded time, nothing else."""

import time

import pytest
from k3srt.etcd.client import EtcdAPIError, EtcdKV, EtcdUnavailable


class FlakyClient:
    """Stands in for EtcdClient: raises the queued errors first, then answers like the gateway."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def call(self, path, body=None, endpoints=None):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"header": {"revision": "7"}, "kvs": [{"key": "eA==", "value": "dg==", "mod_revision": "7"}]}


@pytest.mark.parametrize(
    "error",
    [
        EtcdAPIError("etcdserver: leader changed", 14, 503),
        EtcdAPIError("etcdserver: request timed out", None, 500),
        EtcdAPIError("etcdserver: no leader", None, 500),
        EtcdUnavailable("https://127.0.0.1:2379: [Errno 111] Connection refused"),
    ],
)
def test_transient_errors_are_retried(error):
    client = FlakyClient(error, error)
    kv = EtcdKV(client, retry_seconds=5)
    assert kv.put("x", b"v") == 7
    assert client.calls == 3


def test_other_errors_fail_at_once():
    client = FlakyClient(EtcdAPIError("etcdserver: mvcc: required revision has been compacted", 11, 400))
    with pytest.raises(EtcdAPIError, match="compacted"):
        EtcdKV(client, retry_seconds=5).get("x")
    assert client.calls == 1


def test_retries_stop_after_the_deadline():
    client = FlakyClient(*[EtcdAPIError("etcdserver: leader changed", 14, 503)] * 100)
    start = time.monotonic()
    with pytest.raises(EtcdAPIError, match="leader changed"):
        EtcdKV(client, retry_seconds=1).get("x")
    assert 0.5 < time.monotonic() - start < 2
    assert 2 < client.calls < 20
