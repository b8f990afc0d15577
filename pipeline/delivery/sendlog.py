"""The send log's SQL: campaigns, one delivery row per recipient, and test sends.

The campaign loop in send.py talks only to these methods; the rows it takes and records
are written by claims.py, in the same transaction (`checkpoint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.audience import lists as audience_lists
from pipeline.audience.filtersql import inactive
from pipeline.audience.queries import receiving
from pipeline.audience.records import MailingList
from pipeline.audience.segments import Audience
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import (
    DELIVERY_STATUSES,
    campaigns,
    deliveries,
    lists,
    memberships,
    senders,
    subscribers,
    test_sends,
)
from pipeline.delivery import settling
from pipeline.delivery.archive import insert_web_version
from pipeline.delivery.claims import Claimed, Outcome, record, take
from pipeline.delivery.overlap import already_sent
from pipeline.delivery.senders import LEASE_SECONDS, expire
from pipeline.issue.archive import ArchivedIssue

ACTIVE_STATUSES = ("pending", "sending")


@dataclass(frozen=True)
class Campaign:
    id: int
    issue_number: int
    list_id: int | None
    list_name: str | None
    subject: str | None
    status: str  # running | paused | finished
    dry_run: bool
    pause_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    audience: str = ""  # '' for the whole list, else `Audience.key`
    segment: str | None = None
    skipped_inactive: int = 0


_CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.issue_number,
    campaigns.c.list_id,
    campaigns.c.list_name,
    campaigns.c.subject,
    campaigns.c.status,
    campaigns.c.dry_run,
    campaigns.c.pause_reason,
    campaigns.c.created_at,
    campaigns.c.started_at,
    campaigns.c.finished_at,
    campaigns.c.audience,
    campaigns.c.segment,
    campaigns.c.skipped_inactive,
)


class SendLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- campaigns ----------------------------------------------------------------------

    def find(
        self, issue_number: int, list_id: int, *, dry_run: bool = False, audience: str = ""
    ) -> Campaign | None:
        query = sa.select(*_CAMPAIGN_COLUMNS).where(
            campaigns.c.issue_number == issue_number,
            campaigns.c.list_id == list_id,
            campaigns.c.dry_run == dry_run,
            campaigns.c.audience == audience,
        )
        with self.store.begin(write=False) as tx:
            row = tx.conn.execute(query).first()
        return Campaign(*row) if row else None

    def get(self, campaign_id: int) -> Campaign:
        query = sa.select(*_CAMPAIGN_COLUMNS).where(campaigns.c.id == campaign_id)
        with self.store.begin(write=False) as tx:
            return Campaign(*tx.conn.execute(query).one())

    def start(
        self,
        issue_number: int,
        mailing_list: MailingList,
        subject: str,
        *,
        dry_run: bool,
        web: ArchivedIssue | None = None,
        audience: Audience | None = None,
    ) -> tuple[Campaign, int]:
        """Create the campaign, store its web version (`web`, for a real campaign: the
        archive shows what was sent) and fix its recipients (active, subscribed members
        that the `audience` takes, less those another campaign of the issue to the list
        already has), in one transaction; returns the campaign and how many were targeted.
        A new dry run replaces the previous dry run of the same issue, list and audience."""
        now = utcnow()
        audience = audience or Audience()
        with self.store.begin() as tx:
            # One campaign of a list starts at a time: two segments starting at once
            # cannot both take the same reader (SQLite's write lock does the same).
            tx.conn.execute(
                sa.select(lists.c.id).where(lists.c.id == mailing_list.id).with_for_update()
            )
            if dry_run:
                tx.conn.execute(
                    sa.delete(campaigns).where(
                        campaigns.c.issue_number == issue_number,
                        campaigns.c.list_id == mailing_list.id,
                        campaigns.c.dry_run.is_(True),
                        campaigns.c.audience == audience.key,
                    )
                )
            skipped = 0
            if audience.skip_inactive:
                skipped = tx.conn.execute(
                    sa.select(sa.func.count())
                    .select_from(subscribers)
                    .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
                    .where(
                        receiving(mailing_list.id),
                        inactive(mailing_list.id, audience.skip_inactive),
                    )
                ).scalar_one()
            campaign_id = tx.conn.execute(
                sa.insert(campaigns)
                .values(
                    issue_number=issue_number,
                    list_id=mailing_list.id,
                    list_name=mailing_list.name,
                    subject=subject,
                    status="running",
                    dry_run=dry_run,
                    created_at=now,
                    started_at=now,
                    updated_at=now,
                    audience=audience.key,
                    segment=audience.segment,
                    skipped_inactive=skipped,
                )
                .returning(campaigns.c.id)
            ).scalar_one()
            if web is not None and not dry_run:
                insert_web_version(tx.conn, campaign_id, issue_number, web, now)
            members = (
                sa.select(
                    sa.literal(campaign_id),
                    subscribers.c.id,
                    subscribers.c.email,
                    subscribers.c.name,
                    sa.literal("pending"),
                    sa.literal(now, deliveries.c.updated_at.type),
                )
                .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
                .where(receiving(mailing_list.id), audience.condition(tx.conn, mailing_list.id))
                .order_by(subscribers.c.id)
            )
            if not dry_run:
                members = members.where(
                    sa.not_(
                        already_sent(tx.conn, issue_number, mailing_list.id, exclude=campaign_id)
                    )
                )
            tx.conn.execute(
                sa.insert(deliveries).from_select(
                    ["campaign_id", "subscriber_id", "email", "name", "status", "updated_at"],
                    members,
                )
            )
            # Counted, not the INSERT's rowcount: psycopg reports -1 for INSERT ... SELECT.
            targeted = tx.conn.execute(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(deliveries.c.campaign_id == campaign_id)
            ).scalar_one()
        return self.get(campaign_id), targeted

    def set_status(self, campaign_id: int, status: str, *, reason: str | None = None) -> None:
        now = utcnow()
        values: dict[str, Any] = {"status": status, "updated_at": now, "pause_reason": reason}
        if status == "finished":
            values["finished_at"] = now
        with self.store.begin() as tx:
            tx.conn.execute(
                sa.update(campaigns).where(campaigns.c.id == campaign_id).values(values)
            )

    def settle(self, campaign_id: int, *, reason: str | None = None) -> str:
        """`finished` when nothing is pending or sending any more, else `paused`."""
        counts = self.counts(campaign_id)
        status = "paused" if any(counts[s] for s in ACTIVE_STATUSES) else "finished"
        self.set_status(campaign_id, status, reason=reason if status == "paused" else None)
        return status

    def recover(self, campaign_id: int, lease_seconds: float = LEASE_SECONDS) -> list[str]:
        """Rows a dead sender left `sending` become `unknown`: their message may have gone
        out. A sender is dead when its lease ran out or its process on this host is gone;
        a live sender's rows are left alone. Returns their addresses."""
        running = sa.select(senders.c.id).where(senders.c.state == "running")
        orphaned = (
            (deliveries.c.campaign_id == campaign_id)
            & (deliveries.c.status == "sending")
            # held by no running sender: one that left without waiting (a second Ctrl-C),
            # or a version without leases
            & (deliveries.c.sender_id.is_(None) | deliveries.c.sender_id.not_in(running))
        )
        with self.store.begin() as tx:
            emails = [e for lost in expire(tx.conn, lease_seconds, campaign_id=campaign_id)
                      for e in lost.unknown]  # fmt: skip
            orphans = list(tx.conn.scalars(sa.select(deliveries.c.email).where(orphaned)))
            if orphans:
                tx.conn.execute(
                    sa.update(deliveries)
                    .where(orphaned)
                    .values(
                        status="unknown",
                        error="interrupted while sending: it may or may not have been sent",
                        updated_at=utcnow(),
                    )
                )
        return emails + [e or "(forgotten)" for e in orphans]

    @staticmethod
    def _reopenable(
        campaign_id: int, statuses: Iterable[str], unknown_before: datetime | None
    ) -> sa.ColumnElement[bool]:
        reopened = sa.and_(
            deliveries.c.campaign_id == campaign_id,
            deliveries.c.status.in_(list(statuses)),
            deliveries.c.subscriber_id.is_not(None),  # a forgotten person is never mailed
        )
        if unknown_before is None:
            return reopened
        # An `unknown` row waits for SES's events (settling.py) until `unknown_before`.
        settled_long_enough = (deliveries.c.status != "unknown") | (
            deliveries.c.updated_at <= unknown_before
        )
        return sa.and_(reopened, settled_long_enough)

    def reopenable(
        self, campaign_id: int, statuses: Iterable[str], unknown_before: datetime | None = None
    ) -> int:
        """How many rows `reopen` would put back to pending."""
        query = sa.select(sa.func.count()).where(
            self._reopenable(campaign_id, statuses, unknown_before)
        )
        with self.store.begin(write=False) as tx:
            return int(tx.conn.execute(query).scalar_one())

    def reopen(
        self, campaign_id: int, statuses: Iterable[str], unknown_before: datetime | None = None
    ) -> int:
        """Put rows in `statuses` (unknown, failed) back to pending for a retry; `unknown`
        ones only if they became unknown before `unknown_before` (when given)."""
        with self.store.begin() as tx:
            # The last word of SES's events first: a row they settled is never resent.
            settling.settle_campaign(tx.conn, campaign_id)
            changed = tx.conn.execute(
                sa.update(deliveries)
                .where(self._reopenable(campaign_id, statuses, unknown_before))
                .values(status="pending", updated_at=utcnow())
            ).rowcount
            if changed:
                tx.conn.execute(
                    sa.update(campaigns)
                    .where(campaigns.c.id == campaign_id)
                    .values(status="paused", finished_at=None, updated_at=utcnow())
                )
        return changed

    def settle_unknown(self, campaign_id: int) -> tuple[int, int]:
        """Settle `unknown` rows from the events stored for them (settling.py). Returns
        (settled now, settled by SES's record in all)."""
        with self.store.begin() as tx:
            now = settling.settle_campaign(tx.conn, campaign_id)
            return now, settling.settled_count(tx.conn, campaign_id)

    def unknown_waiting(self, campaign_id: int, before: datetime) -> tuple[int, datetime]:
        """`unknown` rows still waiting for SES's events, and when the last became unknown."""
        with self.store.begin(write=False) as tx:
            return settling.unknown_waiting(tx.conn, campaign_id, before)

    def counts(self, campaign_id: int) -> dict[str, int]:
        query = (
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.campaign_id == campaign_id)
            .group_by(deliveries.c.status)
        )
        with self.store.begin(write=False) as tx:
            found: dict[str, int] = {s: n for s, n in tx.conn.execute(query)}
        return {status: found.get(status, 0) for status in DELIVERY_STATUSES}

    # --- the loop's checkpoints ------------------------------------------------------

    def checkpoint(
        self,
        campaign_id: int,
        list_id: int,
        outcomes: list[Outcome],
        claim: int,
        sender_id: int | None = None,
    ) -> tuple[list[Claimed], int]:
        """Record what came back and claim up to `claim` more rows, in one commit (each
        commit is an fsync: one per batch, not two per message)."""
        with self.store.begin() as tx:
            record(tx.conn, outcomes)
            if claim <= 0:
                return [], 0
            return take(tx.conn, campaign_id, list_id, claim, sender_id)

    # --- reading the log ----------------------------------------------------------------

    def campaigns(
        self, *, issue_number: int | None = None, list_name: str | None = None
    ) -> list[tuple[Campaign, dict[str, int]]]:
        query = sa.select(*_CAMPAIGN_COLUMNS).order_by(campaigns.c.id)
        if issue_number is not None:
            query = query.where(campaigns.c.issue_number == issue_number)
        if list_name is not None:
            query = query.where(campaigns.c.list_name == list_name)
        with self.store.begin(write=False) as tx:
            found = [Campaign(*row) for row in tx.conn.execute(query)]
        return [(c, self.counts(c.id)) for c in found]

    def deliveries(
        self, campaign_id: int, *, status: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every recipient's row, streamed in pages."""
        after = 0
        while True:
            query = (
                sa.select(
                    deliveries.c.id,
                    deliveries.c.email,
                    deliveries.c.status,
                    deliveries.c.message_id,
                    deliveries.c.error,
                    deliveries.c.attempts,
                    deliveries.c.claimed_at,
                    deliveries.c.sent_at,
                    deliveries.c.updated_at,
                )
                .where(deliveries.c.campaign_id == campaign_id, deliveries.c.id > after)
                .order_by(deliveries.c.id)
                .limit(1000)
            )
            if status is not None:
                query = query.where(deliveries.c.status == status)
            with self.store.begin(write=False) as tx:
                page = [dict(row._mapping) for row in tx.conn.execute(query)]
            for row in page:
                yield {k: v for k, v in row.items() if k != "id"}
            if len(page) < 1000:
                return
            after = page[-1]["id"]

    def record_test_send(
        self, issue_number: int, email: str, *, message_id: str | None, error: str | None
    ) -> None:
        with self.store.begin() as tx:
            tx.conn.execute(
                sa.insert(test_sends).values(
                    issue_number=issue_number,
                    email=email,
                    status="sent" if message_id else "failed",
                    message_id=message_id,
                    error=error,
                    created_at=utcnow(),
                )
            )

    def list_of(self, name: str) -> MailingList:
        return audience_lists.require_list(self.store, name)
