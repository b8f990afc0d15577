"""Tokens at their edges, found by mutating tokens.py and closing what survived: the purpose
in the HMAC, the version byte, and what a token may not be made from."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

import pytest

from pipeline.audience.tokens import (
    make_test_token,
    make_token,
    verify_test_token,
    verify_token,
)
from pipeline.errors import InputError

SECRET = b"edge-test-secret-key-0123456789"


def _encode(payload: bytes, tag: bytes) -> str:
    return base64.urlsafe_b64encode(payload + tag).decode("ascii")


def test_an_hmac_of_the_same_ids_made_for_another_purpose_is_not_a_token() -> None:
    """The key may sign other things later; a plain HMAC of the payload must not pass."""
    payload = struct.pack(">BQQ", 1, 7, 3)
    plain = hmac.new(SECRET, payload, hashlib.sha256).digest()[:16]
    with pytest.raises(InputError):
        verify_token(SECRET, _encode(payload, plain))
    test_payload = struct.pack(">BQ", 0x74, 25)
    plain = hmac.new(SECRET, test_payload, hashlib.sha256).digest()[:18]
    with pytest.raises(InputError):
        verify_test_token(SECRET, _encode(test_payload, plain))


def test_a_token_of_another_version_or_kind_is_refused_even_when_signed_by_us() -> None:
    token = make_token(SECRET, 7, 3)
    assert verify_token(SECRET, token) == (7, 3)
    payload = struct.pack(">BQQ", 2, 7, 3)  # a future version, signed with our key
    tag = hmac.new(SECRET, b"newsletter/unsubscribe\x00" + payload, hashlib.sha256).digest()
    with pytest.raises(InputError):
        verify_token(SECRET, _encode(payload, tag[:16]))
    payload = struct.pack(">BQ", 0x75, 25)  # another kind, in a test token's shape
    tag = hmac.new(SECRET, b"newsletter/test-copy\x00" + payload, hashlib.sha256).digest()
    with pytest.raises(InputError):
        verify_test_token(SECRET, _encode(payload, tag[:18]))


@pytest.mark.parametrize("make", [lambda: make_token(b"", 1, 1), lambda: make_test_token(b"", 1)])
def test_an_empty_secret_signs_nothing(make) -> None:
    with pytest.raises(ValueError, match="empty secret"):
        make()


@pytest.mark.parametrize("number", [-1, 2**63, 2**64])
def test_a_test_token_needs_an_issue_number_that_fits(number: int) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        make_test_token(SECRET, number)
