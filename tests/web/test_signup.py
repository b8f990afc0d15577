"""Signup with double opt-in over real HTTP on 127.0.0.1, the mail going through the
fault-injecting SES stub: the form, the confirmation that arrives, its link, the welcome,
and a campaign that reaches only confirmed people; then each abuse rule."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pipeline.audience import signup
from pipeline.audience.tokens import make_confirm_token
from pipeline.delivery import outbox
from pipeline.delivery.transports.ses import SesTransport
from tests.support import db
from tests.support import signup as signup_support
from tests.support.cli import TEST_SECRET
from tests.support.sending import ok, send
from tests.support.ses_stub import SesStub
from tests.support.signup import SignupSite, make_public_lists, start_site, write_welcome

NEW = "new.reader@example.com"
CHECK_INBOX = "메일함을 확인해 주세요"


ses_stub_options = signup_support.ses_stub_options


@pytest.fixture
def site(project: Path, cli, serve_app, stub: SesStub) -> Iterator[SignupSite]:
    make_public_lists()
    welcome = write_welcome(project)
    running = start_site(serve_app, stub, welcome=str(welcome))
    yield running
    running.store.close()


def test_signup_confirm_welcome_and_a_campaign_for_confirmed_people_only(
    site: SignupSite, cli
) -> None:
    ok(cli("subscribers", "add", "old@example.com", "--list", "weekly"))
    response = site.post(NEW, "weekly", "announcements", name="새 독자")
    assert response.status_code == 200 and CHECK_INBOX in response.text
    assert site.post("lazy@example.com", "weekly").status_code == 200  # never confirms
    assert site.membership(NEW) is None, "the web answer only stores the request"

    done = site.run()
    assert (done.processed.handled, done.processed.confirmations, done.sent) == (2, 2, 2)
    (confirmation,) = site.messages_to(NEW)
    assert confirmation.subject == "Article Weekly 구독을 확인해 주세요"
    assert "List-Unsubscribe" not in confirmation.headers, "a confirmation is transactional"
    assert "List-Unsubscribe-Post" not in confirmation.headers
    assert confirmation.html and confirmation.text
    assert "구독 확인하기" in confirmation.html and "announcements" in confirmation.text
    # The name typed on the form is not the person's until the address confirms it.
    assert confirmation.to_decoded == [NEW]
    assert site.membership(NEW) == "unconfirmed"
    assert site.membership(NEW, "announcements") == "unconfirmed"
    assert ok(cli("lists", "--format", "json")).stdout.count('"unconfirmed": 2') == 1

    link = site.confirmation_link(NEW)
    page = httpx.get(link)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    assert site.membership(NEW) == "unconfirmed", "opening the link alone confirms nothing"

    confirmed = httpx.post(link, data={"action": "confirm"})
    assert confirmed.status_code == 200 and "구독이 확인되었습니다" in confirmed.text
    assert site.membership(NEW) == "subscribed"
    assert site.membership(NEW, "announcements") == "subscribed"
    again = httpx.post(link, data={"action": "confirm"})
    assert again.status_code == 200 and "이미 확인되었습니다" in again.text

    site.run()
    welcome = [m for m in site.messages_to(NEW) if m.subject == "환영합니다: Article Weekly"]
    assert len(welcome) == 1, "one welcome, however many times the link is used"
    assert "/unsubscribe/" in welcome[0].headers["List-Unsubscribe"]
    assert "새 독자" in welcome[0].to_decoded[0], "confirmed: the name is theirs now"
    assert [row[:3] for row in site.outbox() if row[1] == NEW] == [
        ("confirmation", NEW, "sent"),
        ("welcome", NEW, "sent"),
    ]
    site.run()
    assert len(site.messages_to(NEW)) == 2, "nothing is sent twice"

    record = ok(cli("subscribers", "show", NEW, "--format", "json")).stdout
    assert '"method": "form"' in record and '"ip": "127.0.0.1"' in record
    assert "SignupTest/1.0" in record and '"confirmed_at": null' not in record

    site.stub.reset()
    ok(send(cli))
    assert set(site.stub.per_recipient()) == {NEW, "old@example.com"}


def _writes(site: SignupSite) -> list[str]:
    """Every write statement the app's store runs, recorded by the engine."""
    seen: list[str] = []

    @sa.event.listens_for(site.store.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement.split("(")[0].strip())

    return seen


