"""The queries on lists: find, create, update, delete, count their members by status.

`store.Tx` inherits them, so a transaction has every query of the audience.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pipeline.audience.records import MailingList, mailing_list_from_row
from pipeline.db.database import Transaction
from pipeline.db.schema import campaigns, lists, memberships, subscribers
from pipeline.errors import NotFoundError


class ListQueries(Transaction):
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
        self, name: str, now: datetime, *, public: bool = False, description: str | None = None
    ) -> MailingList:
        new_id = self.conn.execute(
            sa.insert(lists)
            .values(name=name, created_at=now, public=public, description=description)
            .returning(lists.c.id)
        ).scalar_one()
        return MailingList(new_id, name, now, public, description)

    def update_list(self, list_id: int, **values: object) -> None:
        """Set `public` and/or `description` of one list."""
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
            )
            .order_by(lists.c.name)
        )
        return [
            (MailingList(r[0], r[1], r[2], bool(r[6]), r[7]), r[3], r[4], r[5])
            for r in self.conn.execute(query).all()
        ]
