"""The dry run of `signups send`: what a real pass would do, read from the real signup
queue and outbox, with nothing written that a real pass would act on.

The pass runs as the real one does (the same request handling, the same messages built
and handed to the dry-run transport) inside one transaction that is thrown away at the
end: no request is marked handled, no confirmation is stamped or queued, no row claimed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from pipeline.audience import signup
from pipeline.audience.queries import AudienceTx
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import outbox
from pipeline.delivery.outbox import STALE
from pipeline.delivery.outbox_mail import COLUMNS, OutboxRow, message_for
from pipeline.delivery.transports.dryrun import DryRunTransport
from pipeline.errors import InputError
from pipeline.settings import Settings


@dataclass
class Preview:
    """What a real `signups send` would do now."""

    processed: signup.Processed = field(default_factory=signup.Processed)
    would_send: list[OutboxRow] = field(default_factory=list)
    not_wanted: list[OutboxRow] = field(default_factory=list)  # would be dropped, unsent
    cannot_build: list[tuple[OutboxRow, str]] = field(default_factory=list)
    would_become_unknown: int = 0  # in flight with a sender gone for STALE
    unknown: int = 0  # left for --retry-unknown

    def kinds(self) -> Counter[str]:
        return Counter(row.kind for row in self.would_send)


def preview(
    store: Store, settings: Settings, *, now: datetime | None = None, limit: int = 100
) -> Preview:
    """What one pass of `signups send` would do, with nothing written."""
    secret = settings.require_secret_key()
    now = now or utcnow()
    found = Preview()
    transport = DryRunTransport()
    with store.begin(AudienceTx) as tx:
        tx.discard = True  # whatever happens below, nothing of it is committed
        for _ in range(limit):
            try:
                handled = signup.handle_next(tx, settings, now)
            except sa.exc.IntegrityError:
                raise InputError(
                    "another process handled the same signup at the same moment",
                    hint="run the dry run again",
                ) from None
            if handled is None:
                break
            found.processed.add(*handled)
        statuses: dict[str, int] = dict(
            tx.conn.execute(
                sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
            ).all()
        )
        found.unknown = int(statuses.get("unknown", 0))
        found.would_become_unknown = int(
            tx.conn.execute(
                sa.select(sa.func.count()).where(
                    outbox.c.status == "sending", outbox.c.claimed_at <= now - STALE
                )
            ).scalar_one()
        )
        pending = tx.conn.execute(
            sa.select(*COLUMNS).where(outbox.c.status == "pending").order_by(outbox.c.id)
        )
        for row in [OutboxRow(*r) for r in pending]:
            try:
                message = message_for(tx, settings, secret, row, now)
                if message is not None:
                    transport.send(message, {"kind": row.kind})
            except Exception as exc:  # as the real pass: this row alone would fail
                found.cannot_build.append((row, str(exc)))
                continue
            (found.would_send if message is not None else found.not_wanted).append(row)
    return found


__all__ = ["Preview", "preview"]
