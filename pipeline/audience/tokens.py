"""Unsubscribe tokens: a signed (subscriber id, list id) pair, safe to put in a URL.

The payload holds only database ids, never the address, so a token cannot be guessed from
an email address; the 128-bit HMAC-SHA256 tag (keyed with NEWSLETTER_SECRET_KEY) means it
cannot be forged or altered either. The ids are readable, not secret: a token proves the
right to unsubscribe, nothing more. Changing the secret key invalidates old links.

Test copies (`send-test`) carry a test token instead: a signed issue number, for a link that
works for the tester and unsubscribes nobody. It can never pass for a subscriber's token,
nor one for it: another HMAC purpose, another kind byte and another length (36 characters,
not 44), so each verifier refuses the other's tokens on their shape alone.

Confirmation links (double opt-in) carry a third kind: a signed (subscriber id, issue time)
pair, under its own purpose and 48 characters long, which expires: `verify_confirm_token`
refuses it after the given age (`ExpiredLink`), and refuses any of the other two kinds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from datetime import UTC, datetime, timedelta

from pipeline.errors import InputError

_VERSION = 1
_PAYLOAD = struct.Struct(">BQQ")  # version, subscriber id, list id
_TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_TOKEN_BYTES = _PAYLOAD.size + _TAG_BYTES  # 33 bytes: exactly 44 base64 characters
_TOKEN = re.compile(r"[A-Za-z0-9_-]{44}")
# Separates this use of the key from any other HMAC the project signs with it later.
_PURPOSE = b"newsletter/unsubscribe\x00"


_TEST_KIND = 0x74  # "t"
_TEST_PAYLOAD = struct.Struct(">BQ")  # kind, issue number
_TEST_TAG_BYTES = 18  # 144 bits, and 27 bytes in all: 36 base64 characters, no padding
_TEST_TOKEN = re.compile(r"[A-Za-z0-9_-]{36}")
_TEST_PURPOSE = b"newsletter/test-copy\x00"


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE + payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _test_tag(secret: bytes, payload: bytes) -> bytes:
    digest = hmac.new(secret, _TEST_PURPOSE + payload, hashlib.sha256).digest()
    return digest[:_TEST_TAG_BYTES]


def make_token(secret: bytes, subscriber_id: int, list_id: int) -> str:
    """The token for one subscriber and one list (the same pair always gives the same one)."""
    if not secret:
        raise ValueError("an empty secret cannot sign tokens")
    payload = _PAYLOAD.pack(_VERSION, subscriber_id, list_id)
    return base64.urlsafe_b64encode(payload + _tag(secret, payload)).decode("ascii")


def verify_token(secret: bytes, token: str) -> tuple[int, int]:
    """Return (subscriber id, list id), or raise InputError if the token was not signed by
    us with this secret: forged, altered, cut short or from another installation."""
    invalid = InputError(
        "this unsubscribe token is not valid (altered, cut short or signed with another key)",
        hint="copy the whole link from the email; tokens stop working if the secret key changed",
    )
    # A strict shape check first: b64decode silently skips stray characters.
    if not isinstance(token, str) or not _TOKEN.fullmatch(token.strip()):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token.strip())
    except (binascii.Error, ValueError):
        raise invalid from None
    payload, tag = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if len(raw) != _TOKEN_BYTES or not hmac.compare_digest(tag, _tag(secret, payload)):
        raise invalid
    version, subscriber_id, list_id = _PAYLOAD.unpack(payload)
    if version != _VERSION:  # only reachable with our own key: a token from a future format
        raise invalid
    return subscriber_id, list_id


def make_test_token(secret: bytes, issue_number: int) -> str:
    """The token in a test copy's unsubscribe link: it names the issue, nobody else."""
    if not secret:
        raise ValueError("an empty secret cannot sign tokens")
    if not 0 <= issue_number < 2**64:
        raise ValueError(f"issue number {issue_number} does not fit a token")
    payload = _TEST_PAYLOAD.pack(_TEST_KIND, issue_number)
    return base64.urlsafe_b64encode(payload + _test_tag(secret, payload)).decode("ascii")


