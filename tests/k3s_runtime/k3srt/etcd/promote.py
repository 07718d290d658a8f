"""Leader duty, on every server: promote learners to voters; notice when this member was removed."""

from __future__ import annotations

from . import layout
from .client import EtcdAPIError, EtcdUnavailable


def tick(rt) -> None:
    ctx = rt.ctx
    try:
        status = rt.client.status(layout.local_client_url(ctx))
        members = rt.client.member_list()
    except (EtcdUnavailable, EtcdAPIError):
        rt.check_removed()  # our etcd is down or refusing: maybe we were removed
        return
    own_id = rt.member_id or int(status["header"]["member_id"])
    if members:
        rt.peer_client_urls = [u for m in members if m["ID"] != own_id for u in m["clientURLs"]]
    if members and not any(m["ID"] == own_id for m in members):
        rt.mark_removed()
        return
    if int(status.get("leader", 0)) != own_id:
        return
    for m in members:
        if not m.get("isLearner"):
            continue
        try:
            rt.client.member_promote(m["ID"])
            layout.log(ctx, f"Promoted learner {m['name'] or m['ID']} to voting member")
        except EtcdAPIError as exc:  # not caught up yet: retried on the next tick
            layout.log(ctx, f"Learner {m['name'] or m['ID']} not promoted yet: {exc}", "debug")
        except EtcdUnavailable:
            return


def loop(rt) -> None:
    interval = layout.promote_interval(rt.ctx)
    while True:
        if rt.removed:
            return
        try:
            tick(rt)
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            layout.log(rt.ctx, f"etcd learner promotion check failed: {exc}", "warning")
        if rt.stop_event.wait(interval):
            return
