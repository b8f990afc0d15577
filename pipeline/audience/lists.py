"""Lists: make one, offer it on the signup form or not, delete it, count its members by
state (the library behind `newsletter lists`), and find one or the public ones for the
other parts (a campaign's list, the signup form). The SQL is `queries.AudienceTx`'s."""

from __future__ import annotations

from typing import Any

from pipeline.audience.outcome import Outcome
from pipeline.audience.queries import AudienceTx
from pipeline.audience.records import MailingList
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.errors import InputError

MAX_DESCRIPTION = 500  # characters: a line or two under the list's checkbox
MAX_TITLE = 100  # characters: a label beside a checkbox


def _shown_text(text: str | None, what: str, limit: int, hint: str) -> str | None:
    """A list's title or description as readers see it: one line of visible text (an
    empty one removes it)."""
    if text is None:
        return None
    cleaned = " ".join(text.split())
    if len(cleaned) > limit or not cleaned.isprintable():
        raise InputError(
            f"the {what} must be printable text of at most {limit} characters "
            f"(it has {len(cleaned)})",
            hint=hint,
        )
    return cleaned or None


def _description(text: str | None) -> str | None:
    hint = "write a sentence or two; the signup page shows it under the list's name"
    return _shown_text(text, "description", MAX_DESCRIPTION, hint)


def _title(text: str | None) -> str | None:
    hint = "a few words readers recognise, like 'Weekly digest'"
    return _shown_text(text, "title", MAX_TITLE, hint)


def titles(store: Store) -> dict[str, str]:
    """Every list's name and what readers see of it (its title, else its name)."""
    with store.begin(AudienceTx, write=False) as tx:
        return {mlist.name: mlist.shown for mlist, *_ in tx.list_counts()}


def require_list(store: Store, name: str) -> MailingList:
    """The list of that name; NotFoundError naming the lists there are when none is."""
    with store.begin(AudienceTx, write=False) as tx:
        return tx.require_list(name)


def public_lists(store: Store) -> list[MailingList]:
    """The lists offered on the signup form, by name."""
    with store.begin(AudienceTx, write=False) as tx:
        return tx.public_lists()


def create_list(
    store: Store,
    name: str,
    *,
    exist_ok: bool = False,
    public: bool = False,
    description: str | None = None,
    title: str | None = None,
) -> Outcome:
    """Make a list; a public one is offered on the signup form, with its title and
    description."""
    clean = name.strip()
    if not clean or len(clean) > 200 or not clean.isprintable():
        raise InputError(f"{name!r} is not a usable list name", hint="use up to 200 characters")
    description = _description(description)
    title = _title(title)
    with store.begin(AudienceTx) as tx:
        if tx.list_by_name(clean) is not None:
            if exist_ok:
                return Outcome(False, f"list {clean!r} already exists")
            raise InputError(
                f"list {clean!r} already exists", hint="add --exist-ok to accept an existing list"
            )
        tx.create_list(clean, utcnow(), public=public, description=description, title=title)
    kind = "public list (offered on the signup form)" if public else "list"
    return Outcome(True, f"created {kind} {clean!r}")


def update_list(
    store: Store,
    name: str,
    *,
    public: bool | None = None,
    description: str | None = None,
    title: str | None = None,
) -> Outcome:
    """Offer a list on the signup form or take it off (`public`), or change its description
    (an empty one removes it)."""
    values: dict[str, object] = {}
    if public is not None:
        values["public"] = public
    if description is not None:
        values["description"] = _description(description)
    if title is not None:
        values["title"] = _title(title)
    if not values:
        raise InputError(
            "nothing to change", hint="pass --public, --private, --title TEXT or --description TEXT"
        )
    with store.begin(AudienceTx) as tx:
        mlist = tx.require_list(name)
        current = {"public": mlist.public, "description": mlist.description, "title": mlist.title}
        changes = {k: v for k, v in values.items() if current[k] != v}
        if not changes:
            return Outcome(False, f"list {mlist.name!r} is already so; nothing changed")
        tx.update_list(mlist.id, **changes)
    said = []
    if "public" in changes:
        said.append("now public (offered on the signup form)" if public else "now private")
    if "description" in changes:
        said.append("description set" if changes["description"] else "description removed")
    if "title" in changes:
        said.append(f"title {changes['title']!r}" if changes["title"] else "title removed")
    return Outcome(True, f"list {mlist.name!r}: {', '.join(said)}")


def delete_list(store: Store, name: str, *, force: bool = False) -> Outcome:
    with store.begin(AudienceTx) as tx:
        mlist = tx.require_list(name)
        started = tx.campaigns_started(mlist.id)
        if started and not force:
            raise InputError(
                f"list {name!r} has {started} sent campaign(s); not deleted",
                hint="add --force to delete it anyway (the campaign records are kept)",
            )
        waiting = tx.waiting_schedules(mlist.id)
        named = "; ".join(
            f"issue {issue} at {send_at:%Y-%m-%d %H:%M} UTC ({state})"
            for issue, send_at, state in waiting
        )
        if waiting and not force:
            raise InputError(
                f"list {name!r} has {len(waiting)} schedule(s) still to send: {named}; not deleted",
                hint=f"`newsletter schedule cancel ISSUE --list {name}` cancels one; "
                "--force cancels them and deletes the list",
            )
        members, unsubscribed = tx.count_members(mlist.id)
        tx.delete_list(mlist.id)  # its schedules go with it
    cancelled = f"; cancelled its schedule(s): {named}" if waiting else ""
    return Outcome(
        True,
        f"deleted list {name!r} and its {members} membership(s) ({unsubscribed} unsubscribed); "
        f"the subscribers themselves are kept{cancelled}",
    )


def list_summaries(store: Store) -> list[dict[str, Any]]:
    """Every list with its members counted once each: `subscribed` are the ones who receive
    it; `unconfirmed` signed up and have not used their confirmation link (they receive
    nothing and are not subscribers); `bounced` / `complained` go by the person's global
    status; the rest `unsubscribed`."""
    summaries: dict[int, dict[str, Any]] = {}
    with store.begin(AudienceTx, write=False) as tx:
        counts = tx.list_counts()
    for mlist, membership, status, count in counts:
        summary = summaries.setdefault(
            mlist.id,
            {
                "name": mlist.name,
                "public": mlist.public,
                "subscribed": 0,
                "unconfirmed": 0,
                "unsubscribed": 0,
                "bounced": 0,
                "complained": 0,
                "total": 0,
                "created_at": mlist.created_at,
                "description": mlist.description,
                "title": mlist.title,
            },
        )
        if membership is None:
            continue  # an empty list
        if status in ("bounced", "complained"):
            bucket = status
        elif membership == "subscribed" and status == "active":
            bucket = "subscribed"
        elif membership == "unconfirmed":
            bucket = "unconfirmed"
        else:
            bucket = "unsubscribed"
        summary[bucket] += count
        summary["total"] += count
    return list(summaries.values())