def looks_like_test_token(token: str) -> bool:
    """True for a string of a test token's shape (not proof it is one: see verify)."""
    return isinstance(token, str) and _TEST_TOKEN.fullmatch(token) is not None


def verify_test_token(secret: bytes, token: str) -> int:
    """The issue number a test token names, or InputError when we did not sign it."""
    invalid = InputError(
        "this test-copy link is not valid (altered, cut short or signed with another key)",
        hint="send a new test copy with `newsletter send-test`",
    )
    if not looks_like_test_token(token):
        raise invalid
    raw = base64.urlsafe_b64decode(token)  # the shape check leaves nothing to fail on
    payload, tag = raw[: _TEST_PAYLOAD.size], raw[_TEST_PAYLOAD.size :]
    if not hmac.compare_digest(tag, _test_tag(secret, payload)):
        raise invalid
    kind, issue_number = _TEST_PAYLOAD.unpack(payload)
    if kind != _TEST_KIND:  # only reachable with our own key
        raise invalid
    return int(issue_number)


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


# --- confirmation links (double opt-in) --------------------------------------------------

_CONFIRM_KIND = 0x63  # "c"
_CONFIRM_PAYLOAD = struct.Struct(">BQQ")  # kind, subscriber id, issue time (Unix seconds)
_CONFIRM_TAG_BYTES = 19  # 152 bits, and 36 bytes in all: 48 base64 characters
_CONFIRM_TOKEN = re.compile(r"[A-Za-z0-9_-]{48}")
_CONFIRM_PURPOSE = b"newsletter/confirm-signup\x00"


class ExpiredLink(InputError):
    """A confirmation link we signed, but older than confirm_link_days."""


def _confirm_tag(secret: bytes, payload: bytes) -> bytes:
    digest = hmac.new(secret, _CONFIRM_PURPOSE + payload, hashlib.sha256).digest()
    return digest[:_CONFIRM_TAG_BYTES]


def make_confirm_token(secret: bytes, subscriber_id: int, issued_at: datetime) -> str:
    """The token of a confirmation link: who signed up, and when the link was made."""
    if not secret:
        raise ValueError("an empty secret cannot sign tokens")
    payload = _CONFIRM_PAYLOAD.pack(_CONFIRM_KIND, subscriber_id, int(issued_at.timestamp()))
    return base64.urlsafe_b64encode(payload + _confirm_tag(secret, payload)).decode("ascii")


def verify_confirm_token(
    secret: bytes, token: str, *, now: datetime, max_age: timedelta
) -> tuple[int, datetime]:
    """(subscriber id, issue time) of a confirmation link; InputError if we did not sign
    it, ExpiredLink if it is older than `max_age` (or dated in the future)."""
    invalid = InputError(
        "this confirmation link is not valid (altered, cut short or signed with another key)",
        hint="copy the whole link from the email, or sign up again",
    )
    if not isinstance(token, str) or not _CONFIRM_TOKEN.fullmatch(token):
        raise invalid
    raw = base64.urlsafe_b64decode(token)  # the shape check leaves nothing to fail on
    payload, tag = raw[: _CONFIRM_PAYLOAD.size], raw[_CONFIRM_PAYLOAD.size :]
    if not hmac.compare_digest(tag, _confirm_tag(secret, payload)):
        raise invalid
    kind, subscriber_id, stamp = _CONFIRM_PAYLOAD.unpack(payload)
    if kind != _CONFIRM_KIND:  # only reachable with our own key
        raise invalid
    issued_at = datetime.fromtimestamp(stamp, UTC)
    # A minute of slack for clocks of several machines that disagree a little.
    if issued_at > now + timedelta(minutes=1) or now - issued_at > max_age:
        raise ExpiredLink(
            f"this confirmation link expired (it was sent {issued_at:%Y-%m-%d %H:%M} UTC)",
            hint="sign up again to get a new link",
        )
    return int(subscriber_id), issued_at


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/confirm/{token}"
