"""The preference page's library (pipeline/audience/preferences.py) on a real database of
each backend: what a reader's lists look like, and that each change is theirs to make,
whole or not at all, with the effect a campaign would see (`Store.recipients`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.audience import preferences
from pipeline.audience.preferences import NotTheirs, RejoinRefused
from pipeline.audience.queries import recipients
from pipeline.audience.subscribers import delete_list, forget, remove
from pipeline.db import Store
from pipeline.errors import NotFoundError
from tests.support import db
from tests.support.preference_site import OTHER, READER, READER_STATES, populate

TABLES = ("subscribers", "memberships", "consents", "suppressions")


@pytest.fixture
def store(project: Path, store: Store) -> Store:
    """The shared store, on the project's database (`ids` reads its URL from the project)."""
    return store


@pytest.fixture
def ids(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    return populate(store, os.environ["NEWSLETTER_DATABASE_URL"])


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    return {t: [tuple(r) for r in db.rows(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in TABLES}


def states(prefs: preferences.Preferences) -> dict[str, str | None]:
    return {state.name: state.status for state in prefs.lists}


def receives(store: Store, list_name: str) -> bool:
    return READER in {member.email for member in recipients(store, list_name)}


def test_the_readers_lists_the_links_first(store: Store, ids) -> None:
    lists, people = ids
    prefs = preferences.preferences(store, people[READER], lists["events"])
    assert [s.name for s in prefs.lists] == ["events", "announcements", "archive", "weekly"]
    assert states(prefs) == READER_STATES  # not OTHER's `private`
    assert prefs.link_list.leavable and prefs.email == READER and not prefs.suppressed
    assert prefs.list_state(lists["announcements"]).description  # type: ignore[union-attr]


def test_a_removed_membership_of_the_links_list_still_shows(store: Store, ids) -> None:
    lists, people = ids
    remove(store, READER, "weekly")  # the publisher's correction, after the message went out
    prefs = preferences.preferences(store, people[READER], lists["weekly"])
    assert prefs.link_list.name == "weekly" and prefs.link_list.status is None
    assert not prefs.link_list.leavable


def test_a_forgotten_reader_or_a_deleted_list_is_not_found(store: Store, ids) -> None:
    lists, people = ids
    delete_list(store, "archive")
    with pytest.raises(NotFoundError):
        preferences.preferences(store, people[READER], lists["archive"])
    forget(store, READER)
    before = snapshot()
    with pytest.raises(NotFoundError):
        preferences.preferences(store, people[READER], lists["weekly"])
    with pytest.raises(NotFoundError):
        preferences.leave_all(store, people[READER], lists["weekly"])
    assert snapshot() == before


def test_leave_one_list(store: Store, ids) -> None:
    lists, people = ids
    change = preferences.leave(store, people[READER], lists["weekly"], lists["announcements"])
    assert change.changed and change.list_name == "announcements"
    assert states(change.preferences) == READER_STATES | {"announcements": "unsubscribed"}
    assert not receives(store, "announcements") and receives(store, "weekly")
    after = snapshot()
    again = preferences.leave(store, people[READER], lists["weekly"], lists["announcements"])
    assert not again.changed and snapshot() == after  # not even a timestamp moves


def test_leave_an_unconfirmed_signup(store: Store, ids) -> None:
    lists, people = ids
    change = preferences.leave(store, people[READER], lists["weekly"], lists["events"])
    assert change.changed and states(change.preferences)["events"] == "unsubscribed"


@pytest.mark.parametrize("which", ["others", "nonexistent"])
def test_a_list_that_is_not_theirs_changes_nothing(store: Store, ids, which: str) -> None:
    lists, people = ids
    list_id = lists["private"] if which == "others" else max(lists.values()) + 1
    before = snapshot()
    with pytest.raises(NotTheirs):
        preferences.leave(store, people[READER], lists["weekly"], list_id)
    with pytest.raises(NotTheirs):
        preferences.rejoin(store, people[READER], lists["weekly"], list_id)
    assert snapshot() == before


def test_leave_all_marks_the_person_unsubscribed(store: Store, ids) -> None:
    lists, people = ids
    change = preferences.leave_all(store, people[READER], lists["weekly"])
    assert change.changed and change.preferences.status == "unsubscribed"
    assert set(states(change.preferences).values()) == {"unsubscribed"}
    assert not receives(store, "weekly") and not receives(store, "announcements")
    other = preferences.preferences(store, people[OTHER], lists["weekly"])
    assert other.status == "active" and set(states(other).values()) == {"subscribed"}
    after = snapshot()
    assert not preferences.leave_all(store, people[READER], lists["weekly"]).changed
    assert snapshot() == after


def test_leave_all_keeps_a_bounce(store: Store, ids) -> None:
    lists, people = ids
    db.execute("UPDATE subscribers SET status = 'bounced' WHERE id = ?", people[READER])
    change = preferences.leave_all(store, people[READER], lists["weekly"])
    assert change.preferences.status == "bounced"  # it says more than "unsubscribed"


def test_rejoin_after_leaving_all_records_consent(store: Store, ids) -> None:
    lists, people = ids
    preferences.leave_all(store, people[READER], lists["weekly"])
    change = preferences.rejoin(
        store,
        people[READER],
        lists["weekly"],
        lists["archive"],
        ip="198.51.100.7",
        user_agent="x" * 500,
    )
    assert change.changed and change.preferences.status == "active"
    assert states(change.preferences) == dict.fromkeys(READER_STATES, "unsubscribed") | {
        "archive": "subscribed"
    }
    assert receives(store, "archive") and not receives(store, "weekly")
    (consent,) = db.rows(
        "SELECT list_id, method, ip, length(user_agent), confirmed_at FROM consents "
        "WHERE subscriber_id = ? AND detail LIKE 'preference page%'",
        people[READER],
    )
    assert tuple(consent)[:4] == (lists["archive"], "form", "198.51.100.7", 300)
    assert consent[4] is not None


def test_rejoin_of_a_private_list_the_publisher_removed_them_from_is_refused(
    store: Store, ids
) -> None:
    lists, people = ids
    remove(store, READER, "weekly")  # a private list: the publisher's decision stands
    before = snapshot()
    with pytest.raises(RejoinRefused) as refused:
        preferences.rejoin(store, people[READER], lists["weekly"], lists["weekly"])
    assert refused.value.reason == "removed" and refused.value.list_name == "weekly"
    assert "subscribers add" in (refused.value.hint or "")
    assert snapshot() == before and not receives(store, "weekly")
    assert preferences.preferences(store, people[READER], lists["weekly"]).link_list.removed


def test_rejoin_a_removed_membership_of_a_public_links_list(store: Store, ids) -> None:
    lists, people = ids
    db.execute("UPDATE lists SET public = ? WHERE id = ?", True, lists["weekly"])
    remove(store, READER, "weekly")
    change = preferences.rejoin(store, people[READER], lists["weekly"], lists["weekly"])
    assert change.changed and change.preferences.link_list.status == "subscribed"
    assert receives(store, "weekly")
    (source,) = db.rows(
        "SELECT source FROM memberships WHERE subscriber_id = ? AND list_id = ?",
        people[READER],
        lists["weekly"],
    )
    assert source[0] == "preferences"


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_rejoin_is_refused_after_a_bounce_or_complaint(store: Store, ids, status: str) -> None:
    lists, people = ids
    db.execute("UPDATE subscribers SET status = ? WHERE id = ?", status, people[READER])
    before = snapshot()
    with pytest.raises(RejoinRefused) as refused:
        preferences.rejoin(store, people[READER], lists["weekly"], lists["archive"])
    assert refused.value.reason == status and refused.value.email == READER
    assert "--force" in (refused.value.hint or "")  # the publisher's way, for the log
    assert snapshot() == before and not receives(store, "archive")


def test_an_unconfirmed_signup_is_not_rejoined(store: Store, ids) -> None:
    lists, people = ids
    before = snapshot()
    with pytest.raises(RejoinRefused) as refused:
        preferences.rejoin(store, people[READER], lists["weekly"], lists["events"])
    assert refused.value.reason == "unconfirmed" and refused.value.list_name == "events"
    assert snapshot() == before and not receives(store, "events")


def test_rejoin_a_list_they_are_on_changes_nothing(store: Store, ids) -> None:
    lists, people = ids
    before = snapshot()
    change = preferences.rejoin(store, people[READER], lists["weekly"], lists["weekly"])
    assert not change.changed and snapshot() == before