def test_the_answer_is_the_same_whatever_the_address(site: SignupSite, cli) -> None:
    """New, pending, subscribed, unsubscribed, bounced and forgotten addresses get the same
    page, and the POST does the same writes, so nothing tells them apart."""
    ok(cli("subscribers", "add", "member@example.com", "--list", "weekly"))
    ok(cli("subscribers", "add", "left@example.com", "--list", "weekly"))
    ok(cli("subscribers", "unsubscribe", "left@example.com"))
    ok(cli("subscribers", "add", "bounced@example.com", "--list", "weekly"))
    db.execute(
        "UPDATE subscribers SET status = 'bounced' WHERE email_key = ?", "bounced@example.com"
    )
    ok(cli("subscribers", "add", "gone@example.com", "--list", "weekly"))
    ok(cli("subscribers", "forget", "gone@example.com"))
    site.post("pending@example.com", "weekly")
    site.run()

    writes = _writes(site)
    answers = {}
    for email in (NEW, "pending@example.com", "member@example.com", "left@example.com",
                  "bounced@example.com", "gone@example.com"):  # fmt: skip
        before = len(writes)
        response = site.post(email, "weekly")
        answers[email] = (response.status_code, response.text, writes[before:])
    first = answers[NEW]
    assert first[0] == 200 and CHECK_INBOX in first[1]
    assert len(first[2]) == 2, first[2]  # the IP's counter and the request
    for email, answer in answers.items():
        assert answer == first, email


def test_one_confirmation_per_period_however_many_signups(site: SignupSite) -> None:
    for _ in range(5):
        assert site.post(NEW, "weekly").status_code == 200
    site.post(NEW, "announcements")
    done = site.run()
    assert done.processed.handled == 6 and done.sent == 1
    assert len(site.messages_to(NEW)) == 1
    assert site.membership(NEW, "announcements") == "unconfirmed"
    # a consent per list, not per repeated click
    assert site.count("consents") == 2

    site.post(NEW, "weekly")
    later = datetime.now(UTC) + timedelta(hours=25)  # the period (24 h) has passed
    processed = signup.process(site.store, site.settings, now=later)
    assert processed.confirmations == 1
    outbox.send_outbox(site.store, site.settings, SesTransport())
    assert len(site.messages_to(NEW)) == 2


def test_the_ip_limit_holds_across_two_app_instances(
    project: Path, serve_app, stub: SesStub
) -> None:
    """Two apps over one database, as two web workers (or machines) would be."""
    make_public_lists()
    first = start_site(serve_app, stub, signup_ip_limit=3)
    second = start_site(serve_app, stub, signup_ip_limit=3)
    try:
        codes = [
            (first if n % 2 else second).post(f"r{n}@example.com", "weekly").status_code
            for n in range(6)
        ]
        assert codes == [200, 200, 200, 429, 429, 429]
        limited = first.post("late@example.com", "weekly")
        assert "잠시 후에 다시 시도해 주세요" in limited.text
        assert limited.headers["retry-after"] == "3600"
        assert first.count("signup_requests") == 3
    finally:
        first.store.close()
        second.store.close()


def test_the_honeypot_stores_nothing_and_answers_the_same(site: SignupSite) -> None:
    human = site.post("human@example.com", "weekly")
    bot = site.post(NEW, "weekly", website="https://spam.example")
    assert (bot.status_code, bot.text) == (human.status_code, human.text)
    assert site.count("signup_requests") == 1
    assert site.run().sent == 1
    assert site.messages_to(NEW) == []


@pytest.mark.parametrize("status", ["bounced", "complained"])
def test_a_bounced_or_complained_address_gets_no_mail(site: SignupSite, cli, status: str) -> None:
    ok(cli("subscribers", "add", NEW, "--list", "announcements"))
    db.execute("UPDATE subscribers SET status = ? WHERE email_key = ?", status, NEW)
    assert site.post(NEW, "weekly").status_code == 200
    done = site.run()
    assert done.processed.outcomes == [f"{status}: no mail"]
    assert site.stub.accepted == [] and site.count("outbox") == 0
    assert site.membership(NEW) is None


def test_a_forgotten_address_gets_no_mail(site: SignupSite, cli) -> None:
    ok(cli("subscribers", "add", NEW, "--list", "weekly"))
    ok(cli("subscribers", "forget", NEW))
    site.post(NEW, "weekly")
    assert site.run().processed.outcomes == ["forgotten: no mail"]
    assert site.stub.accepted == [] and site.count("subscribers") == 0


def test_an_unsubscribed_reader_may_sign_up_again_and_confirm(site: SignupSite, cli) -> None:
    ok(cli("subscribers", "add", NEW, "--list", "weekly"))
    ok(cli("subscribers", "unsubscribe", NEW))  # from everything
    site.post(NEW, "weekly")
    site.run()
    # a stranger's signup must not erase the unsubscribe: it stands until the link is used
    assert site.membership(NEW) == "unsubscribed"
    link = site.confirmation_link(NEW)
    assert httpx.post(link, data={"action": "confirm"}).status_code == 200
    assert site.membership(NEW) == "subscribed"
    assert db.one("SELECT status FROM subscribers WHERE email_key = ?", NEW) == "active"


