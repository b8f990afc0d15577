"""Consent records: who agreed to which list, when, how (form, import, command), from
where (the form's IP and user agent), and when they confirmed. The proof of consent GDPR
asks for; `subscribers show` prints it.

A form signup waits for its confirmation link. Each request keeps a record of its own (its
IP, its user agent, the name it gave). When a confirmation email is made, it takes the
requests waiting then (`bind`): its link confirms those and no other, so a request that
arrives after the email went out waits for an email of its own. A waiting request the
reader leaves (the preference page, an unsubscribe) is withdrawn: no link confirms it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.schema import consents, lists, outbox

METHODS = ("form", "import", "command")


@dataclass(frozen=True)
class Consent:
    list_id: int | None
    method: str
    requested_at: datetime
    confirmed_at: datetime | None = None
    detail: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    name: str | None = None  # the name the request gave


@dataclass(frozen=True)
class Waiting:
    """A form signup waiting for its confirmation link."""

    id: int
    list_id: int
    list_name: str
    name: str | None
    requested_at: datetime


def record(conn: Connection, subscriber_id: int, items: list[Consent]) -> None:
    if not items:
        return
    rows = [
        {
            "subscriber_id": subscriber_id,
            "list_id": c.list_id,
            "method": c.method,
            "detail": c.detail[:300] if c.detail else None,
            "ip": c.ip[:64] if c.ip else None,
            "user_agent": c.user_agent[:300] if c.user_agent else None,
            "requested_at": c.requested_at,
            "confirmed_at": c.confirmed_at,
            "name": c.name[:200] if c.name else None,
        }
        for c in items
    ]
    conn.execute(sa.insert(consents), rows)


def of(conn: Connection, subscriber_id: int) -> list[dict[str, Any]]:
    """One person's consent records, oldest first, with the list's name."""
    query = (
        sa.select(
            lists.c.name,
            consents.c.method,
            consents.c.detail,
            consents.c.ip,
            consents.c.user_agent,
            consents.c.requested_at,
            consents.c.confirmed_at,
            consents.c.withdrawn_at,
            consents.c.name,
        )
        .select_from(consents)
        .outerjoin(lists, lists.c.id == consents.c.list_id)
        .where(consents.c.subscriber_id == subscriber_id)
        .order_by(consents.c.id)
    )
    return [
        {
            "list": row.name,
            "method": row.method,
            "detail": row.detail,
            "ip": row.ip,
            "user_agent": row.user_agent,
            "requested_at": row.requested_at,
            "confirmed_at": row.confirmed_at,
            "withdrawn_at": row.withdrawn_at,
            "name": row.name,
        }
        for row in conn.execute(query)
    ]


def _waiting(subscriber_id: int, since: datetime) -> sa.ColumnElement[bool]:
    """Form signups not yet confirmed nor withdrawn, asked since `since` (older ones
    expired with their link)."""
    return sa.and_(
        consents.c.subscriber_id == subscriber_id,
        consents.c.method == "form",
        consents.c.confirmed_at.is_(None),
        consents.c.withdrawn_at.is_(None),
        consents.c.requested_at >= since,
    )


def _select_waiting(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(consents.c.id, lists.c.id, lists.c.name, consents.c.name, consents.c.requested_at)
        .join(lists, consents.c.list_id == lists.c.id)
        .where(where)
        .order_by(consents.c.requested_at, consents.c.id)
    )


def waiting(conn: Connection, subscriber_id: int, since: datetime) -> list[Waiting]:
    """Every form signup of this person still waiting, oldest first."""
    return [Waiting(*row) for row in conn.execute(_select_waiting(_waiting(subscriber_id, since)))]


def _in_sent_email() -> sa.ColumnElement[bool]:
    sent = sa.select(outbox.c.id).where(outbox.c.status == "sent")
    return sa.and_(consents.c.confirmation_id.is_not(None), consents.c.confirmation_id.in_(sent))


def repeated(conn: Connection, subscriber_id: int, since: datetime, again: Consent) -> set[int]:
    """The lists for which the same request (same IP, user agent and name) already waits
    in no email sent yet: a repeated click adds nothing a record does not already say."""
    same = [
        sa.or_(column.is_(None), column == value) if value is None else column == value
        for column, value in (
            (consents.c.ip, again.ip[:64] if again.ip else None),
            (consents.c.user_agent, again.user_agent[:300] if again.user_agent else None),
            (consents.c.name, again.name[:200] if again.name else None),
        )
    ]
    query = sa.select(consents.c.list_id).where(
        _waiting(subscriber_id, since), sa.not_(_in_sent_email()), *same
    )
    return {int(list_id) for (list_id,) in conn.execute(query)}


def bind(
    conn: Connection, subscriber_id: int, confirmation_id: int, since: datetime
) -> list[Waiting]:
    """The requests a confirmation email made now is for: every waiting one that no email
    already sent holds (an email lost, refused or never sent hands its requests on). Each
    is marked with the email's outbox row, whose link confirms them; returned, oldest first."""
    sent = sa.select(outbox.c.id).where(outbox.c.status == "sent", outbox.c.id != confirmation_id)
    conn.execute(
        sa.update(consents)
        .where(
            _waiting(subscriber_id, since),
            sa.or_(consents.c.confirmation_id.is_(None), consents.c.confirmation_id.not_in(sent)),
        )
        .values(confirmation_id=confirmation_id)
    )
    return sent_in(conn, subscriber_id, confirmation_id, since)


def sent_in(
    conn: Connection, subscriber_id: int, confirmation_id: int, since: datetime
) -> list[Waiting]:
    """The waiting requests the confirmation email of this outbox row was sent for."""
    where = sa.and_(_waiting(subscriber_id, since), consents.c.confirmation_id == confirmation_id)
    return [Waiting(*row) for row in conn.execute(_select_waiting(where))]


def made_before(
    conn: Connection, subscriber_id: int, since: datetime, made_at: datetime
) -> list[Waiting]:
    """For a link made before links named their email: the waiting requests it could
    have been sent for (asked before the link was made, and in no email since)."""
    where = sa.and_(
        _waiting(subscriber_id, since),
        consents.c.confirmation_id.is_(None),
        consents.c.requested_at < made_at,
    )
    return [Waiting(*row) for row in conn.execute(_select_waiting(where))]


def confirm(conn: Connection, consent_ids: list[int], now: datetime) -> int:
    """Stamp these waiting consents confirmed; how many rows changed. Conditional, so that
    of two confirmations racing only one sees them change."""
    query = (
        sa.update(consents)
        .where(
            consents.c.id.in_(consent_ids),
            consents.c.confirmed_at.is_(None),
            consents.c.withdrawn_at.is_(None),
        )
        .values(confirmed_at=now)
    )
    return conn.execute(query).rowcount


def withdraw(conn: Connection, subscriber_id: int, list_id: int | None, now: datetime) -> int:
    """The person left this list (None: every list) before confirming: their waiting form
    signups for it are withdrawn, so no confirmation link (sent or to come) subscribes them."""
    query = (
        sa.update(consents)
        .where(
            consents.c.subscriber_id == subscriber_id,
            consents.c.method == "form",
            consents.c.confirmed_at.is_(None),
            consents.c.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    if list_id is not None:
        query = query.where(consents.c.list_id == list_id)
    return conn.execute(query).rowcount
