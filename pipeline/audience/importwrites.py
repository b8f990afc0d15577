"""The writes of an import beyond what `store.Tx` offers, set-based for any batch size:
memberships in a given state, suppressions the source reports, and consent records.

New rows go in with COPY on PostgreSQL (`db.bulk.copy_rows`) and with the driver's own
executemany on SQLite: SQLAlchemy's per-value type processing of three timestamps a row
cost more than the insert itself, so the timestamps are written here in exactly the text
`schema.UTCDateTime` stores on SQLite (naive UTC, microseconds), each distinct one once.
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


def _sqlite_text(value: Any, cache: dict[datetime, str]) -> Any:
    if not isinstance(value, datetime):
        return value
    text = cache.get(value)
    if text is None:
        text = cache[value] = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text


def _insert(conn: Connection, table: sa.TableClause, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    if is_postgresql(conn):
        copy_rows(conn, table.name, columns, ([r[c] for c in columns] for r in rows))
        return
    cache: dict[datetime, str] = {}
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # names from our own code
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    conn.exec_driver_sql(
        statement, [tuple(_sqlite_text(r[c], cache) for c in columns) for r in rows]
    )


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
    _insert(
        conn,
        memberships,
        [
            {
                "subscriber_id": m.subscriber_id,
                "list_id": list_id,
                "status": m.status,
                "subscribed_at": m.subscribed_at,
                "unsubscribed_at": m.unsubscribed_at,
                "updated_at": now,
                "source": source,
            }
            for m in rows
        ],
    )


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
    values = [
        {
            "subscriber_id": c.subscriber_id,
            "list_id": list_id,
            "method": "import",
            "detail": detail,
            "ip": c.ip,
            "user_agent": None,
            "requested_at": c.requested_at,
            "confirmed_at": c.confirmed_at,
        }
        for c in rows
    ]
    _insert(conn, consents, values)
    return len(values)
