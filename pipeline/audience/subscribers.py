"""The subscriber rules: the library behind `newsletter lists` and `newsletter subscribers`.

Every function takes a `Store`, does its work in one transaction and returns what it did
(an `Outcome` with a sentence for people, or a record), raising a `NewsletterError` for
anything the user should fix. The rule that matters most: once someone unsubscribed,
bounced, complained or was forgotten, only an explicit `resubscribe` mails them again.
Addresses are checked and compared as `addresses.py` says; bulk import and export live in
`bulk.py`, the lists' rules in `lists.py`; both are re-exported here, so this
module is the whole library API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.audience import consents
from pipeline.audience import tags as tagging
from pipeline.audience.addresses import Address, email_hash, normalise_email
from pipeline.audience.bulk import ProgressCallback, export, import_csv
from pipeline.audience.cleaning import clean_name
from pipeline.audience.erasure import erase
from pipeline.audience.importreport import CleanedRow, ImportReport, InvalidRow
from pipeline.audience.joining import Join, confirm_pending, publisher_adds
from pipeline.audience.lists import create_list, delete_list, list_summaries, update_list
from pipeline.audience.outcome import Outcome
from pipeline.audience.queries import AudienceTx
from pipeline.audience.records import MailingList, Subscriber
from pipeline.audience.tokens import make_token, unsubscribe_url, verify_token
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.errors import InputError, NotFoundError

__all__ = [
    "Address",
    "CleanedRow",
    "ImportReport",
    "InvalidRow",
    "Outcome",
    "ProgressCallback",
    "add",
    "create_list",
    "delete_list",
    "email_hash",
    "export",
    "forget",
    "import_csv",
    "list_summaries",
    "normalise_email",
    "remove",
    "resubscribe",
    "show",
    "tag",
    "unsubscribe",
    "unsubscribe_by_token",
    "untag",
    "update_list",
]


def _require_subscriber(tx: AudienceTx, email: str) -> Subscriber:
    address = normalise_email(email)
    found = tx.subscriber_by_key(address.key)
    if found is not None:
        return found
    if tx.suppression(email_hash(address.key)):
        raise NotFoundError(
            f"{address.email} was forgotten: only a one-way hash is kept, so it stays suppressed"
        )
    raise NotFoundError(
        f"no subscriber with the address {address.email}",
        hint="addresses are matched ignoring case; `newsletter subscribers export --list NAME` "
        "shows who is on a list",
    )


# --- one subscriber ----------------------------------------------------------------------


def add(
    store: Store, email: str, list_name: str, *, name: str | None = None, source: str = "cli"
) -> Outcome:
    """Subscribe someone to a list; refuses anyone suppressed (see `resubscribe`). A name
    with a line break or an invisible character is cleaned, and the outcome says so."""
    address = normalise_email(email)
    cleaned = clean_name(name)
    name = cleaned.name
    outcome = _add(store, address, list_name, name, source)
    if not cleaned.changes:
        return outcome
    return Outcome(
        outcome.changed, f"{outcome.message} (name cleaned: {', '.join(cleaned.changes)})"
    )


def _add(store: Store, address: Address, list_name: str, name: str | None, source: str) -> Outcome:
    resubscribe_hint = (
        "if they asked to be mailed again: "
        f"`newsletter subscribers resubscribe {address.email} --list {list_name}`"
    )
    with store.begin(AudienceTx) as tx:
        mlist = tx.require_list(list_name)
        sub = tx.subscriber_by_key(address.key)
        now = utcnow()
        if sub is None:
            if tx.suppression(email_hash(address.key)):
                raise InputError(
                    f"{address.email} was forgotten at their request; not added",
                    hint=resubscribe_hint,
                )
            ids = tx.insert_subscribers([(address.email, address.key, name, {})], now)
            tx.insert_memberships(mlist.id, ids.values(), now, source)
            _command_consent(tx, ids[address.key], mlist.id, now, source)
            return Outcome(True, f"added {address.email} to {mlist.name!r}")
        membership = tx.membership_statuses(mlist.id, [sub.id]).get(sub.id)
        join = publisher_adds(sub.status, membership)
        if join is Join.REFUSED:
            active = sub.status == "active"
            state = f"unsubscribed from {mlist.name!r}" if active else f"is {sub.status}"
            raise InputError(f"{sub.email} {state}; not added", hint=resubscribe_hint)
        renamed = name is not None and name != sub.name
        if renamed:
            tx.update_subscribers([(sub.id, name, sub.attributes)], now)
        if join is Join.ALREADY:
            if renamed:
                return Outcome(True, f"{sub.email} is already on {mlist.name!r}; name updated")
            return Outcome(False, f"{sub.email} is already on {mlist.name!r}; nothing changed")
        _command_consent(tx, sub.id, mlist.id, now, source)
        if join is Join.CONFIRMS:
            confirm_pending(tx.conn, mlist.id, [sub.id], now)
            return Outcome(True, f"added {sub.email} to {mlist.name!r} (was unconfirmed)")
        tx.insert_memberships(mlist.id, [sub.id], now, source)
    return Outcome(True, f"added {sub.email} to {mlist.name!r}")


def _command_consent(
    tx: AudienceTx, subscriber_id: int, list_id: int, now: datetime, how: str
) -> None:
    """The publisher's word that this person agreed (recorded as given on the command)."""
    consents.record(
        tx.conn,
        subscriber_id,
        [consents.Consent(list_id, "command", now, confirmed_at=now, detail=how)],
    )


