"""The preference page's library: a reader's lists and their states, and the changes they
may make themselves with the signed link of a message (leave one list, leave all, rejoin).

The link's token names one subscriber and one list; that pair is all the page may act on:
the lists the person has a membership of, plus the link's own list (a publisher may have
removed the membership since the message went out). Links never expire, so a person an
editor removed from a private list cannot rejoin it here: the removal is the publisher's
decision, and only they undo it. A public list they may rejoin, as anyone may sign up
to it. A list id outside that set is `NotTheirs`, and nothing
changes. Every function is one transaction that locks the person's row first (on
PostgreSQL; SQLite writers are serialised anyway), checks, writes, and reads the state
back, so the page shows what was committed.

The rules are those of `subscribers.py`: leaving everything also marks the person
unsubscribed, so no later import or `add` brings them back; bounced and complained
addresses are never resubscribed here (`subscribers resubscribe --force` is the
publisher's decision); an `unconfirmed` membership (a signup waiting for its confirmation
link) may be left, but only the confirmation link turns it into a subscription.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pipeline.audience import consents
from pipeline.audience.queries import AudienceTx
from pipeline.audience.records import Subscriber
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import lists, memberships, subscribers
from pipeline.errors import InputError, NotFoundError

__all__ = [
    "Change",
    "ListState",
    "NotTheirs",
    "Preferences",
    "RejoinRefused",
    "leave",
    "leave_all",
    "preferences",
    "rejoin",
]

log = logging.getLogger(__name__)

LEAVABLE = ("subscribed", "unconfirmed")
CONSENT_DETAIL = "preference page: rejoined with the link of a message"


@dataclass(frozen=True)
class ListState:
    """One of the reader's lists. `status` is the membership's (subscribed, unsubscribed,
    unconfirmed), or None for the link's list when the membership is gone."""

    list_id: int
    name: str
    description: str | None
    status: str | None
    public: bool = False
    title: str | None = None  # what the reader sees, else the name

    @property
    def shown(self) -> str:
        return self.title or self.name

    @property
    def leavable(self) -> bool:
        return self.status in LEAVABLE

    @property
    def removed(self) -> bool:
        """Taken off a private list by the publisher (`subscribers remove`): only they may
        add the person back."""
        return self.status is None and not self.public


@dataclass(frozen=True)
class Preferences:
    """What the page shows: whose lists (the address, for masking), the person's status
    (active, unsubscribed, bounced, complained) and every list, the link's first."""

    subscriber_id: int
    email: str
    status: str
    link_list_id: int
    lists: tuple[ListState, ...]

    @property
    def link_list(self) -> ListState:
        return self.lists[0]

    def list_state(self, list_id: int) -> ListState | None:
        return next((state for state in self.lists if state.list_id == list_id), None)

    @property
    def suppressed(self) -> bool:
        """Mail to them failed or was reported as spam: they get nothing, and only the
        publisher may resubscribe them."""
        return self.status in ("bounced", "complained")


@dataclass(frozen=True)
class Change:
    """What an action did (`changed` False when it was already so) and the state after."""

    changed: bool
    list_name: str | None  # None for "leave all"
    preferences: Preferences


class NotTheirs(InputError):
    """A list id that is not one of this reader's lists (or not a list at all)."""


class RejoinRefused(InputError):
    """A rejoin this page may not do: `reason` is bounced, complained, unconfirmed or
    removed.
    `email` and `list_name` are for the reader's page (masked there)."""

    def __init__(self, message: str, *, reason: str, email: str, list_name: str) -> None:
        super().__init__(message, hint=_REFUSAL_HINTS[reason])
        self.reason = reason
        self.email = email
        self.list_name = list_name


_REFUSAL_HINTS = {
    "bounced": "mail to it bounced; `newsletter subscribers resubscribe EMAIL --list NAME "
    "--force` if you are sure it works and they want the mail",
    "complained": "they reported mail as spam; only `newsletter subscribers resubscribe "
    "--force` brings them back",
    "unconfirmed": "a signup is confirmed only by the link in its confirmation email",
    "removed": "an editor removed them from this private list; `newsletter subscribers add "
    "EMAIL --list NAME` adds them back",
}


def preferences(store: Store, subscriber_id: int, link_list_id: int) -> Preferences:
    """The reader's lists and their states, read in one transaction; NotFoundError if the
    person was forgotten or the link's list deleted."""
    with store.begin(AudienceTx, write=False) as tx:
        return _read(tx, _person(tx, subscriber_id, lock=False), link_list_id)


def leave(store: Store, subscriber_id: int, link_list_id: int, list_id: int) -> Change:
    """Unsubscribe from one of the reader's lists (subscribed or unconfirmed: both stop)."""
    with store.begin(AudienceTx) as tx:
        person = _person(tx, subscriber_id, lock=True)
        state = _theirs(_read(tx, person, link_list_id), list_id)
        changed = False
        if state.leavable:
            changed = bool(tx.set_membership_status(person.id, list_id, "unsubscribed", utcnow()))
        after = _read(tx, _person(tx, person.id, lock=False), link_list_id)
    if changed:
        log.info("subscriber #%d left list #%d on the preference page", person.id, list_id)
    return Change(changed, state.name, after)


