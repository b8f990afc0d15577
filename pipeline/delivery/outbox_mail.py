"""One outbox row's message, built inside the caller's transaction: the send loop builds it
in a transaction of its own, the dry run inside the one it throws away, so both show the
same message for the same row.

A confirmation takes the signup requests waiting as it is made (`consents.bind`), lists
exactly those, and its link names its own outbox row: the link confirms those requests
and no later one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from pipeline.audience import consents, signup
from pipeline.audience.queries import AudienceTx
from pipeline.audience.tokens import confirm_url, make_confirm_token, make_token, unsubscribe_url
from pipeline.db.schema import lists, memberships, outbox
from pipeline.issue import transactional
from pipeline.issue.message import Addressee, Message
from pipeline.settings import Settings


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    subscriber_id: int
    email: str
    created_at: datetime


COLUMNS = (outbox.c.id, outbox.c.kind, outbox.c.subscriber_id, outbox.c.email, outbox.c.created_at)


def message_for(
    tx: AudienceTx, settings: Settings, secret: bytes, row: OutboxRow, now: datetime
) -> Message | None:
    """The message for one row, or None when its person may no longer be mailed (or,
    for a confirmation, nothing waits to be confirmed any more)."""
    person = tx.subscriber_by_id(row.subscriber_id)
    if person is None or person.status in signup.SUPPRESSED:
        return None
    if row.kind == "confirmation":
        since = now - timedelta(days=settings.confirm_link_days)
        requests = consents.bind(tx.conn, person.id, row.id, since)
        if not requests:
            return None  # confirmed, withdrawn or expired before the mail went out
        token = make_confirm_token(secret, person.id, now, row.id)
        return transactional.confirmation(
            settings,
            email=person.email,
            name=person.name,  # never a name from an unconfirmed request: see signup.py
            lists=sorted({r.list_name for r in requests}),
            confirm_url=confirm_url(settings.public_url, token),
        )
    first_list = tx.conn.execute(
        sa.select(lists.c.id)
        .join(memberships, memberships.c.list_id == lists.c.id)
        .where(memberships.c.subscriber_id == person.id, memberships.c.status == "subscribed")
        .order_by(lists.c.name)
        .limit(1)
    ).scalar_one_or_none()
    if first_list is None:
        return None  # unsubscribed before the welcome went out
    link = unsubscribe_url(settings.public_url, make_token(secret, person.id, int(first_list)))
    recipient = Addressee(person.email, person.name or "", link)
    return transactional.welcome(settings, Path(str(settings.welcome)), recipient)
