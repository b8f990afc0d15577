"""Scheduled campaigns that stopped without a person asking, which the scheduler resumes:
paused by a shutdown (SIGTERM to `serve` or `worker`), or left `running` by a sender that
died (kill -9, a lost machine). A campaign paused by a person, by SES or by its own bounce
rate waits for `newsletter send`."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from pipeline.db import Store
from pipeline.db.schema import campaigns, schedules
from pipeline.delivery import senders
from pipeline.delivery.schedule import Schedule, _select
from pipeline.delivery.send import STOPPED_AT_SHUTDOWN

RESUMED_BY_THE_SCHEDULER = (STOPPED_AT_SHUTDOWN, senders.SENDER_LOST)


def take_over_lost(store: Store, lease_seconds: float) -> list[Schedule]:
    """Running schedules whose campaign no live sender holds: the campaign is paused with
    SENDER_LOST (its rows in flight `unknown`), for `resumable` to pick up."""
    query = _select().where(schedules.c.state == "running", campaigns.c.status == "running")
    with store.begin(write=False) as tx:
        running = [Schedule(*row) for row in tx.conn.execute(query)]
    lost = []
    for found in running:
        assert found.campaign_id is not None
        with store.begin() as tx:
            if senders.take_over_lost(tx.conn, found.campaign_id, lease_seconds):
                lost.append(found)
    return lost


def claim_resume(store: Store, schedule: Schedule, now: datetime, grace_seconds: int) -> bool:
    """A running schedule whose campaign stopped without a person asking, within the grace
    period: paused -> running, as one conditional UPDATE, so one scheduler resumes it.
    Paused longer ago, it waits for `send`, like a missed one."""
    if schedule.campaign_id is None:
        return False
    with store.begin() as tx:
        changed = tx.conn.execute(
            sa.update(campaigns)
            .where(
                campaigns.c.id == schedule.campaign_id,
                campaigns.c.status == "paused",
                campaigns.c.pause_reason.in_(RESUMED_BY_THE_SCHEDULER),
                campaigns.c.updated_at >= now - timedelta(seconds=grace_seconds),
            )
            .values(status="running", pause_reason=None, updated_at=now)
        ).rowcount
    return bool(changed == 1)


def resumable(store: Store) -> list[Schedule]:
    query = _select().where(
        schedules.c.state == "running",
        campaigns.c.status == "paused",
        campaigns.c.pause_reason.in_(RESUMED_BY_THE_SCHEDULER),
    )
    with store.begin(write=False) as tx:
        return [Schedule(*row) for row in tx.conn.execute(query.order_by(schedules.c.send_at))]
