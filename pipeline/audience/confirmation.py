"""What a confirmation link does: its GET shows what it would confirm and changes nothing
(mail scanners fetch every link); its POST subscribes the person to the lists of the
signup requests its email was sent for (and no request that came later, none the reader
withdrew), stamps those consents confirmed, and queues the welcome once per person.
Confirming twice is harmless: nothing waits the second time.

A link sent before links named their email confirms the requests that existed when it was
made and that no email since has taken over.

The name: confirming makes the name given with the newest waiting request for the lists
confirmed the person's name. Until an address confirms, no name typed on the form is its
name (a stranger may sign up any address with any name)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience import consents
from pipeline.audience.queries import AudienceTx
from pipeline.audience.signup import SUPPRESSED, member_states, queue_mail
from pipeline.audience.tokens import ConfirmLink, verify_confirm_token
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import memberships, outbox, subscribers
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


def _verify(
    settings: Settings, secret: bytes, token: str, now: datetime
) -> tuple[ConfirmLink, datetime]:
    """(the link, the oldest signup it may confirm): one asked for within confirm_link_days
    before the link was made (it is made when the mail goes out)."""
    days = timedelta(days=settings.confirm_link_days)
    link = verify_confirm_token(secret, token, now=now, max_age=days)
    return link, min(link.issued_at, now) - days


def _requests(tx: AudienceTx, link: ConfirmLink, since: datetime) -> list[consents.Waiting]:
    """The waiting signup requests this link confirms."""
    if link.confirmation_id is not None:
        return consents.sent_in(tx.conn, link.subscriber_id, link.confirmation_id, since)
    # The stamp is in whole seconds: a request of the same second existed when it was made.
    made = link.issued_at + timedelta(seconds=1)
    return consents.made_before(tx.conn, link.subscriber_id, since, made)


def _pending(
    tx: AudienceTx, link: ConfirmLink, since: datetime
) -> tuple[Pending, list[consents.Waiting]]:
    sub = tx.subscriber_by_id(link.subscriber_id)
    if sub is None:
        raise InputError("this confirmation link is no longer valid (the address was removed)")
    requests = _requests(tx, link, since)
    waiting = {r.list_id for r in requests}
    subscribed = [
        m.list_name
        for m in tx.memberships_of(sub.id)
        if m.status == "subscribed" and m.list_id not in waiting
    ]
    refused = sub.status if sub.status in SUPPRESSED else None
    names = sorted({r.list_name for r in requests})
    return Pending(sub.id, sub.email, names, subscribed, refused), requests


def pending(
    store: Store, settings: Settings, secret: bytes, token: str, *, now: datetime | None = None
) -> Pending:
    """What `GET /confirm/<token>` shows; changes nothing (mail scanners fetch links)."""
    now = now or utcnow()
    link, since = _verify(settings, secret, token, now)
    with store.begin(AudienceTx, write=False) as tx:
        return _pending(tx, link, since)[0]


def confirm(
    store: Store, settings: Settings, secret: bytes, token: str, *, now: datetime | None = None
) -> Confirmed:
    """What `POST /confirm/<token>` does; confirming twice is harmless (nothing waits)."""
    now = now or utcnow()
    link, since = _verify(settings, secret, token, now)
    subscriber_id = link.subscriber_id
    with store.begin(AudienceTx) as tx:
        found, requests = _pending(tx, link, since)
        if found.refused:
            raise Refused(found.email, found.refused)
        confirmed = {r.list_id: r.list_name for r in requests}
        name = _name_given(tx, subscriber_id, set(confirmed), since, now)
        if not requests or not consents.confirm(tx.conn, [r.id for r in requests], now):
            return Confirmed(found.email, [], False, found.subscribed)
        states = member_states(tx, subscriber_id)
        for list_id in confirmed:
            if list_id in states:
                tx.set_membership_status(subscriber_id, list_id, "subscribed", now)
            else:
                tx.conn.execute(
                    sa.insert(memberships).values(
                        subscriber_id=subscriber_id, list_id=list_id, status="subscribed",
                        subscribed_at=now, updated_at=now, source="signup",
                    )
                )  # fmt: skip
        if name is not None:
            tx.conn.execute(
                sa.update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(name=name, updated_at=now)
            )
        sub = tx.subscriber_by_id(subscriber_id)
        if sub is not None and sub.status != "active":
            tx.set_subscriber_status(subscriber_id, "active", now)
        welcome = bool(settings.welcome) and not _welcomed(tx.conn, subscriber_id)
        if welcome:
            queue_mail(tx.conn, "welcome", subscriber_id, found.email, now)
    log.info("subscriber %d confirmed %s", subscriber_id, ", ".join(sorted(confirmed.values())))
    return Confirmed(found.email, sorted(confirmed.values()), welcome)


def _name_given(
    tx: AudienceTx, subscriber_id: int, list_ids: set[int], since: datetime, now: datetime
) -> str | None:
    """The name that confirming makes the person's: the one given with the newest waiting
    request for these lists (made before now), so the owner who signs up after a stranger
    gives the name that counts. None when none gave one: the name stays as it was."""
    given = [
        r
        for r in consents.waiting(tx.conn, subscriber_id, since)
        if r.list_id in list_ids and r.name and r.requested_at <= now
    ]
    newest = max(given, key=lambda r: (r.requested_at, r.id), default=None)
    return newest.name if newest is not None else None


def _welcomed(conn: Connection, subscriber_id: int) -> bool:
    query = sa.select(sa.func.count()).where(
        outbox.c.subscriber_id == subscriber_id, outbox.c.kind == "welcome"
    )
    return bool(conn.execute(query).scalar_one())
