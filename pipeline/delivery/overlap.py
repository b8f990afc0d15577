"""One issue, one copy per reader: campaigns of an issue to one list (the whole list,
segments, filters) never send a reader the issue twice. The campaign that starts later
leaves out whoever an earlier one already has a delivery row for, whatever its state
(a failed row is retried by its own campaign)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience.filtersql import inactive
from pipeline.audience.queries import receiving
from pipeline.audience.segments import Audience
from pipeline.db import Store
from pipeline.db.schema import campaigns, deliveries, memberships, subscribers


def _others(issue_number: int, list_id: int, exclude: int | None) -> sa.ColumnElement[bool]:
    found = (
        (campaigns.c.issue_number == issue_number)
        & (campaigns.c.list_id == list_id)
        & campaigns.c.dry_run.is_(False)
    )
    return found if exclude is None else found & (campaigns.c.id != exclude)


def already_sent(
    conn: Connection, issue_number: int, list_id: int, *, exclude: int | None = None
) -> sa.ColumnElement[bool]:
    """Whether another real campaign of the issue to the list has the reader (a condition
    on `subscribers`); plainly false when there is no other, the usual case."""
    others = conn.execute(
        sa.select(campaigns.c.id).where(_others(issue_number, list_id, exclude)).limit(1)
    ).first()
    if others is None:
        return sa.false()
    theirs = sa.select(campaigns.c.id).where(_others(issue_number, list_id, exclude))
    return sa.exists().where(
        deliveries.c.subscriber_id == subscribers.c.id,
        deliveries.c.campaign_id.in_(theirs.correlate(None)),
    )


@dataclass(frozen=True)
class Counted:
    """Who a new campaign would take: `to_send` readers, after leaving out those another
    campaign of the issue has (`already_had`) and the inactive (`inactive`)."""

    to_send: int
    already_had: int
    inactive: int
    matching: int  # the list's receivers the audience's filter matches (before both)
    receiving: int  # the list's receivers


def count(store: Store, issue_number: int, list_id: int, audience: Audience) -> Counted:
    with store.begin(write=False) as tx:
        conn = tx.conn
        base = (
            sa.select(sa.func.count())
            .select_from(subscribers)
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(receiving(list_id))
        )
        chosen = base.where(audience.condition(conn, list_id))
        had = already_sent(conn, issue_number, list_id)

        def counted(query: sa.Select[Any]) -> int:
            return int(conn.execute(query).scalar_one())

        # One pass over the list for the counts that can differ (a second pass for the
        # filter's count alone cost a whole-list count again).
        filtered = Audience(audience.where, audience.segment)  # without --skip-inactive
        where = filtered.condition(conn, list_id)
        columns: list[Any] = [sa.func.count()]
        if audience.where is not None:
            columns.append(sa.func.count().filter(where))
        if audience.skip_inactive:
            columns.append(
                sa.func.count().filter(where & inactive(list_id, audience.skip_inactive))
            )
        found = list(conn.execute(base.with_only_columns(*columns)).one())
        receivers = int(found.pop(0))
        matching = int(found.pop(0)) if audience.where is not None else receivers
        inactive_ones = int(found.pop(0)) if audience.skip_inactive else 0
        chosen_count = matching - inactive_ones
        already = 0 if isinstance(had, sa.False_) else counted(chosen.where(had))
    return Counted(chosen_count - already, already, inactive_ones, matching, receivers)


def notes(audience: Audience, counted: Counted, number: int) -> list[str]:
    """What a plan says of its audience, for people."""
    notes: list[str] = []
    if audience.where is not None:
        notes.append(
            f"audience: {audience.described()}: {counted.matching:,} of the list's "
            f"{counted.receiving:,} active subscribers match"
        )
    if audience.skip_inactive:
        notes.append(
            f"leaving out {counted.inactive:,} inactive reader(s): they received each of the "
            f"last {audience.skip_inactive} issue(s) and opened or clicked none"
        )
    if counted.already_had:
        notes.append(
            f"leaving out {counted.already_had:,} reader(s) who have issue {number} from "
            "another campaign to this list"
        )
    return notes


def receivers(
    store: Store, issue_number: int, list_id: int, audience: Audience, *, limit: int
) -> list[str]:
    """The first addresses (by id) a new campaign of the issue to the list would take."""
    with store.begin(write=False) as tx:
        query = (
            sa.select(subscribers.c.email)
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(
                receiving(list_id),
                audience.condition(tx.conn, list_id),
                sa.not_(already_sent(tx.conn, issue_number, list_id)),
            )
            .order_by(subscribers.c.id)
            .limit(limit)
        )
        return list(tx.conn.scalars(query))
