"""The audience's queries: `AudienceTx`, a transaction that reads and writes subscribers,
lists, memberships and the suppressions of forgotten addresses, and the recipients of a
list read page by page (`recipients`, `count_recipients`).

The rules (who may be added, what an import counts as "updated", when a list may be
deleted) live in `subscribers.py`, `bulk.py` and `lists.py`; this module only reads and
writes rows. The engine, transactions and migrations are `pipeline.db`'s: audience code
opens `store.begin(AudienceTx)`.

Longer than 400 lines because it is one class, every query the audience makes on one
transaction; cutting it in two is what once produced a mixin along no seam.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.audience import consents
from pipeline.audience.records import (
    ListMember,
    MailingList,
    Membership,
    Subscriber,
    dump_attributes,
    load_attributes,
    mailing_list_from_row,
    subscriber_from_row,
)
from pipeline.db import Store, Transaction
from pipeline.db.bulk import any_of, copy_rows, is_postgresql
from pipeline.db.schema import (
    campaigns,
    deliveries,
    lists,
    memberships,
    schedules,
    subscribers,
    suppressions,
)
from pipeline.errors import NotFoundError

__all__ = [
    "AudienceTx",
    "ListMember",
    "MailingList",
    "Membership",
    "Subscriber",
    "count_recipients",
    "receiving",
    "recipients",
]

_SUBSCRIBER_COLUMNS = list(subscribers.c)


def receiving(list_id: int) -> sa.ColumnElement[bool]:
    """Who gets a list's mail: an active person subscribed to it. The only place this rule
    is written; the recipients, the campaign snapshot and the check before each message
    all use it (joined on subscribers and memberships)."""
    return (
        (memberships.c.list_id == list_id)
        & (memberships.c.status == "subscribed")
        & (subscribers.c.status == "active")
    )


class AudienceTx(Transaction):
    """One transaction with the audience's queries; every method runs inside it."""

    # lists
    def list_by_name(self, name: str) -> MailingList | None:
        row = self.conn.execute(sa.select(lists).where(lists.c.name == name)).first()
        return mailing_list_from_row(row) if row else None

    def list_by_id(self, list_id: int) -> MailingList | None:
        row = self.conn.execute(sa.select(lists).where(lists.c.id == list_id)).first()
        return mailing_list_from_row(row) if row else None

    def require_list(self, name: str) -> MailingList:
        found = self.list_by_name(name)
        if found is None:
            names = ", ".join(self.conn.scalars(sa.select(lists.c.name).order_by("name")))
            raise NotFoundError(
                f"no list named {name!r}",
                hint=(f"the lists are: {names}" if names else "there are no lists yet")
                + f"; `newsletter lists create {name}` makes one",
            )
        return found

    def create_list(
        self,
        name: str,
        now: datetime,
        *,
        public: bool = False,
        description: str | None = None,
        title: str | None = None,
    ) -> MailingList:
        new_id = self.conn.execute(
            sa.insert(lists)
            .values(name=name, created_at=now, public=public, description=description, title=title)
            .returning(lists.c.id)
        ).scalar_one()
        return MailingList(new_id, name, now, public, description, title)

    def update_list(self, list_id: int, **values: object) -> None:
        """Set `public`, `description` and/or `title` of one list."""
        self.conn.execute(sa.update(lists).where(lists.c.id == list_id).values(**values))

    def public_lists(self) -> list[MailingList]:
        """The lists offered on the signup form, by name."""
        query = sa.select(lists).where(lists.c.public.is_(True)).order_by(lists.c.name)
        return [mailing_list_from_row(row) for row in self.conn.execute(query)]

    def delete_list(self, list_id: int) -> None:
        self.conn.execute(sa.delete(lists).where(lists.c.id == list_id))

    def campaigns_started(self, list_id: int) -> int:
        """Campaigns past the draft stage: some mail may have gone out."""
        query = sa.select(sa.func.count()).where(
            campaigns.c.list_id == list_id,
            campaigns.c.status != "draft",
            campaigns.c.dry_run.is_(False),  # a dry run sent nothing
        )
        return self.conn.execute(query).scalar_one()

    def waiting_schedules(self, list_id: int) -> list[tuple[int, datetime, str]]:
        """(issue, send_at, state) of the list's schedules that may still send, locked
        (PostgreSQL) so that no scheduler claims one while the list is deleted."""
        query = (
            sa.select(schedules.c.issue_number, schedules.c.send_at, schedules.c.state)
            .where(schedules.c.list_id == list_id, schedules.c.state.in_(("scheduled", "running")))
            .order_by(schedules.c.send_at)
            .with_for_update()
        )
        return [(row[0], row[1], row[2]) for row in self.conn.execute(query)]

    def list_counts(self) -> list[tuple[MailingList, str, str, int]]:
        """(list, membership status, subscriber status, count) for every list, empty too."""
        query = (
            sa.select(
                lists.c.id,
                lists.c.name,
                lists.c.created_at,
                memberships.c.status,
                subscribers.c.status,
                sa.func.count(subscribers.c.id),
                lists.c.public,
                lists.c.description,
                lists.c.title,
            )
            .select_from(lists)
            .outerjoin(memberships, memberships.c.list_id == lists.c.id)
            .outerjoin(subscribers, subscribers.c.id == memberships.c.subscriber_id)
            .group_by(
                lists.c.id,
                lists.c.name,
                lists.c.created_at,
                memberships.c.status,
                subscribers.c.status,
                lists.c.public,
                lists.c.description,
                lists.c.title,
            )
            .order_by(lists.c.name)
        )
        return [
            (MailingList(r[0], r[1], r[2], bool(r[6]), r[7], r[8]), r[3], r[4], r[5])
            for r in self.conn.execute(query).all()
        ]

    # subscribers

    def subscriber_by_key(self, key: str) -> Subscriber | None:
        query = sa.select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.email_key == key)
        row = self.conn.execute(query).first()
        return subscriber_from_row(row) if row else None

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        query = sa.select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.id == subscriber_id)
        row = self.conn.execute(query).first()
        return subscriber_from_row(row) if row else None

    def _in(self, column: sa.ColumnElement[Any], values: list[str]) -> sa.ColumnElement[bool]:
        return any_of(column, values) if is_postgresql(self.conn) else column.in_(values)

    def _key_in(self, keys: list[str]) -> sa.ColumnElement[bool]:
        return self._in(subscribers.c.email_key, keys)

    def subscribers_by_keys(self, keys: Iterable[str]) -> dict[str, Subscriber]:
        query = sa.select(*_SUBSCRIBER_COLUMNS).where(self._key_in(list(keys)))
        return {s.email_key: s for s in map(subscriber_from_row, self.conn.execute(query))}

    def insert_subscribers(
        self, people: Iterable[tuple[str, str, str | None, dict[str, Any]]], now: datetime
    ) -> dict[str, int]:
        """Insert active subscribers given as (email, email_key, name, attributes); return
        email_key -> new id."""
        rows = [
            {
                "email": email,
                "email_key": key,
                "name": name,
                "attributes": dump_attributes(attributes),
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
            for email, key, name, attributes in people
        ]
        if not rows:
            return {}
        if is_postgresql(self.conn):
            columns = list(rows[0])
            copy_rows(self.conn, "subscribers", columns, ([r[c] for c in columns] for r in rows))
            keys = [str(r["email_key"]) for r in rows]
            found = sa.select(subscribers.c.id, subscribers.c.email_key).where(self._key_in(keys))
            return {key: new_id for new_id, key in self.conn.execute(found)}
        # RETURNING the key with the id: the mapping holds whatever order rows come back in
        query = sa.insert(subscribers).returning(subscribers.c.id, subscribers.c.email_key)
        return {key: new_id for new_id, key in self.conn.execute(query, rows)}

    def update_subscribers(
        self, changes: Iterable[tuple[int, str | None, dict[str, Any]]], now: datetime
    ) -> None:
        """Set the name and attributes of many subscribers, given as (id, name, attributes)."""
        rows = [
            {"b_id": sid, "b_name": name, "b_attributes": dump_attributes(attributes)}
            for sid, name, attributes in changes
        ]
        if not rows:
            return
        query = (
            sa.update(subscribers)
            .where(subscribers.c.id == sa.bindparam("b_id"))
            .values(
                name=sa.bindparam("b_name"),
                attributes=sa.bindparam("b_attributes"),
                updated_at=now,
            )
        )
        self.conn.execute(query, rows)

    def set_subscriber_status(self, subscriber_id: int, status: str, now: datetime) -> None:
        query = (
            sa.update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(status=status, updated_at=now)
        )
        self.conn.execute(query)

    def history(self, subscriber_id: int) -> list[dict[str, Any]]:
        """What one person was sent, campaign by campaign (for `subscribers show`)."""
        query = (
            sa.select(
                campaigns.c.issue_number,
                campaigns.c.list_name,
                campaigns.c.dry_run,
                deliveries.c.status,
                deliveries.c.message_id,
                deliveries.c.error,
                deliveries.c.sent_at,
            )
            .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
            .where(deliveries.c.subscriber_id == subscriber_id)
            .order_by(deliveries.c.id)
        )
        return [
            {
                "issue": row.issue_number,
                "list": row.list_name,
                "dry_run": bool(row.dry_run),
                "status": row.status,
                "message_id": row.message_id,
                "error": row.error,
                "sent_at": row.sent_at,
            }
            for row in self.conn.execute(query)
        ]

    def delete_subscriber(self, subscriber_id: int) -> None:
        self.conn.execute(sa.delete(subscribers).where(subscribers.c.id == subscriber_id))

    def members(self, list_id: int) -> Iterator[Subscriber]:
        """The people who receive a list, in id order, fetched a page at a time."""
        after = 0
        while True:
            query = (
                sa.select(*_SUBSCRIBER_COLUMNS)
                .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
                .where(receiving(list_id), subscribers.c.id > after)
                .order_by(subscribers.c.id)
                .limit(1000)
            )
            page = [subscriber_from_row(r) for r in self.conn.execute(query)]
            yield from page
            if len(page) < 1000:
                return
            after = page[-1].id

    # memberships

    def memberships_of(self, subscriber_id: int) -> list[Membership]:
        query = (
            sa.select(
                lists.c.id,
                lists.c.name,
                memberships.c.status,
                memberships.c.subscribed_at,
                memberships.c.unsubscribed_at,
                memberships.c.source,
            )
            .join(lists, lists.c.id == memberships.c.list_id)
            .where(memberships.c.subscriber_id == subscriber_id)
            .order_by(lists.c.name)
        )
        return [Membership(*row) for row in self.conn.execute(query)]

    def membership_statuses(self, list_id: int, subscriber_ids: Iterable[int]) -> dict[int, str]:
        query = sa.select(memberships.c.subscriber_id, memberships.c.status).where(
            memberships.c.list_id == list_id,
            memberships.c.subscriber_id.in_(list(subscriber_ids)),
        )
        return {sid: status for sid, status in self.conn.execute(query)}

    def insert_memberships(
        self, list_id: int, subscriber_ids: Iterable[int], now: datetime, source: str
    ) -> None:
        rows = [
            {
                "subscriber_id": sid,
                "list_id": list_id,
                "status": "subscribed",
                "subscribed_at": now,
                "updated_at": now,
                "source": source,
            }
            for sid in subscriber_ids
        ]
        if rows and is_postgresql(self.conn):
            columns = list(rows[0])
            copy_rows(self.conn, "memberships", columns, ([r[c] for c in columns] for r in rows))
        elif rows:
            self.conn.execute(sa.insert(memberships), rows)

    def set_membership_status(
        self, subscriber_id: int, list_id: int | None, status: str, now: datetime
    ) -> int:
        """Move one membership (or, with list_id None, all of them) to `status`; returns
        how many changed. Unsubscribing stamps unsubscribed_at, and withdraws the form
        signups of those lists still waiting for their link; subscribing clears it."""
        stamps: dict[str, Any] = (
            {"unsubscribed_at": now}
            if status == "unsubscribed"
            else {"subscribed_at": now, "unsubscribed_at": None}
        )
        query = (
            sa.update(memberships)
            .where(memberships.c.subscriber_id == subscriber_id, memberships.c.status != status)
            .values(status=status, updated_at=now, **stamps)
        )
        if list_id is not None:
            query = query.where(memberships.c.list_id == list_id)
        changed = self.conn.execute(query).rowcount
        if status == "unsubscribed":  # left before confirming: no old link brings them back
            consents.withdraw(self.conn, subscriber_id, list_id, now)
        return changed

    def delete_membership(self, subscriber_id: int, list_id: int) -> None:
        self.conn.execute(
            sa.delete(memberships).where(
                memberships.c.subscriber_id == subscriber_id, memberships.c.list_id == list_id
            )
        )

    def count_members(self, list_id: int) -> tuple[int, int]:
        """(all memberships, unsubscribed ones) of a list."""
        query = (
            sa.select(memberships.c.status, sa.func.count())
            .where(memberships.c.list_id == list_id)
            .group_by(memberships.c.status)
        )
        counts: dict[str, int] = {s: n for s, n in self.conn.execute(query)}
        return sum(counts.values()), counts.get("unsubscribed", 0)

    # suppressions (of forgotten addresses)

    def suppression(self, email_hash: str) -> str | None:
        query = sa.select(suppressions.c.reason).where(suppressions.c.email_hash == email_hash)
        return self.conn.execute(query).scalar_one_or_none()

    def suppressed_hashes(self, hashes: Iterable[str]) -> set[str]:
        query = sa.select(suppressions.c.email_hash).where(
            self._in(suppressions.c.email_hash, list(hashes))
        )
        return set(self.conn.scalars(query))

    def add_suppression(self, email_hash: str, reason: str, now: datetime) -> None:
        self.conn.execute(
            sa.insert(suppressions).values(email_hash=email_hash, reason=reason, created_at=now)
        )

    def delete_suppression(self, email_hash: str) -> None:
        self.conn.execute(sa.delete(suppressions).where(suppressions.c.email_hash == email_hash))


def recipients(store: Store, list_name: str, *, page_size: int = 1000) -> Iterator[ListMember]:
    """Active members subscribed to the list, in id order. Each page is read in its own
    short transaction, so an unsubscribe that lands mid-send is honoured for later
    pages. Forgotten addresses have no row, so they can never appear."""
    with store.begin(AudienceTx, write=False) as tx:
        list_id = tx.require_list(list_name).id
    after = 0
    while True:
        with store.begin(AudienceTx, write=False) as tx:
            query = (
                sa.select(
                    subscribers.c.id,
                    subscribers.c.email,
                    subscribers.c.name,
                    subscribers.c.attributes,
                )
                .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
                .where(receiving(list_id), memberships.c.subscriber_id > after)
                .order_by(memberships.c.subscriber_id)
                .limit(page_size)
            )
            page = tx.conn.execute(query).all()
        for sid, email, name, attributes in page:
            yield ListMember(sid, email, name, load_attributes(attributes), list_id)
        if len(page) < page_size:
            return
        after = page[-1][0]


def count_recipients(store: Store, list_name: str) -> int:
    """How many people `recipients` would give, counted by the database."""
    with store.begin(AudienceTx, write=False) as tx:
        list_id = tx.require_list(list_name).id
        query = (
            sa.select(sa.func.count())
            .select_from(subscribers)
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(receiving(list_id))
        )
        return int(tx.conn.execute(query).scalar_one())
