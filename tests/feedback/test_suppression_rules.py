"""The suppression rules, campaign by campaign, through the library: which bounces count
toward "three soft bounces in a row", and what a recorded event keeps. Written to close
what mutation testing (mutmut) found untested in feedback/eventstore.py."""

from __future__ import annotations

import pytest

from pipeline.audience import subscribers as lib
from pipeline.audience.queries import AudienceTx
from pipeline.db import Store
from pipeline.delivery.sendlog import SendLog
from pipeline.feedback.ingest import process
from tests.support import db
from tests.support.sns_fixtures import bounce_permanent, bounce_transient, delivery

READER = "reader@example.org"


@pytest.fixture
def store(store: Store) -> Store:
    lib.create_list(store, "weekly")
    lib.add(store, READER, "weekly")
    return store


def url_of(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def campaign(store: Store, number: int, *, outcome: str = "sent", dry_run: bool = False) -> str:
    """One campaign of issue `number` to the reader; its SES message id."""
    log = SendLog(store)
    started, _ = log.start(number, log.list_of("weekly"), f"Issue {number}", dry_run=dry_run)
    message_id = f"msg-{number}-{'dry' if dry_run else 'real'}"
    db.execute(
        "UPDATE deliveries SET status = ?, message_id = ? WHERE campaign_id = ?",
        outcome,
        message_id,
        started.id,
        url=url_of(store),
    )
    log.settle(started.id)
    return message_id


def status(store: Store) -> str:
    with store.begin(AudienceTx, write=False) as tx:
        found = tx.subscriber_by_key(READER)
        assert found is not None
        return found.status


def soft(store: Store, message_id: str, n: int = 0) -> None:
    event = bounce_transient(ses_message_id=message_id, recipient=READER)
    event["bounce"]["feedbackId"] = f"{message_id}-{n}"  # another event, not a repeat
    process(store, event)


def test_a_first_soft_bounce_changes_nothing(store: Store) -> None:
    soft(store, campaign(store, 1))
    assert status(store) == "active"


def test_three_soft_bounces_in_a_row_bounce_the_address(store: Store) -> None:
    for number in (1, 2):
        soft(store, campaign(store, number))
        assert status(store) == "active"
    soft(store, campaign(store, 3))
    assert status(store) == "bounced"


def test_two_bounces_of_one_message_count_once(store: Store) -> None:
    first, second, _ = (campaign(store, n) for n in (1, 2, 3))
    soft(store, first, 0)
    soft(store, first, 1)
    soft(store, second)
    assert status(store) == "active"  # two of the last three campaigns, not three


def test_a_campaign_that_never_reached_them_does_not_break_the_row(store: Store) -> None:
    soft(store, campaign(store, 1))
    campaign(store, 2, outcome="failed")  # SES never took it: no evidence either way
    soft(store, campaign(store, 3))
    soft(store, campaign(store, 4))
    assert status(store) == "bounced"


def test_a_dry_run_is_not_a_campaign_in_the_row(store: Store) -> None:
    soft(store, campaign(store, 1))
    soft(store, campaign(store, 2))
    campaign(store, 3, dry_run=True)
    soft(store, campaign(store, 4))
    assert status(store) == "bounced"


def test_a_delivery_in_between_resets_nothing_but_a_clean_campaign_does(store: Store) -> None:
    soft(store, campaign(store, 1))
    soft(store, campaign(store, 2))
    campaign(store, 3)  # delivered: no bounce
    soft(store, campaign(store, 4))
    soft(store, campaign(store, 5))
    assert status(store) == "active"
    soft(store, campaign(store, 6))
    assert status(store) == "bounced"


def test_a_permanent_bounce_after_an_unsubscribe_still_suppresses(store: Store) -> None:
    message_id = campaign(store, 1)
    lib.unsubscribe(store, READER)  # from everything: the person is `unsubscribed`
    with store.begin(AudienceTx, write=False) as tx:
        before = tx.subscriber_by_key(READER)
    assert before is not None and before.status == "unsubscribed"
    process(store, bounce_permanent(ses_message_id=message_id, recipient=READER))
    with store.begin(AudienceTx, write=False) as tx:
        after = tx.subscriber_by_key(READER)
    assert after is not None and after.status == "bounced"
    assert after.updated_at > before.updated_at


def test_a_recorded_event_keeps_what_it_said(store: Store) -> None:
    message_id = campaign(store, 1)
    event = bounce_permanent(ses_message_id=message_id, recipient=READER)
    process(store, event)
    url = url_of(store)
    row = db.rows(
        "SELECT e.message_id, e.subscriber_id, e.bounce_type, e.bounce_subtype, e.occurred_at,"
        " s.email FROM events e JOIN subscribers s ON s.id = e.subscriber_id",
        url=url,
    )
    assert len(row) == 1
    stored_id, _, bounce_type, subtype, occurred, email = row[0]
    assert (stored_id, bounce_type, email) == (message_id, "Permanent", READER)
    assert subtype == event["bounce"]["bounceSubType"]
    assert occurred is not None  # when SES says it bounced, kept apart from when it arrived
    # A delivery event for the same message is recorded against the same person.
    process(store, delivery(ses_message_id=message_id, recipient=READER))
    assert db.one("SELECT COUNT(DISTINCT subscriber_id) FROM events", url=url) == 1
