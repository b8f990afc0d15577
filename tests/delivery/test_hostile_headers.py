"""Nothing a subscriber row holds reaches a mail header raw, and a row whose message
cannot be built fails alone: the campaign goes on, nothing prints a traceback, and a row
that never left is never `unknown`.

The rows are made hostile directly in the database, as a row stored before imports
cleaned names would be; the send goes through the real CLI to our SES stub, which keeps
every header it receives."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import getaddresses
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.delivery.transports.base import SendFailure
from pipeline.delivery.transports.ses import build_request
from pipeline.errors import RenderError
from pipeline.issue.build import build
from pipeline.issue.message import (
    WIRE,
    Addressee,
    HeaderError,
    Message,
    one_line,
    personalise,
    to_mime,
    wire_value,
)
from pipeline.issue.render import Rendered
from pipeline.settings import load_settings
from tests.support import db
from tests.support.properties import examples
from tests.support.sending import (
    ISSUE,
    Cli,
    assert_log_matches_stub,
    by_status,
    counts,
    deliveries,
    make_list,
    ok,
    people,
    received,
    refused,
    send,
)
from tests.support.ses_stub import AcceptedMessage, SesStub

VICTIM = "victim@evil.example"
HOSTILE_NAMES = [
    f"Evil\r\nBcc: {VICTIM}",
    f"Evil\nBcc: {VICTIM}",
    f"Evil\rBcc: {VICTIM}",
    f"홍길동\r\nBcc: {VICTIM}",
    f'"Quoted\r\n" <{VICTIM}>',
    "Tab\there",
    "\x1b[31mRed\x1b[0m",
    "NUL\x00inside",
    "Next line\x85C1",
    f"Comma, then <{VICTIM}>",
]
HEADERS = {"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"}


def set_rows(project: Path, column: str, values: dict[str, str]) -> None:
    """Write `column` of the subscribers named (by address) straight into the database."""
    for email, value in values.items():
        assert db.one("SELECT COUNT(*) FROM subscribers WHERE email = ?", email) == 1, email
        db.execute(f"UPDATE subscribers SET {column} = ? WHERE email = ?", value, email)


def assert_safe(message: AcceptedMessage, email: str) -> None:
    """One recipient, the intended one; every header on one printable ASCII line."""
    assert message.recipient_addresses == [email]
    assert message.cc == [] and message.bcc == []
    assert {name for name, _ in message.header_list} == HEADERS
    for name, value in message.header_list:
        assert value.isascii() and value.isprintable(), (name, value)
    for address in [*message.to, message.from_address or "", *message.reply_to]:
        assert address.isascii() and address.isprintable(), address


def test_hostile_names_in_the_database_go_out_on_one_line_to_their_one_recipient(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    # PostgreSQL's text cannot hold a NUL at all: that name can only exist on SQLite.
    names = [n for n in HOSTILE_NAMES if "\x00" not in n or db.engine().dialect.name == "sqlite"]
    members = people(len(names) + 2)
    make_list(cli, "weekly", members)
    hostile = {email: name for (email, _), name in zip(members, names, strict=False)}
    set_rows(project, "name", hostile)

    result = ok(send(cli, "--concurrency", "4"))

    assert f"campaign finished: {len(members)} sent" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert received(stub) == dict.fromkeys((m[0] for m in members), 1)
    assert stub.counts["bad_request"] == 0
    for message in stub.accepted:
        email = message.recipient_addresses[0]
        assert_safe(message, email)
        shown = str(make_header(decode_header(message.to[0])))
        if email in hostile:
            # The name is folded onto one line: what a reader sees, minus the break.
            assert one_line(hostile[email]) in shown.replace('\\"', '"')
        assert VICTIM not in [a.lower() for _, a in getaddresses(message.to)]
    assert all(VICTIM not in m.recipient_addresses for m in stub.accepted)


BAD_EMAILS = [
    f"broken@example.com\r\nBcc: {VICTIM}",
    f"two@example.com, {VICTIM}",
    "no-at-sign.example.com",
]


def test_a_row_whose_message_cannot_be_built_fails_alone_with_the_reason(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    members = people(8)
    make_list(cli, "weekly", members)
    bad = {members[i][0]: email for i, email in zip((1, 3, 5), BAD_EMAILS, strict=True)}
    set_rows(project, "email", bad)

    result = ok(send(cli, "--concurrency", "2"))

    assert "campaign finished: 5 sent, 3 failed" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "paused" not in result.stderr
    rows = deliveries()
    assert by_status(rows, "failed") == set(BAD_EMAILS)
    assert counts()["unknown"] == 0  # nothing that never left is uncertain
    for email in BAD_EMAILS:
        assert rows[email]["error"], email
        assert rows[email]["message_id"] is None
    good = {m[0] for m in members} - set(bad)
    assert received(stub) == dict.fromkeys(good, 1)
    assert all(m.bcc == [] and m.cc == [] for m in stub.accepted)
    assert_log_matches_stub(stub, rows)

    # --retry-failed tries exactly those again: the one fixed meanwhile goes out, once.
    db.execute("UPDATE deliveries SET email = ? WHERE email = ?", members[1][0], BAD_EMAILS[0])
    result = ok(send(cli, "--retry-failed"))
    assert "sending again: 3 failed" in result.stderr
    assert "campaign finished: 6 sent, 2 failed" in result.stderr
    assert received(stub) == dict.fromkeys([*good, members[1][0]], 1)
    refused(send(cli, "--retry-unknown"), "nothing to send", "--retry-failed")
    assert counts()["unknown"] == 0


def test_a_dry_run_fails_the_same_rows_and_sends_nothing(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    members = people(4)
    make_list(cli, "weekly", members)
    set_rows(project, "email", {members[0][0]: BAD_EMAILS[0]})
    set_rows(project, "name", {members[1][0]: HOSTILE_NAMES[0]})
    result = ok(send(cli, "--dry-run"))
    assert "campaign finished: 3 sent, 1 failed" in result.stderr
    assert by_status(deliveries(dry_run=True), "failed") == {BAD_EMAILS[0]}
    assert stub.counts["send_requests"] == 0


@pytest.mark.parametrize(
    ("to", "why"),
    [
        (f"Evil\r\nBcc: {VICTIM} <ed@example.com>", "a line break or control character"),
        (f"Evil\nBcc: {VICTIM} <ed@example.com>", "a line break or control character"),
        (f"ed@example.com, {VICTIM}", "holds 2 addresses; give one per --to"),
    ],
    ids=["crlf", "lf", "two-addresses"],
)
@pytest.mark.single_backend  # never opens the store
def test_a_hostile_test_copy_address_is_refused_before_anything_is_sent(
    cli: Cli, stub: SesStub, to: str, why: str
) -> None:
    refused(cli("send-test", ISSUE, "--to", "ok@example.com", "--to", to), why, "no test copy")
    assert stub.counts["send_requests"] == 0


# --- the property: whatever the name, the request is safe or refused --------------------------


@cache
def _rendered() -> Rendered:
    result = build(ISSUE, load_settings())
    assert result.rendered is not None
    return result.rendered


@hypothesis_settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.lists(
        st.one_of(
            st.characters(),  # any code point, lone surrogates too
            st.sampled_from(["\r", "\n", "\r\n", '"', "<", ">", ",", ";", "@", "=?", "?="]),
        ),
        max_size=40,
    ).map("".join),
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,15}", fullmatch=True).filter(
        lambda s: ".." not in s and not s.endswith(".")
    ),
)
@pytest.mark.single_backend  # never opens the store
def test_any_name_makes_a_request_with_one_recipient_and_one_line_headers(
    project: Path, name: str, local: str
) -> None:
    settings = load_settings()
    email = f"{local}@example.com"
    recipient = Addressee(email, name, "https://weekly.example.com/unsubscribe/abc")
    message = personalise(_rendered(), recipient, settings)
    try:
        request = build_request(message, {"campaign": "issue-25-1"})
    except SendFailure as failure:
        assert failure.kind == "permanent"
        return
    (to,) = request["Destination"]["ToAddresses"]
    assert to.isascii() and to.isprintable()
    assert [a for _, a in getaddresses([to])] == [email]
    for header in request["Content"]["Simple"]["Headers"]:
        assert header["Value"].isascii() and header["Value"].isprintable(), header
    shown = str(make_header(decode_header(to)))
    assert shown.endswith(f"<{email}>") or shown == email


@pytest.mark.parametrize(
    "field",
    ["subject", "to", "from_address", "reply_to", "List-Id", "List-Unsubscribe"],
)
@pytest.mark.single_backend  # never opens the store
def test_a_line_break_left_in_any_header_is_refused_before_ses(project: Path, field: str) -> None:
    """The last guard: whatever built the message, a header value with CR/LF never leaves."""
    hostile = f"x\r\nBcc: {VICTIM}"
    headers = {"List-Id": "Weekly <weekly.example.com>", "List-Unsubscribe": "<https://x/u>"}
    values = {
        "from_address": "Weekly <weekly@example.com>",
        "to": "reader@example.com",
        "subject": "Hello",
        "reply_to": "editors@example.com",
    }
    if field in headers:
        headers[field] = hostile
    else:
        values[field] = f"{hostile} <a@example.com>" if field != "subject" else hostile
    message = Message(html="<p>x</p>", text="x", headers=headers, **values)
    with pytest.raises(SendFailure) as caught:
        build_request(message, {})
    assert caught.value.kind == "permanent"


def test_the_plan_prints_a_subject_with_brackets_literally(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    subject = "Regex [a-z0-9-]+ and [bold]markup[/bold] [/]"
    text = ISSUE.read_text(encoding="utf-8")
    issue = project / "issues" / "brackets.md"
    issue.write_text(text.replace(text.splitlines()[4], f"subject: {subject!r}"), encoding="utf-8")
    make_list(cli, "weekly", people(1))
    result = ok(cli("send", issue, "--list", "weekly", "--yes", "--dry-run"))
    assert f"subject:    {subject}" in result.stderr


@hypothesis_settings(max_examples=examples(500), deadline=None)
@given(
    name=st.sampled_from(["List-Id", "List-Unsubscribe", "Subject"]),
    value=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1),
)
def test_a_header_value_is_written_as_the_email_package_writes_it(name: str, value: str) -> None:
    """The quick path for plain ASCII must agree with the header machinery, byte for byte."""
    folded = str(WIRE.header_factory(name, value).fold(policy=WIRE))
    expected = folded.removeprefix(f"{name}: ").removesuffix("\r\n")
    try:
        written = wire_value(name, value)
    except HeaderError:
        assert not expected.isprintable()
        return
    assert written == expected


@pytest.mark.parametrize("subject", ["Hello\r\nBcc: x@evil.example", "Hello\nWorld", "Bell\x07"])
@pytest.mark.single_backend  # never opens the store
def test_the_eml_of_a_message_with_a_broken_header_is_a_clean_render_error(
    project: Path, subject: str
) -> None:
    message = Message(
        from_address="Weekly <weekly@example.com>",
        to="reader@example.com",
        subject=subject,
        html="<p>x</p>",
        text="x",
    )
    with pytest.raises(RenderError) as caught:
        to_mime(message)
    assert "the Subject header cannot be written" in caught.value.message