def remove(store: Store, email: str, list_name: str) -> Outcome:
    """Take someone off a list (a correction, not their choice: a later import may add
    them back). An unsubscribed membership is kept, so their choice is still honoured."""
    with store.begin(AudienceTx) as tx:
        sub = _require_subscriber(tx, email)
        mlist = tx.require_list(list_name)
        membership = tx.membership_statuses(mlist.id, [sub.id]).get(sub.id)
        if membership is None:
            raise NotFoundError(f"{sub.email} is not on the list {mlist.name!r}")
        if membership == "unsubscribed":
            raise InputError(
                f"{sub.email} unsubscribed from {mlist.name!r}; the record is kept so that "
                "no import adds them back",
                hint=f"`newsletter subscribers forget {sub.email}` deletes all their data",
            )
        tx.delete_membership(sub.id, mlist.id)
    return Outcome(True, f"removed {sub.email} from {mlist.name!r}")


def unsubscribe(store: Store, email: str, list_name: str | None = None) -> Outcome:
    """Unsubscribe from one list, or (no list) from everything, now and in the future."""
    with store.begin(AudienceTx) as tx:
        sub = _require_subscriber(tx, email)
        return _unsubscribe(tx, sub, tx.require_list(list_name) if list_name else None)


def unsubscribe_by_token(store: Store, secret: bytes, token: str) -> Outcome:
    """What the link in every message does: unsubscribe one person from one list."""
    subscriber_id, list_id = verify_token(secret, token)
    with store.begin(AudienceTx) as tx:
        sub = tx.subscriber_by_id(subscriber_id)
        if sub is None:
            raise NotFoundError(
                f"subscriber #{subscriber_id} no longer exists (forgotten); they get no mail"
            )
        mlist = tx.list_by_id(list_id)
        if mlist is None:
            raise NotFoundError(
                f"list #{list_id} no longer exists; {sub.email} gets no mail from it"
            )
        return _unsubscribe(tx, sub, mlist)


def _unsubscribe(tx: AudienceTx, sub: Subscriber, mlist: MailingList | None) -> Outcome:
    now = utcnow()
    if mlist is None:
        changed = tx.set_membership_status(sub.id, None, "unsubscribed", now)
        if sub.status == "active":  # bounced / complained stay: they say more
            tx.set_subscriber_status(sub.id, "unsubscribed", now)
        if not changed and sub.status != "active":
            return Outcome(False, f"{sub.email} was already unsubscribed from everything")
        return Outcome(True, f"unsubscribed {sub.email} from everything ({changed} list(s))")
    membership = tx.membership_statuses(mlist.id, [sub.id]).get(sub.id)
    if membership is None:
        raise NotFoundError(
            f"{sub.email} is not on the list {mlist.name!r}",
            hint=f"to stop all mail to them: `newsletter subscribers unsubscribe {sub.email}`",
        )
    if membership == "unsubscribed":
        return Outcome(False, f"{sub.email} was already unsubscribed from {mlist.name!r}")
    tx.set_membership_status(sub.id, mlist.id, "unsubscribed", now)
    return Outcome(True, f"unsubscribed {sub.email} from {mlist.name!r}")


def resubscribe(store: Store, email: str, list_name: str, *, force: bool = False) -> Outcome:
    """The one way back after an unsubscribe or a forget; bounced and complained addresses
    need `force` (mail to them failed or was reported as spam)."""
    address = normalise_email(email)
    with store.begin(AudienceTx) as tx:
        mlist = tx.require_list(list_name)
        sub = tx.subscriber_by_key(address.key)
        now = utcnow()
        if sub is None:
            reason = tx.suppression(email_hash(address.key))
            if reason is None:
                raise NotFoundError(
                    f"no subscriber with the address {address.email}",
                    hint=f"`newsletter subscribers add {address.email} --list {list_name}`",
                )
            _refuse_without_force(address.email, reason, force)
            tx.delete_suppression(email_hash(address.key))
            ids = tx.insert_subscribers([(address.email, address.key, None, {})], now)
            tx.insert_memberships(mlist.id, ids.values(), now, "resubscribe")
            _command_consent(tx, ids[address.key], mlist.id, now, "resubscribe")
            return Outcome(
                True,
                f"resubscribed {address.email} to {mlist.name!r} "
                "(afresh: their data had been forgotten)",
            )
        _refuse_without_force(sub.email, sub.status, force)
        membership = tx.membership_statuses(mlist.id, [sub.id]).get(sub.id)
        if sub.status == "active" and membership == "subscribed":
            return Outcome(False, f"{sub.email} is already subscribed to {mlist.name!r}")
        if sub.status != "active":
            tx.set_subscriber_status(sub.id, "active", now)
        if membership is None:
            tx.insert_memberships(mlist.id, [sub.id], now, "resubscribe")
        else:
            tx.set_membership_status(sub.id, mlist.id, "subscribed", now)
        _command_consent(tx, sub.id, mlist.id, now, "resubscribe")
    was = "" if sub.status == "active" else f" (was {sub.status})"
    return Outcome(True, f"resubscribed {sub.email} to {mlist.name!r}{was}")


