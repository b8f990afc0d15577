"""The outbox: transactional mail (signup confirmations, welcomes) sent through the same
transport and pace as campaigns, one row per message, logged like any send.

A row moves pending -> sending (claimed) -> sent | failed | unknown, exactly as a campaign's
delivery does: it is `sending` only while its message may be in SES's hands, so a sender
that dies leaves `sending` rows that become `unknown` (never sent twice) once they are older
than `STALE`. Several senders (web workers, `newsletter worker`, `signups send`) claim rows
without waiting on each other (FOR UPDATE SKIP LOCKED on PostgreSQL).

Each message is sent and tried again exactly as a campaign's (`send.deliver`, under the
one `RetryPolicy`): a 5xx a few times with backoff, then `failed`; throttling at the pace
until `give_up_after` (ten minutes) has passed. Then, as a campaign pauses, the pass stops
and says why (`Sent.stopped`, a warning in the log) with the message still `pending`:
throttling is about the account, so the next message would fare no better, and failing a
confirmation someone just asked for would lose it for good. The background loop tries
again a minute later; `signups send` exits with the reason. (The outbox used to retry a
throttled message forever, holding up every message behind it.)

`work` is the background loop: process the signup inbox, then send the outbox, until
`stop` is set; `run_once` does one pass (tests, and `newsletter signups send`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.audience import consents, signup
from pipeline.audience.queries import AudienceTx
from pipeline.audience.tokens import confirm_url, make_confirm_token, make_token, unsubscribe_url
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import lists, memberships, outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.send import deliver
from pipeline.delivery.transports.base import Transport
from pipeline.issue import transactional
from pipeline.issue.message import Addressee, Message
from pipeline.retry import RetryPolicy
from pipeline.settings import Settings

log = logging.getLogger(__name__)

STALE = timedelta(minutes=5)  # a `sending` row this old belongs to a dead sender
BATCH = 20  # rows claimed at once
# Tried as a campaign's messages are: a 5xx a few times with backoff, throttling for at
# most ten minutes.
RETRY = RetryPolicy()
DEFAULT_RATE = 2.0  # messages a second: transactional mail is a trickle beside campaigns


@dataclass(frozen=True)
class _Row:
    id: int
    kind: str
    subscriber_id: int
    email: str


@dataclass
class Sent:
    """What one pass did."""

    processed: signup.Processed = field(default_factory=signup.Processed)
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    stopped: str | None = None  # why the pass stopped early (an account-level failure)


def _claim(conn: Connection, limit: int, now: datetime) -> list[_Row]:
    query = (
        sa.select(outbox.c.id, outbox.c.kind, outbox.c.subscriber_id, outbox.c.email)
        .where(outbox.c.status == "pending")
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = [_Row(*r) for r in conn.execute(query)]
    if rows:
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.id.in_([r.id for r in rows]))
            .values(status="sending", claimed_at=now)
        )
    return rows


def _record(conn: Connection, row_id: int, status: str, attempts: int, **values: object) -> None:
    stamps = {"sent_at": utcnow()} if status == "sent" else {}
    conn.execute(
        sa.update(outbox)
        .where(outbox.c.id == row_id)
        .values(status=status, attempts=outbox.c.attempts + attempts, **values, **stamps)
    )


def settle_stale(store: Store, *, now: datetime | None = None) -> int:
    """`sending` rows left by a sender that died: `unknown` (SES may have sent them)."""
    cutoff = (now or utcnow()) - STALE
    with store.begin() as tx:
        return tx.conn.execute(
            sa.update(outbox)
            .where(outbox.c.status == "sending", outbox.c.claimed_at <= cutoff)
            .values(status="unknown", error="the sender stopped while this was in flight")
        ).rowcount


def _message(store: Store, settings: Settings, secret: bytes, row: _Row) -> Message | None:
    """The message for one row, or None when its person may no longer be mailed."""
    with store.begin(AudienceTx, write=False) as tx:
        person = tx.subscriber_by_id(row.subscriber_id)
        if person is None or person.status in signup.SUPPRESSED:
            return None
        if row.kind == "confirmation":
            since = utcnow() - timedelta(days=settings.confirm_link_days)
            waiting = consents.pending_lists(tx.conn, person.id, since)
            if not waiting:
                return None  # confirmed (or expired) before the mail went out
            first_list: int | None = None
        else:
            waiting = {}
            first_list = tx.conn.execute(
                sa.select(lists.c.id)
                .join(memberships, memberships.c.list_id == lists.c.id)
                .where(
                    memberships.c.subscriber_id == person.id,
                    memberships.c.status == "subscribed",
                )
                .order_by(lists.c.name)
                .limit(1)
            ).scalar_one_or_none()
            if first_list is None:
                return None  # unsubscribed before the welcome went out
    if row.kind == "confirmation":
        token = make_confirm_token(secret, person.id, utcnow())
        return transactional.confirmation(
            settings,
            email=person.email,
            name=person.name,
            lists=sorted(waiting.values()),
            confirm_url=confirm_url(settings.public_url, token),
        )
    link = unsubscribe_url(settings.public_url, make_token(secret, person.id, int(first_list or 0)))
    recipient = Addressee(person.email, person.name or "", link)
    return transactional.welcome(settings, Path(str(settings.welcome)), recipient)


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
    """Send every pending outbox row, a batch at a time, each tried as `retry` says."""
    secret = settings.require_secret_key()
    pace = pace or Pace(DEFAULT_RATE)
    stop = stop or threading.Event()
    result = result or Sent()
    while not stop.is_set():
        with store.begin() as tx:
            claimed = _claim(tx.conn, BATCH, utcnow())
        if not claimed:
            break
        for index, row in enumerate(claimed):
            if stop.is_set() or result.stopped:
                _release(store, claimed[index:])
                return result
            try:
                message = _message(store, settings, secret, row)
            except Exception as exc:  # a broken welcome file, say: this row alone fails
                log.warning("outbox %d (%s): cannot build the message: %s", row.id, row.kind, exc)
                with store.begin() as tx:
                    _record(tx.conn, row.id, "failed", 0, error=f"cannot build: {exc}"[:500])
                result.failed += 1
                continue
            if message is None:
                with store.begin() as tx:
                    _record(tx.conn, row.id, "failed", 0, error="not sent: no longer wanted")
                continue
            done = deliver(transport, message, {"kind": row.kind}, pace, stop, retry)
            status = done.status
            with store.begin() as tx:
                _record(
                    tx.conn,
                    row.id,
                    status,
                    done.attempts,
                    message_id=done.message_id,
                    error=done.error,
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


def _release(store: Store, rows: list[_Row]) -> None:
    """Rows claimed but never handed to SES go back to pending."""
    if rows:
        with store.begin() as tx:
            tx.conn.execute(
                sa.update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]), outbox.c.status == "sending")
                .values(status="pending", claimed_at=None)
            )


def run_once(
    store: Store,
    settings: Settings,
    transport: Transport,
    *,
    pace: Pace | None = None,
    stop: threading.Event | None = None,
    retry: RetryPolicy = RETRY,
) -> Sent:
    """One pass: handle the signup inbox, then send what the outbox holds."""
    result = Sent(processed=signup.process(store, settings))
    settle_stale(store)
    signup.tidy(store, settings)
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


__all__ = ["Sent", "run_once", "send_outbox", "settle_stale", "work"]
