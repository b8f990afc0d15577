"""A row left `unknown` (the answer lost, the sender killed) is settled by SES's own record:
an event of the message, which names the row in its `delivery` tag, records it as sent, so
that --retry-unknown never sends it twice. Events that do not prove it change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.sending import (
    Cli,
    by_status,
    campaign,
    deliveries,
    ingest_events,
    make_list,
    ok,
    people,
    received,
    refused,
    send,
    ses_events,
)
from tests.support.ses_stub import SesStub

MEMBERS = people(3)
LOST = MEMBERS[0][0]


@pytest.fixture
def lost_one(cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A campaign whose first message SES took but whose answer was lost: `unknown`."""
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")  # resend at once if unsettled
    make_list(cli, "weekly", MEMBERS)
    stub.script = ["lost"]
    ok(send(cli, "--concurrency", "1"))
    assert by_status(deliveries(), "unknown") == {LOST}
    (taken,) = stub.accepted_to(LOST)
    return ses_events([taken], kinds=("Send",))[0]


@pytest.mark.parametrize("kind", ["Send", "Delivery", "Bounce", "Complaint"])
def test_an_event_of_the_message_settles_the_unknown_row_and_nothing_is_resent(
    cli: Cli, stub: SesStub, lost_one: dict[str, Any], kind: str
) -> None:
    (taken,) = stub.accepted_to(LOST)
    (event,) = ses_events([taken], kinds=(kind,))
    result = ingest_events(cli, [event])
    assert f"unknown -> sent (a {kind} event)" in result.stderr + result.stdout
    row = deliveries()[LOST]
    assert row["status"] == "sent" and row["message_id"] == taken.message_id
    assert "settled by SES's own record" in row["error"]

    result = refused(send(cli, "--retry-unknown"), "nothing to send")
    assert "1 message(s) left 'unknown' were settled by SES's own record" in result.stderr
    assert received(stub) == dict.fromkeys((m[0] for m in MEMBERS), 1)


def _other_campaign(event: dict[str, Any]) -> None:
    found = campaign()
    assert found is not None
    event["mail"]["tags"]["campaign"] = [f"issue-25-{found.id + 1}"]


def _other_recipient(event: dict[str, Any]) -> None:
    event["mail"]["destination"] = [MEMBERS[1][0]]


def _no_delivery_tag(event: dict[str, Any]) -> None:
    del event["mail"]["tags"]["delivery"]


def _not_a_number(event: dict[str, Any]) -> None:
    event["mail"]["tags"]["delivery"] = ["１"]  # a full-width digit: not an id


def _a_huge_number(event: dict[str, Any]) -> None:
    event["mail"]["tags"]["delivery"] = ["9" * 40]


def _tags_not_lists(event: dict[str, Any]) -> None:
    event["mail"]["tags"] = "delivery=1"


def _a_rejected_message(event: dict[str, Any]) -> None:
    event["eventType"] = "Reject"  # SES refused it: not sent
    event["reject"] = event.pop("send")


def _an_open_without_a_message_id(event: dict[str, Any]) -> None:
    del event["mail"]["messageId"]


@pytest.mark.parametrize(
    "change",
    [
        _other_campaign,
        _other_recipient,
        _no_delivery_tag,
        _not_a_number,
        _a_huge_number,
        _tags_not_lists,
        _a_rejected_message,
        _an_open_without_a_message_id,
    ],
)
def test_an_event_that_does_not_prove_the_row_sent_leaves_it_unknown(
    cli: Cli, stub: SesStub, lost_one: dict[str, Any], change: Any
) -> None:
    change(lost_one)
    ingest_events(cli, [lost_one])
    assert by_status(deliveries(), "unknown") == {LOST}
    result = ok(send(cli, "--retry-unknown"))
    assert "sending again: 1 unknown" in result.stderr
    assert received(stub)[LOST] == 2  # resent, as asked: nothing proved SES took it


def test_an_unknown_row_waits_for_its_events_before_it_is_resent(
    cli: Cli, stub: SesStub, lost_one: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "600")
    result = refused(send(cli, "--retry-unknown"), "1 'unknown' message(s) are held back until")
    assert "unknown_settle_seconds" in result.stderr
    assert received(stub)[LOST] == 1
    ingest_events(cli, [lost_one])  # SES's record arrives within the wait
    refused(send(cli, "--retry-unknown"), "nothing to send")
    assert received(stub)[LOST] == 1
