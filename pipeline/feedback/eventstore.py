"""The SQL of SES events and campaign reports (part of the store layer, see store.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns, deliveries, events, memberships, subscribers
from pipeline.delivery import settling

SOFT_BOUNCE_LIMIT = 3  # transient bounces on this many campaigns in a row -> bounced
# Only these change a person's status; every other event is recorded and nothing more.
_STATUS_EVENTS = frozenset({"Bounce", "Complaint"})

# The statements of `record`, built once: SNS delivers events in bursts of thousands, and
# building and keying a statement costs more than running it (SQLAlchemy caches the
# compiled form per statement object).
_SEEN = sa.select(events.c.id).where(events.c.event_key == sa.bindparam("key"))
_DELIVERY = sa.select(deliveries.c.id, deliveries.c.subscriber_id).where(
    deliveries.c.message_id == sa.bindparam("message_id")
)
_PEOPLE = sa.select(subscribers.c.id).where(
    subscribers.c.email_key.in_(sa.bindparam("keys", expanding=True))
)
_INSERT = sa.insert(events)

# SES's mailbox simulator (`doctor --round-trip` mails it): its addresses are nobody's, so
# their bounces and complaints suppress no one.
SIMULATOR_DOMAIN = "simulator.amazonses.com"


def simulated(address: str) -> bool:
    return address.strip().lower().rpartition("@")[2] == SIMULATOR_DOMAIN


@dataclass(frozen=True)
class SesEvent:
    key: str
    event_type: str
    message_id: str | None
    recipients: list[str]
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    detail: str | None = None
    occurred_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)  # the message's SES tags (mail.tags)


@dataclass
class RecordedEvent:
    event: SesEvent
    duplicate: bool = False
    matched: bool = False
    changes: list[str] = field(default_factory=list)


class EventStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, event: SesEvent) -> RecordedEvent:
        """Store the event once (by its key) and apply its effect, in one transaction."""
        result = RecordedEvent(event)
        with self.store.begin() as tx:
            conn = tx.conn
            if conn.execute(_SEEN, {"key": event.key}).first() is not None:
                result.duplicate = True
                return result
            delivery = None
            if event.message_id:
                delivery = conn.execute(_DELIVERY, {"message_id": event.message_id}).first()
            by_tag = delivery is None and settling.DELIVERY_TAG in event.tags
            if by_tag:  # a message whose sender died before recording its id
                delivery = settling.tagged_delivery(conn, event.tags, event.recipients)
            result.matched = delivery is not None
            people: list[int] = []
            if delivery is not None and delivery.subscriber_id is not None:
                people = [delivery.subscriber_id]
            elif delivery is None and event.recipients:
                # Not one of our campaign messages (a test copy, an older tool): a bounce
                # or complaint still tells us about the address (never a simulator's).
                keys = [r.strip().lower() for r in event.recipients if not simulated(r)]
                people = list(conn.scalars(_PEOPLE, {"keys": keys})) if keys else []
            conn.execute(
                _INSERT,
                {
                    "event_key": event.key,
                    "message_id": event.message_id,
                    "delivery_id": delivery.id if delivery is not None else None,
                    "subscriber_id": people[0] if people else None,
                    "event_type": event.event_type,
                    "bounce_type": event.bounce_type,
                    "bounce_subtype": event.bounce_subtype,
                    "detail": event.detail,
                    "occurred_at": event.occurred_at,
                    "received_at": utcnow(),
                },
            )
            if by_tag and delivery is not None:
                at = event.occurred_at
                if settling.settle(conn, delivery.id, event.message_id, event.event_type, at):
                    result.changes.append(
                        f"delivery {delivery.id}: unknown -> sent (a {event.event_type} event)"
                    )
            for person in people if event.event_type in _STATUS_EVENTS else ():
                change = self._apply(conn, event, person)
                if change:
                    result.changes.append(change)
        return result

    def _apply(self, conn: Connection, event: SesEvent, subscriber_id: int) -> str | None:
        row = conn.execute(
            sa.select(subscribers.c.email, subscribers.c.status).where(
                subscribers.c.id == subscriber_id
            )
        ).first()
        if row is None or simulated(row.email):
            return None
        new_status = None
        if event.event_type == "Complaint" and row.status != "complained":
            new_status = "complained"
        elif event.event_type == "Bounce" and row.status in ("active", "unsubscribed"):
            # Undetermined bounces count as soft ones: suppressing on a single one would
            # lose readers whose mailbox was only briefly unreachable.
            permanent = event.bounce_type == "Permanent"
            if permanent or self._soft_bounced_in_a_row(conn, subscriber_id):
                new_status = "bounced"
        if new_status is None:
            return None
        conn.execute(
            sa.update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(status=new_status, updated_at=utcnow())
        )
        return f"{row.email}: {row.status} -> {new_status} ({event.event_type})"

    def _soft_bounced_in_a_row(self, conn: Connection, subscriber_id: int) -> bool:
        """True when each of the person's last SOFT_BOUNCE_LIMIT campaigns soft-bounced."""
        recent = list(
            conn.scalars(
                sa.select(deliveries.c.id)
                .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
                .where(
                    deliveries.c.subscriber_id == subscriber_id,
                    deliveries.c.status == "sent",
                    campaigns.c.dry_run.is_(False),
                )
                .order_by(deliveries.c.campaign_id.desc())
                .limit(SOFT_BOUNCE_LIMIT)
            )
        )
        if len(recent) < SOFT_BOUNCE_LIMIT:
            return False
        bounced = conn.execute(
            sa.select(sa.func.count(sa.distinct(events.c.delivery_id))).where(
                events.c.delivery_id.in_(recent),
                events.c.event_type == "Bounce",
                events.c.bounce_type.in_(["Transient", "Undetermined"]),
            )
        ).scalar_one()
        return bounced >= SOFT_BOUNCE_LIMIT

    # --- reports ------------------------------------------------------------------------

    def event_counts(self, campaign_id: int) -> dict[str, int]:
        """Distinct deliveries of a campaign per event kind (bounces split by type)."""
        kind = sa.case(
            (events.c.event_type == "Bounce", sa.literal("Bounce:") + events.c.bounce_type),
            else_=events.c.event_type,
        )
        query = (
            sa.select(kind, sa.func.count(sa.distinct(events.c.delivery_id)))
            .join(deliveries, deliveries.c.id == events.c.delivery_id)
            .where(deliveries.c.campaign_id == campaign_id)
            .group_by(kind)
        )
        with self.store.begin(write=False) as tx:
            return {str(k): int(n) for k, n in tx.conn.execute(query)}

    def unsubscribed_after(self, campaign_id: int) -> int:
        """Recipients who left the campaign's list after it started."""
        query = (
            sa.select(sa.func.count())
            .select_from(deliveries)
            .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
            .join(
                memberships,
                (memberships.c.subscriber_id == deliveries.c.subscriber_id)
                & (memberships.c.list_id == campaigns.c.list_id),
            )
            .where(
                deliveries.c.campaign_id == campaign_id,
                deliveries.c.status == "sent",
                memberships.c.status == "unsubscribed",
                memberships.c.unsubscribed_at >= campaigns.c.started_at,
            )
        )
        with self.store.begin(write=False) as tx:
            return int(tx.conn.execute(query).scalar_one())

    def top_links(self, campaign_id: int, limit: int = 5) -> list[dict[str, Any]]:
        query = (
            sa.select(
                events.c.detail,
                sa.func.count(sa.distinct(events.c.delivery_id)).label("unique"),
                sa.func.count().label("total"),
            )
            .join(deliveries, deliveries.c.id == events.c.delivery_id)
            .where(deliveries.c.campaign_id == campaign_id, events.c.event_type == "Click")
            .group_by(events.c.detail)
            .order_by(sa.desc("unique"), events.c.detail)
            .limit(limit)
        )
        with self.store.begin(write=False) as tx:
            return [
                {"link": link, "unique_clicks": unique, "clicks": total}
                for link, unique, total in tx.conn.execute(query)
            ]

    def missing(self, campaign_id: int) -> list[dict[str, Any]]:
        """Everyone targeted who did not get the issue, with the reason."""
        bounce = (
            sa.select(
                events.c.delivery_id,
                sa.func.max(
                    sa.case(
                        (events.c.event_type == "Reject", sa.literal("rejected by SES")),
                        else_=sa.literal("bounced (")
                        + sa.func.coalesce(events.c.bounce_type, "")
                        + sa.literal(")"),
                    )
                ).label("why"),
            )
            .where(
                (events.c.event_type == "Reject")
                | ((events.c.event_type == "Bounce") & (events.c.bounce_type != "Transient"))
            )
            .group_by(events.c.delivery_id)
            .subquery()
        )
        query = (
            sa.select(
                deliveries.c.email,
                deliveries.c.status,
                deliveries.c.error,
                bounce.c.why,
            )
            .outerjoin(bounce, bounce.c.delivery_id == deliveries.c.id)
            .where(
                deliveries.c.campaign_id == campaign_id,
                (deliveries.c.status != "sent") | bounce.c.why.is_not(None),
            )
            .order_by(deliveries.c.id)
        )
        rows = []
        with self.store.begin(write=False) as tx:
            for email, status, error, why in tx.conn.execute(query):
                reason = why if status == "sent" else status + (f": {error}" if error else "")
                rows.append({"email": email or "(forgotten)", "status": status, "reason": reason})
        return rows
