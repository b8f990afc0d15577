"""The send loop's two writes, made together in one commit per batch (`SendLog.checkpoint`):
take the next pending rows for a sender, and record what came back from the workers.

A delivery row moves pending -> sending (taken) -> sent | failed | unknown (recorded), or
pending -> skipped when its person was suppressed after the campaign started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience.queries import receiving
from pipeline.clock import utcnow
from pipeline.db.schema import deliveries, memberships, subscribers


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery handed to a worker: its row is `sending` until the outcome is recorded."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: int
    status: str  # sent | failed | unknown | pending (never handed to SES: try again later)
    attempts: int
    message_id: str | None = None
    error: str | None = None


def take(
    conn: Connection, campaign_id: int, list_id: int, limit: int, sender_id: int | None
) -> tuple[list[Claimed], int]:
    """Take up to `limit` pending rows for `sender_id`: suppressed people become
    `skipped` (the check just before sending), the rest `sending`. Several senders
    claim at once without waiting on each other: on PostgreSQL each takes rows no
    other has locked (FOR UPDATE SKIP LOCKED); SQLite lets one writer in at a time.
    Returns (claimed, skipped)."""
    now = utcnow()
    query = (
        sa.select(
            deliveries.c.id,
            deliveries.c.subscriber_id,
            deliveries.c.email,
            deliveries.c.name,
            subscribers.c.status,
            sa.func.coalesce(receiving(list_id), False),
        )
        .select_from(deliveries)
        .outerjoin(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .outerjoin(
            memberships,
            (memberships.c.subscriber_id == deliveries.c.subscriber_id)
            & (memberships.c.list_id == list_id),
        )
        .where(deliveries.c.campaign_id == campaign_id, deliveries.c.status == "pending")
        .order_by(deliveries.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=deliveries)
    )
    claimed: list[Claimed] = []
    skipped: list[dict[str, Any]] = []
    for did, sid, email, name, person, ok in conn.execute(query):
        if ok:
            claimed.append(Claimed(did, sid, email, name))
        else:
            why = (
                "forgotten since the campaign started"
                if sid is None
                else f"{person} since the campaign started"
                if person != "active"
                else "unsubscribed from the list since the campaign started"
            )
            skipped.append({"b_id": did, "b_error": why})
    if claimed:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_([c.delivery_id for c in claimed]))
            .values(status="sending", sender_id=sender_id, claimed_at=now, updated_at=now)
        )
    if skipped:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == sa.bindparam("b_id"))
            .values(status="skipped", error=sa.bindparam("b_error"), updated_at=now),
            skipped,
        )
    return claimed, len(skipped)


def record(conn: Connection, outcomes: list[Outcome]) -> None:
    """Checkpoint what came back from the workers."""
    now = utcnow()
    rows = [
        {
            "b_id": o.delivery_id,
            "b_status": o.status,
            "b_attempts": o.attempts,
            "b_message_id": o.message_id,
            "b_error": o.error,
            "b_sent_at": now if o.status == "sent" else None,
        }
        for o in outcomes
    ]
    if not rows:
        return
    conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            attempts=deliveries.c.attempts + sa.bindparam("b_attempts"),
            message_id=sa.bindparam("b_message_id"),
            error=sa.bindparam("b_error"),
            sent_at=sa.bindparam("b_sent_at", type_=deliveries.c.sent_at.type),
            updated_at=now,
        ),
        rows,
    )
