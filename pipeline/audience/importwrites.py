"""The writes of an import beyond what `queries.AudienceTx` offers, set-based for any batch size:
memberships in a given state, suppressions the source reports, and consent records.

New rows go in with COPY on PostgreSQL (`db.bulk.copy_rows`) and with the driver's own
executemany on SQLite: SQLAlchemy's per-value type processing of the timestamps cost more
than the insert itself, so they are written here in exactly the text `schema.UTCDateTime`
stores on SQLite (naive UTC, microseconds), each distinct one once (`_Stamps`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.bulk import copy_rows, is_postgresql
from pipeline.db.schema import consents, memberships, subscribers


@dataclass(frozen=True, slots=True)
class NewMembership:
    subscriber_id: int
    status: str  # subscribed / unsubscribed
    subscribed_at: datetime
    unsubscribed_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewConsent:
    subscriber_id: int
    requested_at: datetime
    confirmed_at: datetime | None
    ip: str | None


class _Stamps:
    """Timestamps as the database takes them: as they are for COPY on PostgreSQL; on
    SQLite as the text `UTCDateTime` stores (naive UTC), each distinct one made once."""

    def __init__(self, conn: Connection) -> None:
        self.raw = is_postgresql(conn)
        self._texts: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> datetime | str | None:
        if self.raw or value is None:
            return value
        text = self._texts.get(value)
        if text is None:
            text = self._texts[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return text


def _insert(
    conn: Connection, table: sa.TableClause, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    if is_postgresql(conn):
        copy_rows(conn, table.name, columns, rows)
        return
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # names from our own code
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    conn.exec_driver_sql(statement, rows)


def memberships_since(
    conn: Connection, list_id: int, subscriber_ids: Sequence[int]
) -> dict[int, tuple[str, datetime]]:
    """subscriber id -> (membership status, subscribed_at) on one list."""
    if not subscriber_ids:
        return {}
    query = sa.select(
        memberships.c.subscriber_id, memberships.c.status, memberships.c.subscribed_at
    ).where(memberships.c.list_id == list_id, memberships.c.subscriber_id.in_(subscriber_ids))
    return {sid: (status, since) for sid, status, since in conn.execute(query)}


def insert_memberships(
    conn: Connection, list_id: int, rows: Iterable[NewMembership], now: datetime, source: str
) -> None:
    stamp = _Stamps(conn)
    updated = stamp(now)
    columns = ("subscriber_id", "list_id", "status")
    times = ("subscribed_at", "unsubscribed_at", "updated_at")
    values = [
        (
            m.subscriber_id,
            list_id,
            m.status,
            stamp(m.subscribed_at),
            stamp(m.unsubscribed_at),
            updated,
            source,
        )
        for m in rows
    ]
    _insert(conn, memberships, (*columns, *times, "source"), values)


def unsubscribe_memberships(
    conn: Connection, list_id: int, rows: Iterable[tuple[int, datetime]], now: datetime
) -> None:
    """Mark memberships of one list unsubscribed, given as (subscriber id, since when)."""
    params = [{"b_id": sid, "b_at": at} for sid, at in rows]
    if not params:
        return
    query = (
        sa.update(memberships)
        .where(
            memberships.c.list_id == list_id,
            memberships.c.subscriber_id == sa.bindparam("b_id"),
            memberships.c.status != "unsubscribed",
        )
        .values(status="unsubscribed", unsubscribed_at=sa.bindparam("b_at"), updated_at=now)
    )
    conn.execute(query, params)


def suppress_subscribers(conn: Connection, rows: Iterable[tuple[int, str]], now: datetime) -> None:
    """Give active people the status the source reports, as (id, bounced / unsubscribed).
    Only `active` rows change: a complained address stays complained."""
    params = [{"b_id": sid, "b_status": status} for sid, status in rows]
    if not params:
        return
    query = (
        sa.update(subscribers)
        .where(subscribers.c.id == sa.bindparam("b_id"), subscribers.c.status == "active")
        .values(status=sa.bindparam("b_status"), updated_at=now)
    )
    conn.execute(query, params)


def insert_consents(conn: Connection, list_id: int, rows: Iterable[NewConsent], detail: str) -> int:
    """One consent record (method `import`) per person; returns how many."""
    stamp = _Stamps(conn)
    columns = ("subscriber_id", "list_id", "method", "detail", "ip")
    values = [
        (
            c.subscriber_id,
            list_id,
            "import",
            detail,
            c.ip,
            stamp(c.requested_at),
            stamp(c.confirmed_at),
        )
        for c in rows
    ]
    _insert(conn, consents, (*columns, "requested_at", "confirmed_at"), values)
    return len(values)
