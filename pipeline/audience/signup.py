"""Signup with double opt-in: what the form's POST stores, what the processor does with
it, and what the confirmation link does.

The web answer (`receive`) only checks the form's shape, counts the IP against its limit
and stores the request: the same work, and so the same answer in the same time, whatever
the address's state (no enumeration). The processor (`process`, run by a background loop)
decides, one request at a time in its own transaction:

- bounced, complained or forgotten: nothing at all, no mail;
- already subscribed to every list asked for: no mail;
- otherwise (new, waiting for confirmation, or unsubscribed: a fresh signup is consent):
  an `unconfirmed` membership for each list it has none of, a consent record per list
  (with the request's IP, user agent and name), and at most one confirmation per address
  per period (a conditional UPDATE of `confirmation_sent_at` decides, so several
  processors agree), queued in the outbox. A confirmation that ended `unknown` or
  `failed` gives the period back (the outbox clears the stamp).

A new address gets no name from the form: anyone may type any address and any name, so the
name is the person's only once the address confirms (`confirmation.py`), and until then
nothing a stranger typed reaches a mail header.

An unsubscribed membership stays `unsubscribed` until the link is used: a stranger's
signup must not erase the record of someone's unsubscribe. `confirm` (the link's POST)
(`confirmation.py`) subscribes the person to the lists of the requests its email was sent
for, stamps those confirmed, and queues the welcome once per person.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline import words
from pipeline.audience import consents, ratelimits
from pipeline.audience.addresses import email_hash, normalise_email
from pipeline.audience.cleaning import clean_name
from pipeline.audience.queries import AudienceTx
from pipeline.audience.records import MailingList
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import memberships, outbox, signup_requests, subscribers
from pipeline.errors import InputError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

MAX_LISTS = 50  # list fields in one form
SUPPRESSED = ("bounced", "complained")


class Received(StrEnum):
    accepted = "accepted"  # stored for the processor
    honeypot = "honeypot"  # a bot filled the hidden field: nothing stored
    limited = "limited"  # too many signups from this IP in the window


class FormProblems(InputError):
    """What is wrong with a signup form, field by field (shown next to the form)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class SignupForm:
    email: str
    name: str | None
    lists: tuple[str, ...]


@dataclass(frozen=True)
class Client:
    ip: str | None = None
    user_agent: str | None = None


def parse_form(
    fields: Mapping[str, Sequence[str]], public: list[MailingList], lang: str = "en"
) -> SignupForm:
    """The form's fields checked for shape only (nothing about the address's state); each
    problem in the reader's language (`lang`), from the catalogue."""
    problems: dict[str, str] = {}
    email = (fields.get("email") or [""])[0]
    address = None
    try:
        address = normalise_email(email)
    except InputError:
        problems["email"] = words.text(lang, "signup.problem_email")
    name = None
    try:
        name = clean_name((fields.get("name") or [""])[0].strip() or None).name
    except InputError:
        problems["name"] = words.text(lang, "signup.problem_name")
    asked = [n.strip() for n in fields.get("list", []) if n.strip()]
    offered = {m.name for m in public}
    if not offered:
        problems["list"] = words.text(lang, "signup.problem_closed")
    elif not asked and len(offered) == 1:
        asked = sorted(offered)  # a form for the one public list need not name it
    elif not asked:
        problems["list"] = words.text(lang, "signup.problem_choose")
    unknown = [n for n in asked if n not in offered]
    if unknown:
        problems["list"] = words.text(lang, "signup.problem_unknown", name=unknown[0][:60])
    if len(asked) > MAX_LISTS:
        problems["list"] = words.text(lang, "signup.problem_too_many", count=MAX_LISTS)
    if problems or address is None:
        raise FormProblems(problems)
    return SignupForm(address.email, name, tuple(dict.fromkeys(asked)))


