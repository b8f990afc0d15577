"""Choosing readers: a filter (`--where`) run against the store, to count the people it
matches or list them (`subscribers list`), page by page in short transactions, so that a
million rows take the memory of one page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline.audience import filters, filtersql, filtertree
from pipeline.audience import tags as tagging
from pipeline.audience.queries import AudienceTx, receiving
from pipeline.audience.records import load_attributes
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.bulk import is_postgresql
from pipeline.db.schema import memberships, subscribers
from pipeline.errors import InputError

PAGE = 1000


@dataclass(frozen=True)
class Filter:
    """A parsed filter and its canonical text (what a campaign and a segment store)."""

    node: filtertree.Node
    text: str

    @classmethod
    def parse(cls, text: str) -> Filter:
        node = filters.parse(text)
        return cls(node, filters.text_of(node))

    def condition(self, conn: sa.Connection, list_id: int | None) -> sa.ColumnElement[bool]:
        scope = filtersql.Scope(
            "postgresql" if is_postgresql(conn) else "sqlite", list_id, utcnow()
        )
        return filtersql.condition(self.node, scope)


def parse_where(text: str | None, option: str = "--where") -> Filter | None:
    """A `--where` option's filter, its errors prefixed with the option."""
    if text is None:
        return None
    try:
        return Filter.parse(text)
    except InputError as exc:
        raise InputError(f"{option}: {exc.message}", hint=exc.hint) from None


def _query(
    conn: sa.Connection,
    list_id: int | None,
    where: Filter | None,
    status: str | None,
    *columns: Any,
) -> sa.Select[Any]:
    query = sa.select(*columns).select_from(subscribers)
    if list_id is not None:
        query = query.join(
            memberships,
            (memberships.c.subscriber_id == subscribers.c.id) & (memberships.c.list_id == list_id),
        )
    if where is not None:
        query = query.where(where.condition(conn, list_id))
    if status is not None:
        scope = filtersql.Scope("sqlite", list_id, utcnow())
        query = query.where(filtersql.condition(filtertree.Status(status), scope))
    return query


def _check_status(status: str | None) -> None:
    if status is not None and status not in filters.STATUSES:
        raise InputError(
            f"--status {status!r} is not a status", hint=f"one of {', '.join(filters.STATUSES)}"
        )


def people(
    store: Store,
    *,
    list_name: str | None = None,
    where: Filter | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The people a filter matches (on a list: its members, whatever their status, unless
    `status` or the filter says), in the order they arrived, with their tags. A mistake
    (no such list, a filter that needs one) is raised here, before the first row."""
    _check_status(status)
    with store.begin(AudienceTx, write=False) as tx:
        list_id = tx.require_list(list_name).id if list_name else None
        _query(tx.conn, list_id, where, status, subscribers.c.id)
    return _pages(store, list_id, where, status, limit)


def _pages(
    store: Store, list_id: int | None, where: Filter | None, status: str | None, limit: int | None
) -> Iterator[dict[str, Any]]:
    columns: list[Any] = [
        subscribers.c.id,
        subscribers.c.email,
        subscribers.c.name,
        subscribers.c.status,
        subscribers.c.attributes,
        subscribers.c.created_at,
    ]
    if list_id is not None:
        columns += [memberships.c.status.label("membership"), memberships.c.subscribed_at]
    after, left = 0, limit
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        with store.begin(AudienceTx, write=False) as tx:
            query = _query(tx.conn, list_id, where, status, *columns)
            page = tx.conn.execute(
                query.where(subscribers.c.id > after).order_by(subscribers.c.id).limit(size)
            ).all()
            tags = tagging.of(tx.conn, (r.id for r in page))
        for row in page:
            yield _record(row, tags.get(row.id, []), list_id is not None)
        if len(page) < size:
            return
        after = page[-1].id
        left = None if left is None else left - len(page)


def _record(row: sa.Row[Any], tags: list[str], on_list: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"email": row.email, "name": row.name, "status": row.status}
    if on_list:
        record["list_status"] = row.membership
        record["joined"] = row.subscribed_at
    else:
        record["joined"] = row.created_at
    record["tags"] = tags
    record["attributes"] = load_attributes(row.attributes)
    return record


def count(store: Store, list_id: int, where: Filter | None, *, receivers: bool = True) -> int:
    """How many of a list's members a filter matches (`receivers`: only those who receive
    its mail, as a campaign counts them)."""
    with store.begin(AudienceTx, write=False) as tx:
        query = _query(tx.conn, list_id, where, None, sa.func.count())
        if receivers:
            query = query.where(receiving(list_id))
        return int(tx.conn.execute(query).scalar_one())
