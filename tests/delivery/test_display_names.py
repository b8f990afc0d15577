"""A subscriber's name is shown as the text they typed: an RFC 2047 encoded word, a quote,
a comma or an angle bracket in it is text, never decoded by a mail client into another
address, a line break or a bidirectional override.

Each header is parsed back the way a mail client would (`email.message_from_bytes` with
the default policy, which decodes encoded words), from the request SES receives, from the
.eml a publisher previews and from the confirmation of a signup."""

from __future__ import annotations

import base64
from email import message_from_bytes, quoprimime
from email.policy import default
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.audience.cleaning import clean_name
from pipeline.delivery.transports.ses import build_request
from pipeline.errors import InputError
from pipeline.issue.build import build
from pipeline.issue.message import Addressee, personalise, to_mime
from pipeline.issue.render import Rendered
from pipeline.issue.transactional import confirmation
from pipeline.settings import Settings, load_settings
from tests.support.properties import examples
from tests.support.sending import ISSUE, Cli, make_list, ok, received, send
from tests.support.ses_stub import SesStub

VICTIM = "victim@evil.example"


def b_word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def q_word(text: str) -> str:
    return quoprimime.header_encode(text.encode(), "utf-8")


# What an encoded word can hide: another address, a line break, a bidi override, a quote.
HIDDEN = [f"Boss <{VICTIM}>", f"x\r\nBcc: {VICTIM}", "\u202eevil", '"', "a, b", "홍길동"]
ENCODED_NAMES = [
    b_word(f"Boss <{VICTIM}>"),
    f"Kim {q_word(chr(10) + 'Bcc: ' + VICTIM)} Lee",
    f'"{b_word(chr(0x202E) + "gnp.exe")}"',
    f"{b_word('a')} {b_word('b')}",
    "=?x?= =?",
]


def header_mailboxes(header: str, value: str) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox, as a mail client reads the header."""
    parsed = message_from_bytes(f"{header}: {value}\r\n\r\n".encode("ascii"), policy=default)
    return [(a.display_name, a.addr_spec) for a in parsed[header].addresses]


@cache
def _settings() -> Settings:
    return load_settings()


@cache
def _rendered() -> Rendered:
    result = build(ISSUE, _settings())
    assert result.rendered is not None
    return result.rendered


fragments = st.one_of(
    st.text(max_size=8),
    st.sampled_from(['"', "\\", ",", "<", ">", "@", ";", ":", "(", ")", "=?", "?=", " ", "."]),
    st.sampled_from(["\r\n", "\x00", "\t", "\u202e", "\u2066", "\u200f", "\x1b[31m", "홍"]),
    st.sampled_from(HIDDEN).map(b_word),
    st.sampled_from(HIDDEN).map(q_word),
    st.text(max_size=6).map(b_word),
)


@hypothesis_settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(raw=st.lists(fragments, max_size=8).map("".join))
@pytest.mark.single_backend  # never opens the store
def test_a_name_is_shown_as_typed_in_every_header_that_carries_it(project: Path, raw: str) -> None:
    try:
        name = clean_name(raw).name  # what the store keeps of what was typed
    except InputError:
        return
    assume(name)
    assert name is not None
    email = "reader@example.com"
    settings = _settings()
    message = personalise(_rendered(), Addressee(email, name, "https://x.example/u/t"), settings)
    request = build_request(message, {"campaign": "issue-25-1"})
    (to,) = request["Destination"]["ToAddresses"]
    assert to.isascii() and to.isprintable()
    assert header_mailboxes("To", to) == [(name, email)]

    eml = message_from_bytes(to_mime(message).as_bytes(), policy=default)
    assert [(a.display_name, a.addr_spec) for a in eml["To"].addresses] == [(name, email)]

    confirm = confirmation(settings, email=email, name=name, lists=[], confirm_url="https://x/c")
    (to,) = build_request(confirm, {})["Destination"]["ToAddresses"]
    assert header_mailboxes("To", to) == [(name, email)]


def test_names_with_encoded_words_reach_ses_as_text(cli: Cli, stub: SesStub) -> None:
    members = [(f"reader{i}@example.com", name) for i, name in enumerate(ENCODED_NAMES)]
    make_list(cli, "weekly", members)
    ok(send(cli))
    assert received(stub) == {email: 1 for email, _ in members}
    names = dict(members)
    for message in stub.accepted:
        (to,) = message.to
        ((shown, address),) = header_mailboxes("To", to)
        assert shown == names[address]
        assert message.recipient_addresses == [address]
