"""The one rule for the publisher putting someone on a list, by `subscribers add` or by
`subscribers import`: both are the publisher's word that the person agreed (an import
carries the consent given in another tool), so they decide alike.

- Someone unsubscribed, bounced, complained (the person), or who left this list: not
  added; only `resubscribe` brings them back.
- Someone with a pending signup (an `unconfirmed` membership from the form): the
  publisher's word confirms it, and they are subscribed, with a consent record saying so.
- Someone on the list already: nothing to do; someone not on it: they join.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.schema import memberships


class Join(Enum):
    REFUSED = "refused"  # suppressed: their choice (or their inbox's) outranks ours
    ALREADY = "already"  # subscribed to the list
    CONFIRMS = "confirms"  # a pending signup, confirmed by the publisher's word
    NEW = "new"  # not on the list: a new membership


def publisher_adds(person_status: str, membership: str | None) -> Join:
    """What adding someone to a list does, given the person's status and their membership
    of the list (None: they have none)."""
    if person_status != "active" or membership == "unsubscribed":
        return Join.REFUSED
    if membership == "subscribed":
        return Join.ALREADY
    if membership == "unconfirmed":
        return Join.CONFIRMS
    return Join.NEW


def confirm_pending(
    conn: Connection, list_id: int, subscriber_ids: Iterable[int], now: datetime
) -> None:
    """Subscribe the people whose membership of the list is a pending signup (Join.CONFIRMS)."""
    params = [{"b_id": sid} for sid in subscriber_ids]
    if not params:
        return
    query = (
        sa.update(memberships)
        .where(
            memberships.c.list_id == list_id,
            memberships.c.subscriber_id == sa.bindparam("b_id"),
            memberships.c.status == "unconfirmed",
        )
        .values(status="subscribed", subscribed_at=now, unsubscribed_at=None, updated_at=now)
    )
    conn.execute(query, params)
