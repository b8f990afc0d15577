"""A confirmation link confirms exactly the signup requests its email was sent for: not a
list a stranger asked for after it went out, not a request the reader withdrew; a later
request gets an email of its own. And a name typed on the form is nobody's until the
address confirms: never in the confirmation's To:, and the owner's own name wins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.audience import confirmation, preferences, signup
from pipeline.audience.tokens import make_confirm_token
from pipeline.db import Store
from pipeline.delivery import outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports.ses import SesTransport
from pipeline.settings import Settings, load_settings
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.sending import ok
from tests.support.ses_stub import SesStub
from tests.support.signup import write_welcome

READER = "reader@example.com"
SECRET = TEST_SECRET.encode()
_LINK = re.compile(r"/confirm/([A-Za-z0-9_-]+)")


@pytest.fixture
def store(project: Path, cli, store: Store) -> Store:
    ok(cli("lists", "create", "weekly", "--public"))
    ok(cli("lists", "create", "announcements", "--public"))
    return store


def _ask(store: Store, settings: Settings, *lists: str, ip: str, name: str | None = None) -> None:
    fields = {"email": [READER], "list": list(lists), **({"name": [name]} if name else {})}
    client = signup.Client(ip, "agent")
    assert signup.receive(store, settings, fields, client) is signup.Received.accepted


def _pass(store: Store, settings: Settings, now: datetime | None = None) -> outbox.Sent:
    processed = signup.process(store, settings, now=now)
    done = outbox.send_outbox(store, settings, SesTransport(), pace=Pace(1000))
    done.processed = processed
    return done


def _token(stub: SesStub) -> str:
    text = stub.accepted_to(READER)[-1].text or ""
    (token,) = set(_LINK.findall(text))
    return token


def _memberships() -> dict[str, str]:
    rows = db.rows("SELECT l.name, m.status FROM memberships m JOIN lists l ON l.id = m.list_id")
    return {name: status for name, status in rows}


def _confirmed_ips() -> set[str]:
    return {r[0] for r in db.rows("SELECT ip FROM consents WHERE confirmed_at IS NOT NULL")}


@pytest.mark.parametrize("later", ["announcements", "weekly"], ids=["another list", "same list"])
def test_a_request_after_the_email_went_out_is_not_confirmed_by_it(
    store: Store, stub: SesStub, later: str
) -> None:
    settings = load_settings()
    _ask(store, settings, "weekly", ip="192.0.2.1")
    assert _pass(store, settings).sent == 1
    token = _token(stub)
    _ask(store, settings, later, ip="198.51.100.66")  # a stranger, after the email
    assert _pass(store, settings).processed.outcomes == [
        "confirmation sent within the period: no mail"
    ]
    shown = confirmation.pending(store, settings, SECRET, token)
    assert shown.lists == ["weekly"]
    done = confirmation.confirm(store, settings, SECRET, token)
    assert done.lists == ["weekly"]
    assert _confirmed_ips() == {"192.0.2.1"}, "the stranger's request is not confirmed"
    if later == "weekly":
        return  # the reader is subscribed now: the stranger's request asks for nothing more
    assert _memberships() == {"weekly": "subscribed", "announcements": "unconfirmed"}
    # The later request gets an email of its own once the period allows one.
    _ask(store, settings, later, ip="198.51.100.66")
    assert _pass(store, settings, now=datetime.now(UTC) + timedelta(hours=25)).sent == 1
    second = confirmation.confirm(store, settings, SECRET, _token(stub))
    assert second.lists == [later]
    assert "198.51.100.66" in _confirmed_ips()


def test_a_list_left_before_confirming_is_not_joined_by_the_link(
    store: Store, stub: SesStub
) -> None:
    settings = load_settings()
    _ask(store, settings, "weekly", "announcements", ip="192.0.2.1")
    _pass(store, settings)
    token = _token(stub)
    person, weekly, announcements = (
        db.one("SELECT id FROM subscribers"),
        db.one("SELECT id FROM lists WHERE name = 'weekly'"),
        db.one("SELECT id FROM lists WHERE name = 'announcements'"),
    )
    preferences.leave(store, person, weekly, announcements)  # on the preference page
    assert confirmation.pending(store, settings, SECRET, token).lists == ["weekly"]
    assert confirmation.confirm(store, settings, SECRET, token).lists == ["weekly"]
    assert _memberships() == {"weekly": "subscribed", "announcements": "unsubscribed"}


def test_a_link_sent_before_links_named_their_email_confirms_what_existed_then(
    store: Store,
) -> None:
    """Old links still in mailboxes keep working for the requests made before them."""
    settings = load_settings()
    sent_at = datetime.now(UTC) - timedelta(hours=1)
    _ask(store, settings, "weekly", ip="192.0.2.1")
    db.execute("UPDATE signup_requests SET received_at = ?", sent_at - timedelta(minutes=1))
    signup.process(store, settings)
    old_link = make_confirm_token(SECRET, db.one("SELECT id FROM subscribers"), sent_at)
    _ask(store, settings, "announcements", ip="198.51.100.66")  # after the old link
    signup.process(store, settings)
    assert confirmation.confirm(store, settings, SECRET, old_link).lists == ["weekly"]
    assert _memberships() == {"weekly": "subscribed", "announcements": "unconfirmed"}


HOSTILE_NAMES = [
    "Evil Stranger",
    "x" * 200,
    "=?UTF-8?B?YWRtaW5AZXhhbXBsZS5jb20=?=",
    "Support \u202egnp.exe",
    '"Bank" <security@bank.example>',
]


@pytest.mark.parametrize("typed", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_name_typed_by_a_stranger_is_not_the_readers(
    store: Store, stub: SesStub, tmp_path: Path, typed: str
) -> None:
    settings = load_settings(welcome=str(write_welcome(tmp_path)))
    _ask(store, settings, "weekly", ip="198.51.100.66", name=typed)  # a stranger
    _pass(store, settings)
    (mail,) = stub.accepted_to(READER)
    assert mail.to_decoded == [READER], "nothing a stranger typed in the To: header"
    assert db.one("SELECT name FROM subscribers") is None
    # The owner signs up later with their own name, and confirms with the email they got.
    _ask(store, settings, "weekly", ip="192.0.2.1", name="김독자")
    _pass(store, settings)
    confirmation.confirm(store, settings, SECRET, _token(stub))
    assert db.one("SELECT name FROM subscribers") == "김독자"
    _pass(store, settings)
    welcomed = stub.accepted_to(READER)[-1]
    assert welcomed.subject == "환영합니다: Article Weekly" and "김독자" in welcomed.to_decoded[0]
    assert typed not in " ".join(welcomed.to_decoded)
