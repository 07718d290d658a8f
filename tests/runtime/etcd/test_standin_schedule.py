import datetime
import os

import pytest
from harness import wait_for
from k3srt.etcd import schedule


def test_cron_parsing_and_next_run():
    sets = schedule.parse("0 */12 * * *")
    t = datetime.datetime(2026, 1, 1, 0, 0, 30)
    assert schedule.next_run(sets, t) == datetime.datetime(2026, 1, 1, 12, 0)
    assert schedule.next_run(schedule.parse("*/5 1-2 * * 1"), datetime.datetime(2026, 1, 1, 0, 0)) == (
        datetime.datetime(2026, 1, 5, 1, 0)  # first Monday
    )
    assert schedule.next_run(schedule.parse("@daily"), t) == datetime.datetime(2026, 1, 2, 0, 0)
    for bad in ("* * * *", "61 * * * *", "a * * * *"):
        with pytest.raises(ValueError):
            schedule.parse(bad)


def test_scheduled_snapshots_with_retention(make_node, monkeypatch):
    monkeypatch.setattr(schedule, "next_run", lambda sets, now: now + datetime.timedelta(seconds=1.1))
    monkeypatch.setattr(schedule.random, "uniform", lambda a, b: 0.0)
    node = make_node("alpha", config={"etcd-snapshot-retention": 2, "etcd-snapshot-name": "sched"})
    node.start("new")
    snapdir = os.path.join(node.ctx.server_dir, "db", "snapshots")
    wait_for(
        lambda: sum("Scheduled etcd snapshot saved" in m for m in node.ctx.messages()) >= 4, 30, what="4 snapshots"
    )
    files = os.listdir(snapdir)
    assert 1 <= len(files) <= 2 and all(f.startswith("sched-alpha-") for f in files)


def test_disable_snapshots(make_node, monkeypatch):
    monkeypatch.setattr(schedule, "next_run", lambda sets, now: now + datetime.timedelta(seconds=0.2))
    node = make_node("alpha", config={"etcd-disable-snapshots": True})
    node.start("new")
    assert schedule.start(node.runtime) is None