def test_forged_and_expired_links_change_nothing(site: SignupSite) -> None:
    site.post(NEW, "weekly")
    site.run()
    link = site.confirmation_link(NEW)
    token = link.rsplit("/", 1)[1]
    forged = link[: -len(token)] + token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    subscriber_id = db.one("SELECT id FROM subscribers WHERE email_key = ?", NEW)
    old = make_confirm_token(
        TEST_SECRET.encode(), subscriber_id, datetime.now(UTC) - timedelta(days=8)
    )
    expired = link[: -len(token)] + old
    for url, status, words in ((forged, 400, "잘못된 링크"), (expired, 410, "만료된 링크")):
        for method in (httpx.get, httpx.post):
            response = method(url)
            assert response.status_code == status and words in response.text
            assert "Traceback" not in response.text
    unsubscribe_shaped = site.base_url + "/confirm/" + "A" * 44
    assert httpx.post(unsubscribe_shaped).status_code == 400
    assert site.membership(NEW) == "unconfirmed"


def test_a_link_whose_signup_expired_says_so(site: SignupSite) -> None:
    site.post(NEW, "weekly")
    site.run()
    link = site.confirmation_link(NEW)
    long_ago = datetime.now(UTC) - timedelta(days=30)
    db.execute("UPDATE consents SET requested_at = ?", long_ago)
    for method in (httpx.get, httpx.post):
        response = method(link)
        assert response.status_code == 410 and "만료된 링크" in response.text
    assert site.membership(NEW) == "unconfirmed"


def test_get_never_confirms(site: SignupSite) -> None:
    site.post(NEW, "weekly")
    site.run()
    link = site.confirmation_link(NEW)
    for _ in range(3):  # a mail gateway, a preview, the reader
        assert httpx.get(link).status_code == 200
    assert site.membership(NEW) == "unconfirmed"
    assert db.one("SELECT count(*) FROM consents WHERE confirmed_at IS NOT NULL") == 0


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        # In the page's language, from the catalogue.
        ({"email": "not an address", "list": "weekly"}, "올바른 이메일 주소가 아닙니다"),
        ({"email": NEW, "list": "staff"}, "&#x27;staff&#x27; 목록은 구독할 수 없습니다"),
        ({"email": NEW, "list": "nope"}, "목록은 구독할 수 없습니다"),
        ({"email": NEW}, "받아 볼 목록을 하나 이상 골라 주세요"),
        ({"email": NEW, "list": "weekly", "name": "x" * 300}, "이름은 200자 이내"),
    ],
)
def test_a_bad_form_gets_the_form_again_with_the_problem(
    site: SignupSite, fields: dict[str, str], problem: str
) -> None:
    response = httpx.post(f"{site.base_url}/subscribe", data=fields)
    assert response.status_code == 400
    assert problem in response.text and 'name="email"' in response.text
    assert "Traceback" not in response.text
    assert site.count("signup_requests") == 0


def test_the_signup_page_offers_the_public_lists(site: SignupSite) -> None:
    page = httpx.get(f"{site.base_url}/subscribe")
    assert page.status_code == 200 and '<html lang="ko">' in page.text
    assert 'value="weekly"' in page.text and 'value="announcements"' in page.text
    assert "staff" not in page.text and "매주 토요일 아침" in page.text
    assert 'autocomplete="email"' in page.text and 'aria-hidden="true"' in page.text


def test_a_single_public_list_need_not_be_named(project: Path, cli, serve_app, stub) -> None:
    ok(cli("lists", "create", "weekly", "--public"))
    running = start_site(serve_app, stub)
    try:
        assert running.post(NEW).status_code == 200
        running.run()
        assert running.membership(NEW) == "unconfirmed"
    finally:
        running.store.close()


def test_a_welcome_that_does_not_build_fails_alone(project: Path, serve_app, stub) -> None:
    make_public_lists()
    broken = project / "broken.md"
    broken.write_text("no front matter at all\n", encoding="utf-8")
    running = start_site(serve_app, stub, welcome=str(broken))
    try:
        running.post(NEW, "weekly")
        running.run()
        assert httpx.post(running.confirmation_link(NEW)).status_code == 200
        running.run()
        (row,) = db.rows("SELECT status, error FROM outbox WHERE kind = 'welcome'")
        assert row[0] == "failed" and "welcome" in row[1]
        assert running.membership(NEW) == "subscribed"
    finally:
        running.store.close()


def test_env_is_clean() -> None:
    assert "NEWSLETTER_TEST_BACKENDS" not in os.environ
