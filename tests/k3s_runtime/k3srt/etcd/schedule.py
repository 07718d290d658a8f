"""Scheduled snapshots (--etcd-snapshot-schedule-cron, default "0 */12 * * *"), disabled by
--etcd-disable-snapshots. Saves <etcd-snapshot-name>-<node>-<unix> and prunes to --etcd-snapshot-retention."""

from __future__ import annotations

import datetime
import random
import threading

from . import layout, snapshot

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))  # minute hour day-of-month month day-of-week
_NAMED = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0"}


def _field(spec: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for part in spec.split(","):
        rng, _, step = part.partition("/")
        if rng in ("*", "?"):
            start, end = lo, hi
        elif "-" in rng:
            start, end = (int(x) for x in rng.split("-", 1))
        else:
            start = end = int(rng)
            if step:
                end = hi
        if start < lo or end > hi or start > end:
            raise ValueError(f"value out of range in {spec!r}")
        values.update(range(start, end + 1, int(step) if step else 1))
    return values


def parse(expr: str) -> list[set[int]]:
    expr = _NAMED.get(expr.strip(), expr)
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected exactly 5 fields, found {len(fields)}: {expr!r}")
    sets = [_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True)]
    sets[4] = {d % 7 for d in sets[4]}
    return sets


def matches(sets: list[set[int]], t: datetime.datetime) -> bool:
    minute, hour, dom, month, dow = sets
    return t.minute in minute and t.hour in hour and t.day in dom and t.month in month and (t.isoweekday() % 7) in dow


def next_run(sets: list[set[int]], after: datetime.datetime) -> datetime.datetime:
    t = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        if matches(sets, t):
            return t
        t += datetime.timedelta(minutes=1)
    raise ValueError("cron expression never matches")


def start(rt) -> threading.Thread | None:
    ctx = rt.ctx
    if layout.cfg(ctx, "etcd-disable-snapshots") in (True, "true"):
        return None
    expr = str(layout.cfg(ctx, "etcd-snapshot-schedule-cron", "0 */12 * * *"))
    try:
        sets = parse(expr)
    except ValueError as exc:
        layout.log(ctx, f"Invalid etcd snapshot schedule {expr!r}: {exc}", "error")
        return None

    def loop():
        while True:
            now = datetime.datetime.now()
            delay = (next_run(sets, now) - now).total_seconds() + random.uniform(0, 5)  # noqa: S311 - jitter
            if rt.stop_event.wait(delay) or rt.removed:
                return
            try:
                base = str(layout.cfg(ctx, "etcd-snapshot-name", "etcd-snapshot"))
                retention = int(layout.cfg(ctx, "etcd-snapshot-retention", 5))
                compress = layout.cfg(ctx, "etcd-snapshot-compress") in (True, "true")
                created, deleted = snapshot.save(ctx, base, None, compress, retention)
                layout.log(ctx, f"Scheduled etcd snapshot saved: {created[0]}")
            except Exception as exc:  # noqa: BLE001 - the schedule must survive a failed run
                layout.log(ctx, f"Failed to take scheduled snapshot: {exc}", "error")

    thread = threading.Thread(target=loop, name="etcd-snapshot-schedule", daemon=True)
    thread.start()
    return thread
