"""What a confirmation link does: its GET shows what it would confirm and changes nothing
(mail scanners fetch every link); its POST subscribes the person to every list of their
pending form consents, stamps those consents confirmed, and queues the welcome once per
person. Confirming twice is harmless: nothing waits the second time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience import consents
from pipeline.audience.queries import AudienceTx
from pipeline.audience.signup import SUPPRESSED, member_states, queue_mail
from pipeline.audience.tokens import verify_confirm_token
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import memberships, outbox
from pipeline.errors import InputError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class Refused(InputError):
    """The address bounced or complained since it signed up: it cannot be confirmed."""

    def __init__(self, email: str, status: str) -> None:
        super().__init__(f"{email} is {status}; not confirmed")
        self.email = email


@dataclass(frozen=True)
class Pending:
    """What a confirmation link would confirm (for the page its GET shows)."""

    subscriber_id: int
    email: str
    lists: list[str]  # waiting for confirmation
    subscribed: list[str]  # already confirmed
    refused: str | None = None  # bounced / complained since: cannot be confirmed here


@dataclass(frozen=True)
class Confirmed:
    email: str
    lists: list[str]  # confirmed now (empty: nothing was waiting)
    welcome: bool  # a welcome was queued
    subscribed: list[str] = field(default_factory=list)  # confirmed before


def _verify(settings: Settings, secret: bytes, token: str, now: datetime) -> tuple[int, datetime]:
    """(subscriber id, the oldest signup the link may confirm): one asked for within
    confirm_link_days before the link was made (it is made when the mail goes out)."""
    days = timedelta(days=settings.confirm_link_days)
    subscriber_id, issued = verify_confirm_token(secret, token, now=now, max_age=days)
    return subscriber_id, min(issued, now) - days


def _pending(tx: AudienceTx, subscriber_id: int, since: datetime) -> Pending:
    sub = tx.subscriber_by_id(subscriber_id)
    if sub is None:
        raise InputError("this confirmation link is no longer valid (the address was removed)")
    waiting = consents.pending_lists(tx.conn, sub.id, since)
    subscribed = [
        m.list_name
        for m in tx.memberships_of(sub.id)
        if m.status == "subscribed" and m.list_id not in waiting
    ]
    refused = sub.status if sub.status in SUPPRESSED else None
    return Pending(sub.id, sub.email, sorted(waiting.values()), subscribed, refused)


def pending(
    store: Store, settings: Settings, secret: bytes, token: str, *, now: datetime | None = None
) -> Pending:
    """What `GET /confirm/<token>` shows; changes nothing (mail scanners fetch links)."""
    now = now or utcnow()
    subscriber_id, since = _verify(settings, secret, token, now)
    with store.begin(AudienceTx, write=False) as tx:
        return _pending(tx, subscriber_id, since)


def confirm(
    store: Store, settings: Settings, secret: bytes, token: str, *, now: datetime | None = None
) -> Confirmed:
    """What `POST /confirm/<token>` does; confirming twice is harmless (nothing waits)."""
    now = now or utcnow()
    subscriber_id, since = _verify(settings, secret, token, now)
    with store.begin(AudienceTx) as tx:
        found = _pending(tx, subscriber_id, since)
        if found.refused:
            raise Refused(found.email, found.refused)
        waiting = consents.pending_lists(tx.conn, subscriber_id, since)
        if not waiting or not consents.confirm(tx.conn, subscriber_id, list(waiting), now):
            return Confirmed(found.email, [], False, found.subscribed)
        states = member_states(tx, subscriber_id)
        for list_id in waiting:
            if list_id in states:
                tx.set_membership_status(subscriber_id, list_id, "subscribed", now)
            else:
                tx.conn.execute(
                    sa.insert(memberships).values(
                        subscriber_id=subscriber_id, list_id=list_id, status="subscribed",
                        subscribed_at=now, updated_at=now, source="signup",
                    )
                )  # fmt: skip
        sub = tx.subscriber_by_id(subscriber_id)
        if sub is not None and sub.status != "active":
            tx.set_subscriber_status(subscriber_id, "active", now)
        welcome = bool(settings.welcome) and not _welcomed(tx.conn, subscriber_id)
        if welcome:
            queue_mail(tx.conn, "welcome", subscriber_id, found.email, now)
    log.info("subscriber %d confirmed %s", subscriber_id, ", ".join(sorted(waiting.values())))
    return Confirmed(found.email, sorted(waiting.values()), welcome)


def _welcomed(conn: Connection, subscriber_id: int) -> bool:
    query = sa.select(sa.func.count()).where(
        outbox.c.subscriber_id == subscriber_id, outbox.c.kind == "welcome"
    )
    return bool(conn.execute(query).scalar_one())
