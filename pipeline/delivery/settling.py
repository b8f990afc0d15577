"""Rows left `unknown` by a crash, settled by SES's own record of them.

Every campaign message carries its delivery's id as an SES message tag (`DELIVERY_TAG`),
and SES's events carry the tags back (`mail.tags`). A Send, Delivery, Bounce or Complaint
event proves SES accepted the message: an `unknown` row it names becomes `sent` with the
event's message id, so that `send --retry-unknown` resends only rows SES never took.

An event can arrive before its row is `unknown` (the sender died but nobody noticed yet):
it is stored with the row's id, and `settle_campaign` settles the row later from it.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.clock import utcnow
from pipeline.db.schema import deliveries, events

# How long a row stays `unknown` before --retry-unknown resends it (`unknown_settle_seconds`):
# SES publishes events within seconds, so a few minutes leave room for a slow queue.
UNKNOWN_SETTLE_SECONDS = 300.0
DELIVERY_TAG = "delivery"
CAMPAIGN_TAG = "campaign"
# Events that exist only for a message SES accepted (a Reject is SES refusing it).
ACCEPTED_EVENTS = ("Send", "Delivery", "Bounce", "Complaint")
# Written on the row it settles: `send --retry-unknown` counts them by it.
SETTLED_NOTE = "settled by SES's own record (a {event} event): its sender stopped before"


def campaign_tag(issue_number: int, campaign_id: int) -> str:
    return f"issue-{issue_number}-{campaign_id}"


def tagged_delivery(
    conn: Connection, tags: dict[str, str], recipients: list[str]
) -> sa.Row[int, int | None] | None:
    """(id, subscriber id) of the delivery an event's tags name, when the row is this
    database's: the campaign tag names its campaign, and one of the event's recipients is
    its address (another database sending through the same account has rows of the same
    ids)."""
    delivery_id = tags.get(DELIVERY_TAG, "")
    campaign_id = tags.get(CAMPAIGN_TAG, "").rpartition("-")[2]
    if not (_an_id(delivery_id) and _an_id(campaign_id)):
        return None
    addresses = sorted({parseaddr(r)[1].strip().lower() for r in recipients} - {""})
    if not addresses:
        return None
    query = sa.select(deliveries.c.id, deliveries.c.subscriber_id).where(
        deliveries.c.id == int(delivery_id),
        deliveries.c.campaign_id == int(campaign_id),
        sa.func.lower(deliveries.c.email).in_(addresses),
    )
    return conn.execute(query).first()


def _an_id(text: str) -> bool:
    return text.isascii() and text.isdecimal() and len(text) <= 18


def settle(
    conn: Connection, delivery_id: int, message_id: str | None, event_type: str, at: datetime | None
) -> bool:
    """Record an `unknown` row as sent, from an event that shows SES accepted it."""
    if event_type not in ACCEPTED_EVENTS or not message_id:
        return False
    changed = conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.status == "unknown")
        .values(
            status="sent",
            message_id=message_id,
            sent_at=at or utcnow(),
            error=SETTLED_NOTE.format(event=event_type),
            updated_at=utcnow(),
        )
    ).rowcount
    return bool(changed)


def settle_campaign(conn: Connection, campaign_id: int) -> int:
    """Settle the campaign's `unknown` rows from events stored before they became unknown.
    Returns how many were settled."""
    found = conn.execute(
        sa.select(events.c.delivery_id, events.c.message_id, events.c.event_type)
        .join(deliveries, deliveries.c.id == events.c.delivery_id)
        .where(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status == "unknown",
            events.c.event_type.in_(ACCEPTED_EVENTS),
            events.c.message_id.is_not(None),
        )
        .order_by(events.c.id)
    ).all()
    settled = 0
    for delivery_id, message_id, event_type in found:
        settled += settle(conn, delivery_id, message_id, event_type, None)
    return settled


def settled_count(conn: Connection, campaign_id: int) -> int:
    """Rows of the campaign that SES's events settled, now or before."""
    prefix = SETTLED_NOTE.split("(", 1)[0]
    query = sa.select(sa.func.count()).where(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == "sent",
        deliveries.c.error.startswith(prefix, autoescape=True),
    )
    return int(conn.execute(query).scalar_one())


def unknown_waiting(conn: Connection, campaign_id: int, before: datetime) -> tuple[int, datetime]:
    """`unknown` rows that became unknown after `before`, too recent to resend (their
    events may still come), and when the last of them did."""
    query = sa.select(sa.func.count(), sa.func.max(deliveries.c.updated_at)).where(
        deliveries.c.campaign_id == campaign_id,
        deliveries.c.status == "unknown",
        deliveries.c.subscriber_id.is_not(None),
        deliveries.c.updated_at > before,
    )
    count, latest = conn.execute(query).one()
    return int(count), latest or before
