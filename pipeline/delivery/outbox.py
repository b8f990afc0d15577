"""The outbox: transactional mail (signup confirmations, welcomes) sent through the same
transport and pace as campaigns, one row per message, logged like any send.

A row moves pending -> sending (claimed) -> sent | failed | unknown, exactly as a campaign's
delivery does: it is `sending` only while its message may be in SES's hands. A sender claims
one row at a time, right before it sends it, so a sender that dies (kill -9) leaves at most
that one row `sending`, and every row it never reached stays `pending` for the next pass.
A `sending` row older than `STALE` belongs to a dead sender and becomes `unknown` (SES may
have sent it): never sent again by itself, but `signups send --retry-unknown` resends it
when a person asks. A confirmation that ends `unknown` or `failed` no longer counts against
the confirmation period, so the reader who signs up again gets a new one. Several senders
(web workers, `newsletter worker`, `signups send`) claim rows without waiting on each other
(FOR UPDATE SKIP LOCKED on PostgreSQL).

Each message is sent and tried again exactly as a campaign's (`send.deliver`, under the
one `RetryPolicy`): a 5xx a few times with backoff, then `failed`; throttling at the pace
until `give_up_after` (ten minutes) has passed. Then, as a campaign pauses, the pass stops
and says why (`Sent.stopped`, a warning in the log) with the message still `pending`:
throttling is about the account, so the next message would fare no better, and failing a
confirmation someone just asked for would lose it for good. The background loop tries
again a minute later; `signups send` exits with the reason.

`work` is the background loop: process the signup inbox, then send the outbox, until
`stop` is set; `run_once` does one pass (tests, and `newsletter signups send`). The dry
run (`outbox_preview.py`) reads the same rows and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience import signup
from pipeline.audience.queries import AudienceTx
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import outbox, subscribers
from pipeline.delivery.outbox_mail import COLUMNS, OutboxRow, message_for
from pipeline.delivery.pacing import Pace
from pipeline.delivery.send import deliver
from pipeline.delivery.transports.base import Transport
from pipeline.retry import RetryPolicy
from pipeline.settings import Settings

log = logging.getLogger(__name__)

STALE = timedelta(minutes=5)  # a `sending` row this old belongs to a dead sender
# Tried as a campaign's messages are: a 5xx a few times with backoff, throttling for at
# most ten minutes.
RETRY = RetryPolicy()
DEFAULT_RATE = 2.0  # messages a second: transactional mail is a trickle beside campaigns


@dataclass
class Sent:
    """What one pass did."""

    processed: signup.Processed = field(default_factory=signup.Processed)
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    stopped: str | None = None  # why the pass stopped early (an account-level failure)
    requeued: Requeued | None = None  # what --retry-unknown put back


@dataclass
class Requeued:
    """What `--retry-unknown` did with the `unknown` rows."""

    again: list[OutboxRow] = field(default_factory=list)  # back to pending, sent this pass
    superseded: list[OutboxRow] = field(default_factory=list)  # a later one was queued: left


def _claim_one(conn: Connection, now: datetime) -> OutboxRow | None:
    """The oldest pending row, now `sending`: one at a time, taken only when it is about
    to be sent, so a sender that dies leaves no claimed row it never reached."""
    query = (
        sa.select(*COLUMNS)
        .where(outbox.c.status == "pending")
        .order_by(outbox.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    found = conn.execute(query).first()
    if found is None:
        return None
    row = OutboxRow(*found)
    conn.execute(
        sa.update(outbox).where(outbox.c.id == row.id).values(status="sending", claimed_at=now)
    )
    return row


def _free_period(conn: Connection, row: OutboxRow) -> None:
    """A confirmation that never certainly arrived (unknown, failed) does not hold the
    reader to the confirmation period: the stamp it set is cleared, if still its own."""
    if row.kind == "confirmation":
        conn.execute(
            sa.update(subscribers)
            .where(
                subscribers.c.id == row.subscriber_id,
                subscribers.c.confirmation_sent_at == row.created_at,
            )
            .values(confirmation_sent_at=None)
        )


def _record(conn: Connection, row: OutboxRow, status: str, attempts: int, **values: object) -> None:
    stamps = {"sent_at": utcnow()} if status == "sent" else {}
    conn.execute(
        sa.update(outbox)
        .where(outbox.c.id == row.id)
        .values(status=status, attempts=outbox.c.attempts + attempts, **values, **stamps)
    )
    if status in ("unknown", "failed"):
        _free_period(conn, row)


def settle_stale(store: Store, *, now: datetime | None = None) -> int:
    """`sending` rows left by a sender that died: `unknown` (SES may have sent them)."""
    cutoff = (now or utcnow()) - STALE
    with store.begin() as tx:
        stale = [
            OutboxRow(*found)
            for found in tx.conn.execute(
                sa.select(*COLUMNS).where(
                    outbox.c.status == "sending", outbox.c.claimed_at <= cutoff
                )
            )
        ]
        for row in stale:
            error = "the sender stopped while this was in flight"
            _record(tx.conn, row, "unknown", 0, error=error)
    return len(stale)


def requeue_unknown(store: Store, *, now: datetime | None = None) -> Requeued:
    """Put the `unknown` rows back to `pending`, for a person who asked (`signups send
    --retry-unknown`): the reader may get a second copy. A row a later one of its kind to
    the same person has replaced (queued, in flight or sent) is left as it is."""
    now = now or utcnow()
    done = Requeued()
    with store.begin() as tx:
        unknown = [
            OutboxRow(*found)
            for found in tx.conn.execute(
                sa.select(*COLUMNS).where(outbox.c.status == "unknown").order_by(outbox.c.id)
            )
        ]
        for row in unknown:
            later = tx.conn.execute(
                sa.select(sa.func.count()).where(
                    outbox.c.subscriber_id == row.subscriber_id,
                    outbox.c.kind == row.kind,
                    outbox.c.id > row.id,
                    outbox.c.status.in_(("pending", "sending", "sent")),
                )
            ).scalar_one()
            if later:
                done.superseded.append(row)
                continue
            tx.conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == row.id, outbox.c.status == "unknown")
                .values(status="pending", claimed_at=None)
            )
            if row.kind == "confirmation":  # this resend is the period's confirmation
                tx.conn.execute(
                    sa.update(subscribers)
                    .where(subscribers.c.id == row.subscriber_id)
                    .values(confirmation_sent_at=now)
                )
            done.again.append(row)
    for row in done.again:
        log.info("outbox %d (%s to subscriber %d): unknown, sent again on request",
                 row.id, row.kind, row.subscriber_id)  # fmt: skip
    return done


def send_outbox(
    store: Store,
    settings: Settings,
    transport: Transport,
    *,
    pace: Pace | None = None,
    stop: threading.Event | None = None,
    result: Sent | None = None,
    retry: RetryPolicy = RETRY,
) -> Sent:
    """Send every pending outbox row, one claimed at a time, each tried as `retry` says."""
    secret = settings.require_secret_key()
    pace = pace or Pace(DEFAULT_RATE)
    stop = stop or threading.Event()
    result = result or Sent()
    while not stop.is_set() and not result.stopped:
        with store.begin() as tx:
            row = _claim_one(tx.conn, utcnow())
        if row is None:
            break
        try:
            with store.begin(AudienceTx) as tx:  # a confirmation takes its requests
                message = message_for(tx, settings, secret, row, utcnow())
        except Exception as exc:  # a broken welcome file, say: this row alone fails
            log.warning("outbox %d (%s): cannot build the message: %s", row.id, row.kind, exc)
            with store.begin() as tx:
                _record(tx.conn, row, "failed", 0, error=f"cannot build: {exc}"[:500])
            result.failed += 1
            continue
        if message is None:
            with store.begin() as tx:
                _record(tx.conn, row, "failed", 0, error="not sent: no longer wanted")
            continue
        done = deliver(transport, message, {"kind": row.kind}, pace, stop, retry)
        status = done.status
        with store.begin() as tx:
            _record(
                tx.conn, row, status, done.attempts, message_id=done.message_id, error=done.error
            )
        log.info("outbox %d: %s to subscriber %d: %s", row.id, row.kind,
                 row.subscriber_id, status)  # fmt: skip
        if done.pause:
            # The account refuses mail, or SES kept throttling past the policy's
            # deadline: the row stays pending and this pass stops.
            log.warning("outbox %d left pending; sending stops: %s", row.id, done.pause)
            result.stopped = done.pause
        result.sent += status == "sent"
        result.failed += status == "failed"
        result.unknown += status == "unknown"
    return result


def run_once(
    store: Store,
    settings: Settings,
    transport: Transport,
    *,
    pace: Pace | None = None,
    stop: threading.Event | None = None,
    retry: RetryPolicy = RETRY,
    retry_unknown: bool = False,
) -> Sent:
    """One pass: handle the signup inbox, then send what the outbox holds (with
    `retry_unknown`, the `unknown` rows too: a person asked for it)."""
    result = Sent(processed=signup.process(store, settings))
    settle_stale(store)
    signup.tidy(store, settings)
    if retry_unknown:
        result.requeued = requeue_unknown(store)
    return send_outbox(store, settings, transport, pace=pace, stop=stop, result=result, retry=retry)


def work(
    store: Store,
    settings: Settings,
    transport: Transport,
    stop: threading.Event,
    *,
    poll: float = 1.0,
    retry: RetryPolicy = RETRY,
) -> None:
    """The background loop: a pass every `poll` seconds until `stop` is set. A failing
    pass (the database away for a moment) is logged and tried again on the next one."""
    pace = Pace(DEFAULT_RATE)
    while not stop.is_set():
        try:
            done = run_once(store, settings, transport, pace=pace, stop=stop, retry=retry)
            if done.stopped:
                log.warning("outbox paused: %s", done.stopped)
                stop.wait(60.0)  # an account-level stop will not clear in a second
        except Exception:
            log.exception("signup and outbox pass failed; trying again")
        stop.wait(poll)


__all__ = ["Requeued", "Sent", "requeue_unknown", "run_once", "send_outbox", "settle_stale", "work"]