def _refuse_without_force(email: str, status: str, force: bool) -> None:
    if status in ("bounced", "complained") and not force:
        why = "mail to it bounced" if status == "bounced" else "they reported mail as spam"
        raise InputError(
            f"{email} is {status} ({why}); not resubscribed",
            hint="if you are sure the address works and they want the mail, add --force",
        )


def show(store: Store, email: str, *, secret: bytes | None, public_url: str) -> dict[str, Any]:
    """Everything about one person. Without a secret key the unsubscribe URLs are None."""
    with store.begin(AudienceTx, write=False) as tx:
        sub = _require_subscriber(tx, email)
        memberships = tx.memberships_of(sub.id)
        history = tx.history(sub.id)
        consent_records = consents.of(tx.conn, sub.id)
        tags = tagging.of(tx.conn, [sub.id]).get(sub.id, [])
    lists = [
        {
            "name": m.list_name,
            "status": m.status,
            "subscribed_at": m.subscribed_at,
            "unsubscribed_at": m.unsubscribed_at,
            "source": m.source,
            "unsubscribe_url": unsubscribe_url(public_url, make_token(secret, sub.id, m.list_id))
            if secret
            else None,
        }
        for m in memberships
    ]
    return {
        "email": sub.email,
        "name": sub.name,
        "status": sub.status,
        "attributes": sub.attributes,
        "tags": tags,
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
        "lists": lists,
        "history": history,
        # The proof of consent: when, how (form, import, command), from where, confirmed when.
        "consents": consent_records,
    }


def tag(store: Store, email: str, names: list[str]) -> Outcome:
    """Give one person tags; those they have already are left alone."""
    wanted = list(dict.fromkeys(tagging.clean_tag(n) for n in names))
    with store.begin(AudienceTx) as tx:
        sub = _require_subscriber(tx, email)
        had = tagging.of(tx.conn, [sub.id]).get(sub.id, [])
        new = [t for t in wanted if t not in had]
        tagging.add(tx.conn, ((sub.id, t) for t in new))
    if not new:
        return Outcome(False, f"{sub.email} already has {_tag_list(wanted)}")
    return Outcome(True, f"tagged {sub.email}: {_tag_list(new)}")


def untag(store: Store, email: str, names: list[str]) -> Outcome:
    """Take tags off one person."""
    wanted = list(dict.fromkeys(tagging.clean_tag(n) for n in names))
    with store.begin(AudienceTx) as tx:
        sub = _require_subscriber(tx, email)
        had = tagging.of(tx.conn, [sub.id]).get(sub.id, [])
        gone = [t for t in wanted if t in had]
        tagging.remove(tx.conn, sub.id, gone)
    if not gone:
        return Outcome(False, f"{sub.email} has none of {_tag_list(wanted)}")
    return Outcome(True, f"untagged {sub.email}: {_tag_list(gone)}")


def _tag_list(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def forget(store: Store, email: str) -> Outcome:
    """Delete everything about a person (a privacy request): their record, their address
    and name in the send log, their test copies, the events about them (`erasure.py`);
    keep only the sha256 of the address, so that importing it again keeps it suppressed."""
    address = normalise_email(email)
    digest = email_hash(address.key)
    with store.begin(AudienceTx) as tx:
        sub = tx.subscriber_by_key(address.key)
        tests = erase(tx, address, sub.id if sub else None)
        deleted = f" and {tests} test-send record(s)" if tests else ""
        if sub is None:
            if tx.suppression(digest):
                return Outcome(bool(tests), f"{address.email} was already forgotten{deleted}")
            if tests:  # a tester who never subscribed: nothing to keep suppressed
                return Outcome(True, f"deleted {tests} test-send record(s) of {address.email}")
            sub = _require_subscriber(tx, email)  # raises the usual "no subscriber"
        members = len(tx.memberships_of(sub.id))
        tx.delete_subscriber(sub.id)  # memberships go with it (ON DELETE CASCADE)
        if not tx.suppression(digest):
            reason = "forgotten" if sub.status == "active" else sub.status
            tx.add_suppression(digest, reason, utcnow())
    return Outcome(
        True,
        f"forgot {sub.email}: deleted their record, {members} membership(s){deleted}, and "
        "their address and name in the send log; kept a one-way hash so the address stays "
        "suppressed",
    )