def limit_key(ip: str | None) -> str:
    """What the per-IP limit counts: an IPv4 address, or an IPv6 /64 (one subscriber line
    holds a whole /64, so counting single IPv6 addresses would limit nothing)."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return "unknown" if not ip else ip[:100]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def receive(
    store: Store,
    settings: Settings,
    fields: Mapping[str, Sequence[str]],
    client: Client,
    *,
    honeypot: str = "website",
    now: datetime | None = None,
) -> Received:
    """What `POST /subscribe` does. FormProblems for a bad form (it still counts against
    the IP's limit, so a bot cannot probe without limit)."""
    now = now or utcnow()
    if any(v.strip() for v in fields.get(honeypot, [])):
        log.info("signup honeypot filled (ip %s): nothing stored", client.ip)
        return Received.honeypot
    problem: FormProblems | None = None
    with store.begin(AudienceTx) as tx:
        key = f"signup:{limit_key(client.ip)}"
        window = settings.signup_ip_window
        if not ratelimits.hit(tx.conn, key, limit=settings.signup_ip_limit, window=window, now=now):
            log.info("signup from %s over the limit of %d per %d s", client.ip,
                     settings.signup_ip_limit, window)  # fmt: skip
            return Received.limited
        try:
            form = parse_form(fields, tx.public_lists(), settings.lang)
        except FormProblems as exc:
            problem = exc
        else:
            tx.conn.execute(
                sa.insert(signup_requests).values(
                    email=form.email,
                    name=form.name,
                    lists=json.dumps(list(form.lists), ensure_ascii=False),
                    ip=(client.ip or "")[:64] or None,
                    user_agent=(client.user_agent or "")[:300] or None,
                    received_at=now,
                )
            )
    if problem is not None:
        raise problem
    return Received.accepted


# --- the processor ------------------------------------------------------------------------


@dataclass
class Processed:
    handled: int = 0
    confirmations: int = 0  # queued in the outbox
    outcomes: list[str] = field(default_factory=list)

    def add(self, request_id: int, outcome: str, queued: bool) -> None:
        log.info("signup request %d: %s", request_id, outcome)
        self.handled += 1
        self.confirmations += queued
        self.outcomes.append(outcome)


def process(
    store: Store, settings: Settings, *, now: datetime | None = None, limit: int = 100
) -> Processed:
    """Handle up to `limit` open signup requests, oldest first, each in its own
    transaction (several processors share the work: SKIP LOCKED on PostgreSQL)."""
    result = Processed()
    for _ in range(limit):
        try:
            with store.begin(AudienceTx) as tx:
                handled = handle_next(tx, settings, now or utcnow())
        except sa.exc.IntegrityError:
            # Another processor added the same person at the same moment: try again later.
            log.info("signup request raced with another processor; retried on the next pass")
            break
        if handled is None:
            break
        result.add(*handled)
    return result


def handle_next(tx: AudienceTx, settings: Settings, now: datetime) -> tuple[int, str, bool] | None:
    """Handle the oldest open signup request in `tx`: (its id, the outcome, whether a
    confirmation was queued), or None when none is open. The dry run calls
    it in a transaction it throws away."""
    query = (
        sa.select(signup_requests)
        .where(signup_requests.c.handled_at.is_(None))
        .order_by(signup_requests.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    row = tx.conn.execute(query).first()
    if row is None:
        return None
    outcome, queued = _handle(tx, row, settings, now)
    tx.conn.execute(
        sa.update(signup_requests)
        .where(signup_requests.c.id == row.id)
        .values(handled_at=now, outcome=outcome[:64])
    )
    return row.id, outcome, queued


def _handle(
    tx: AudienceTx, row: sa.Row[object], settings: Settings, now: datetime
) -> tuple[str, bool]:
    m = row._mapping
    try:
        address = normalise_email(str(m["email"]))
        names = [str(n) for n in json.loads(str(m["lists"]))]
    except (InputError, ValueError):
        return "invalid request", False
    asked = [found for n in names if (found := tx.list_by_name(n)) is not None and found.public]
    if not asked:
        return "no public list left", False
    sub = tx.subscriber_by_key(address.key)
    if sub is None:
        if tx.suppression(email_hash(address.key)):
            return "forgotten: no mail", False
        # No name yet: the one typed on the form is anyone's until the address confirms it.
        sub_id = tx.insert_subscribers([(address.email, address.key, None, {})], now)[address.key]
        status = "active"
    else:
        sub_id, status = sub.id, sub.status
        if status in SUPPRESSED:
            return f"{status}: no mail", False
    states = member_states(tx, sub_id)
    wanted = [
        mlist
        for mlist in asked
        if not (states.get(mlist.id) == "subscribed" and status == "active")
    ]
    if not wanted:
        return "already subscribed: no mail", False
    new = [mlist.id for mlist in wanted if mlist.id not in states]
    if new:
        tx.conn.execute(
            sa.insert(memberships),
            [
                {
                    "subscriber_id": sub_id,
                    "list_id": list_id,
                    "status": "unconfirmed",
                    "subscribed_at": now,
                    "updated_at": now,
                    "source": "signup",
                }
                for list_id in new
            ],
        )
    requested = m["received_at"] if isinstance(m["received_at"], datetime) else now
    # A record per request (its IP, its user agent, the name it gave): the confirmation
    # email made next is for these, and a name becomes the person's only once confirmed.
    # The same request repeated before its email went out adds none.
    given = m["name"] if isinstance(m["name"], str) else None
    this = consents.Consent(
        None, "form", requested, ip=m["ip"], user_agent=m["user_agent"], name=given
    )
    since = now - timedelta(days=settings.confirm_link_days)
    known = consents.repeated(tx.conn, sub_id, since, this)
    consents.record(
        tx.conn,
        sub_id,
        [replace(this, list_id=mlist.id) for mlist in wanted if mlist.id not in known],
    )
    if not _claim_confirmation(tx.conn, sub_id, settings, now):
        return "confirmation sent within the period: no mail", False
    queue_mail(tx.conn, "confirmation", sub_id, sub.email if sub else address.email, now)
    return "confirmation queued", True


def member_states(tx: AudienceTx, subscriber_id: int) -> dict[int, str]:
    query = sa.select(memberships.c.list_id, memberships.c.status).where(
        memberships.c.subscriber_id == subscriber_id
    )
    return {list_id: status for list_id, status in tx.conn.execute(query)}


def _claim_confirmation(
    conn: Connection, subscriber_id: int, settings: Settings, now: datetime
) -> bool:
    """At most one confirmation per address per period: whoever moves the stamp sends."""
    since = now - timedelta(hours=settings.confirmation_period_hours)
    query = (
        sa.update(subscribers)
        .where(
            subscribers.c.id == subscriber_id,
            sa.or_(
                subscribers.c.confirmation_sent_at.is_(None),
                subscribers.c.confirmation_sent_at <= since,
            ),
        )
        .values(confirmation_sent_at=now)
    )
    return conn.execute(query).rowcount == 1


def queue_mail(conn: Connection, kind: str, subscriber_id: int, email: str, now: datetime) -> None:
    conn.execute(
        sa.insert(outbox).values(
            kind=kind, subscriber_id=subscriber_id, email=email, status="pending", created_at=now
        )
    )


KEEP_HANDLED = timedelta(days=30)  # the log of handled requests; consents keep the proof


def tidy(store: Store, settings: Settings, *, now: datetime | None = None) -> int:
    """Delete handled signup requests older than KEEP_HANDLED (they hold addresses and
    IPs that are no longer needed) and rate-limit counters whose window has passed."""
    now = now or utcnow()
    with store.begin(AudienceTx) as tx:
        deleted = tx.conn.execute(
            sa.delete(signup_requests).where(
                signup_requests.c.handled_at.is_not(None),
                signup_requests.c.handled_at < now - KEEP_HANDLED,
            )
        ).rowcount
        ratelimits.forget_expired(tx.conn, window=settings.signup_ip_window, now=now)
    return int(deleted)


def counts(store: Store) -> dict[str, int]:
    """Open signup requests, and outbox rows by status (for `newsletter signups`)."""
    with store.begin(AudienceTx, write=False) as tx:
        open_requests = tx.conn.execute(
            sa.select(sa.func.count()).where(signup_requests.c.handled_at.is_(None))
        ).scalar_one()
        rows = tx.conn.execute(
            sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
        ).all()
    found = {status: int(n) for status, n in rows}
    return {
        "signup requests waiting": int(open_requests),
        **{
            f"outbox {s}": found.get(s, 0)
            for s in ("pending", "sending", "sent", "failed", "unknown")
        },
    }


__all__ = [
    "Client",
    "FormProblems",
    "Processed",
    "Received",
    "counts",
    "handle_next",
    "member_states",
    "parse_form",
    "process",
    "queue_mail",
    "receive",
    "tidy",
]
