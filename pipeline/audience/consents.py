"""Consent records: who agreed to which list, when, how (form, import, command), from
where (the form's IP and user agent), and when they confirmed. The proof of consent GDPR
asks for; `subscribers show` prints it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.schema import consents, lists

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
        }
        for row in conn.execute(query)
    ]


def pending_lists(conn: Connection, subscriber_id: int, since: datetime) -> dict[int, str]:
    """list id -> name of the form signups still waiting for confirmation (asked since
    `since`: older ones expired with their link)."""
    query = (
        sa.select(lists.c.id, lists.c.name)
        .join(consents, consents.c.list_id == lists.c.id)
        .where(
            consents.c.subscriber_id == subscriber_id,
            consents.c.method == "form",
            consents.c.confirmed_at.is_(None),
            consents.c.requested_at >= since,
        )
        .order_by(lists.c.name)
    )
    return {list_id: name for list_id, name in conn.execute(query)}


def confirm(conn: Connection, subscriber_id: int, list_ids: list[int], now: datetime) -> int:
    """Stamp the pending form consents of these lists confirmed; how many rows changed.
    Conditional, so that of two confirmations racing only one sees them change."""
    query = (
        sa.update(consents)
        .where(
            consents.c.subscriber_id == subscriber_id,
            consents.c.method == "form",
            consents.c.confirmed_at.is_(None),
            consents.c.list_id.in_(list_ids),
        )
        .values(confirmed_at=now)
    )
    return conn.execute(query).rowcount
