"""Unsubscribe tokens: they round-trip, and nothing but our own signature passes."""

from __future__ import annotations

import base64
import struct

import pytest

from pipeline.audience.tokens import make_token, unsubscribe_url, verify_token
from pipeline.errors import InputError

SECRET = b"test-secret-key-0123456789abcdef"


def _flip(token: str, index: int) -> str:
    """The same token with one character changed (still valid base64url)."""
    swapped = "B" if token[index] != "B" else "C"
    return token[:index] + swapped + token[index + 1 :]


def test_round_trip() -> None:
    token = make_token(SECRET, 42, 7)
    assert verify_token(SECRET, token) == (42, 7)
    assert verify_token(SECRET, make_token(SECRET, 2**63 - 1, 1)) == (2**63 - 1, 1)


def test_url_safe_and_distinct() -> None:
    token = make_token(SECRET, 1, 1)
    assert token.isascii() and all(c.isalnum() or c in "-_" for c in token)
    tokens = {make_token(SECRET, s, n) for s in range(1, 30) for n in range(1, 4)}
    assert len(tokens) == 29 * 3


def test_signature_is_at_least_128_bits() -> None:
    raw = base64.urlsafe_b64decode(make_token(SECRET, 1, 2))
    assert len(raw) - 17 >= 16  # 17 bytes of payload (version + two ids), the rest is the tag


def test_forged_with_another_key_is_refused() -> None:
    forged = make_token(b"not-our-secret-key-0123456789", 42, 7)
    with pytest.raises(InputError, match="not valid"):
        verify_token(SECRET, forged)


@pytest.mark.parametrize("index", [0, 5, 12, 20, 30, 43])
def test_tampered_anywhere_is_refused(index: int) -> None:
    with pytest.raises(InputError):
        verify_token(SECRET, _flip(make_token(SECRET, 42, 7), index))


def test_token_for_another_list_cannot_be_made_by_editing_the_ids() -> None:
    token = make_token(SECRET, 42, 7)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[16] = 8  # list id 7 -> 8, signature untouched
    edited = base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(InputError):
        verify_token(SECRET, edited)
    assert verify_token(SECRET, make_token(SECRET, 42, 8)) == (42, 8)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "A" * 44,
        "A" * 43 + "=",
        "A" * 60,
        make_token(SECRET, 1, 1)[:-1],
        make_token(SECRET, 1, 1) + "A",
        make_token(SECRET, 1, 1).replace("A", "+", 1),  # not URL-safe base64
        "é" * 44,
    ],
)
def test_malformed_is_refused(token: str) -> None:
    with pytest.raises(InputError):
        verify_token(SECRET, token)


def test_unsubscribe_url() -> None:
    assert unsubscribe_url("https://weekly.example.com", "TOKEN") == (
        "https://weekly.example.com/unsubscribe/TOKEN"
    )
    assert unsubscribe_url("https://x.example/", "T") == "https://x.example/unsubscribe/T"


def test_a_subscribers_token_never_looks_like_a_test_token() -> None:
    from pipeline.audience.tokens import looks_like_test_token, make_test_token

    for subscriber_id, list_id in [(1, 1), (2**31, 7), (2**63 - 1, 2**31 - 1)]:
        assert not looks_like_test_token(make_token(SECRET, subscriber_id, list_id))
    assert looks_like_test_token(make_test_token(SECRET, 25))
    assert not looks_like_test_token("")


def test_the_messages_say_what_to_do() -> None:
    from pipeline.audience.tokens import make_test_token, verify_test_token

    with pytest.raises(InputError) as refused:
        verify_token(SECRET, "not-a-token")
    assert "not valid" in refused.value.message
    assert refused.value.hint and "copy the whole link" in refused.value.hint
    with pytest.raises(InputError) as refused:
        verify_test_token(SECRET, make_test_token(b"another key", 25))
    assert "test-copy link is not valid" in refused.value.message
    assert refused.value.hint and "send-test" in refused.value.hint
    for make in (lambda: make_token(b"", 1, 1), lambda: make_test_token(b"", 1)):
        with pytest.raises(ValueError, match="empty secret"):
            make()


def test_unsubscribe_url_keeps_a_path_that_ends_in_letters() -> None:
    assert unsubscribe_url("https://x.example/BOX/", "T") == "https://x.example/BOX/unsubscribe/T"


@pytest.mark.parametrize("number", [0, 1, 25, 128, 999_999, 2**63 - 1])
def test_a_test_token_names_its_issue_whatever_its_number(number: int) -> None:
    from pipeline.audience.tokens import make_test_token, verify_test_token

    assert verify_test_token(SECRET, make_test_token(SECRET, number)) == number


PINNED_SECRET = b"pinned-secret-key-0123456789abcdef"


def test_each_kind_of_token_keeps_its_exact_bytes() -> None:
    """Links already in readers' mailboxes must keep working: these tokens were made by the
    code that sent them, and any change to a kind's format fails here."""
    from datetime import UTC, datetime, timedelta

    from pipeline.audience.tokens import (
        ConfirmLink,
        make_confirm_token,
        make_test_token,
        verify_confirm_token,
        verify_test_token,
    )

    unsubscribe = "AQAAAAAAAAAqAAAAAAAAAAdvvZMY9NBrWd01Pa1YcZLa"
    assert make_token(PINNED_SECRET, 42, 7) == unsubscribe
    assert verify_token(PINNED_SECRET, unsubscribe) == (42, 7)
    large = "AYAAAAAAAAAFAAAAAQAAAAFeJmqKZDCpQkcwnnn-8Xi9"  # ids 2^63 + 5 and 2^32 + 1
    assert base64.urlsafe_b64decode(large)[:17] == struct.pack(">BQQ", 1, 2**63 + 5, 2**32 + 1)
    with pytest.raises(InputError):  # signed by us, but no store holds such an id
        verify_token(PINNED_SECRET, large)
    test_copy = "dAAAAAAAAAAZ7MzDZWa_vopHQM52RqC_uKkO"
    assert make_test_token(PINNED_SECRET, 25) == test_copy
    assert verify_test_token(PINNED_SECRET, test_copy) == 25
    issued = datetime(2024, 3, 5, 9, 12, 44, tzinfo=UTC)
    confirm = "YwAAAAAAAATSAAAAAGXm4gww2L4fFlbI9VqJ-JIu5yhF7SIO"
    assert make_confirm_token(PINNED_SECRET, 1234, issued) == confirm
    week = {"now": issued + timedelta(days=1), "max_age": timedelta(days=7)}
    assert verify_confirm_token(PINNED_SECRET, confirm, **week) == ConfirmLink(1234, issued)
    # Links that name their email (outbox row 56): the kind sent since.
    email = "QwAAAAAAAATSAAAAAAAAADgAAAAAZebiDOLD1YtLyuUYM_yGEtK6Pzvz0OKj"
    assert make_confirm_token(PINNED_SECRET, 1234, issued, 56) == email
    assert verify_confirm_token(PINNED_SECRET, email, **week) == ConfirmLink(1234, issued, 56)