def leave_all(store: Store, subscriber_id: int, link_list_id: int) -> Change:
    """Unsubscribe from every list, and from whatever comes later: the person is marked
    unsubscribed, as `newsletter subscribers unsubscribe EMAIL` does."""
    with store.begin(AudienceTx) as tx:
        person = _person(tx, subscriber_id, lock=True)
        _read(tx, person, link_list_id)  # the link's list must still exist
        now = utcnow()
        changed = tx.set_membership_status(person.id, None, "unsubscribed", now) > 0
        if person.status == "active":  # bounced and complained stay so: they say more
            tx.set_subscriber_status(person.id, "unsubscribed", now)
            changed = True
        after = _read(tx, _person(tx, person.id, lock=False), link_list_id)
    if changed:
        log.info("subscriber #%d left every list on the preference page", person.id)
    return Change(changed, None, after)


def rejoin(
    store: Store,
    subscriber_id: int,
    link_list_id: int,
    list_id: int,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
) -> Change:
    """Subscribe again to a list the reader left, recording their consent (a form, with
    the request's IP and user agent). RejoinRefused for a bounced or complained person and
    for an unconfirmed membership."""
    with store.begin(AudienceTx) as tx:
        person = _person(tx, subscriber_id, lock=True)
        state = _theirs(_read(tx, person, link_list_id), list_id)
        if person.status in ("bounced", "complained"):
            raise RejoinRefused(
                f"subscriber #{person.id} is {person.status}; not resubscribed to {state.name!r}",
                reason=person.status,
                email=person.email,
                list_name=state.name,
            )
        if state.status == "unconfirmed":
            raise RejoinRefused(
                f"subscriber #{person.id} has not confirmed their signup to {state.name!r}",
                reason="unconfirmed",
                email=person.email,
                list_name=state.name,
            )
        if state.removed:
            raise RejoinRefused(
                f"subscriber #{person.id} was removed from the private list {state.name!r}",
                reason="removed",
                email=person.email,
                list_name=state.name,
            )
        if state.status == "subscribed" and person.status == "active":
            return Change(False, state.name, _read(tx, person, link_list_id))
        now = utcnow()
        if person.status != "active":
            tx.set_subscriber_status(person.id, "active", now)
        if state.status is None:
            tx.insert_memberships(list_id, [person.id], now, "preferences")
        else:
            tx.set_membership_status(person.id, list_id, "subscribed", now)
        _record_consent(tx, person.id, list_id, now, ip, user_agent)
        after = _read(tx, _person(tx, person.id, lock=False), link_list_id)
    log.info("subscriber #%d rejoined list #%d on the preference page", person.id, list_id)
    return Change(True, state.name, after)


# --- inside the transaction ------------------------------------------------------------------


def _person(tx: AudienceTx, subscriber_id: int, *, lock: bool) -> Subscriber:
    if lock:
        # Two requests of one reader (a double click, two tabs) take turns: each checks
        # and writes against what the other committed.
        query = sa.select(subscribers.c.id).where(subscribers.c.id == subscriber_id)
        tx.conn.execute(query.with_for_update())
    person = tx.subscriber_by_id(subscriber_id)
    if person is None:
        raise NotFoundError(f"subscriber #{subscriber_id} no longer exists (forgotten)")
    return person


def _read(tx: AudienceTx, person: Subscriber, link_list_id: int) -> Preferences:
    link = tx.list_by_id(link_list_id)
    if link is None:
        raise NotFoundError(f"list #{link_list_id} no longer exists")
    query = (
        sa.select(
            lists.c.id,
            lists.c.name,
            lists.c.description,
            memberships.c.status,
            lists.c.public,
            lists.c.title,
        )
        .join(lists, lists.c.id == memberships.c.list_id)
        .where(memberships.c.subscriber_id == person.id)
        .order_by(lists.c.name, lists.c.id)
    )
    found = [ListState(*row[:4], bool(row[4]), row[5]) for row in tx.conn.execute(query)]
    own = next((s for s in found if s.list_id == link.id), None)
    first = own or ListState(link.id, link.name, link.description, None, link.public, link.title)
    others = tuple(s for s in found if s.list_id != link.id)
    return Preferences(person.id, person.email, person.status, link.id, (first, *others))


def _theirs(prefs: Preferences, list_id: int) -> ListState:
    state = prefs.list_state(list_id)
    if state is None:
        raise NotTheirs(
            f"list #{list_id} is not one of subscriber #{prefs.subscriber_id}'s lists",
            hint="the page offers only the reader's own lists",
        )
    return state


def _record_consent(
    tx: AudienceTx,
    subscriber_id: int,
    list_id: int,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
) -> None:
    """The proof of consent for a rejoin: the reader pressed the button on the page of
    their own signed link, so it is requested and confirmed at once (and is no pending
    signup that a confirmation link would wait for)."""
    consent = consents.Consent(
        list_id, "form", now, confirmed_at=now, detail=CONSENT_DETAIL, ip=ip, user_agent=user_agent
    )
    consents.record(tx.conn, subscriber_id, [consent])
