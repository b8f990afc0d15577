"""Signed tokens, safe to put in a URL: one signer, three kinds.

An unsubscribe token is a signed (subscriber id, list id) pair. The payload holds only
database ids, never the address, so a token cannot be guessed from an email address; the
HMAC-SHA256 tag (keyed with NEWSLETTER_SECRET_KEY) means it cannot be forged or altered
either. The ids are readable, not secret: a token proves the right to unsubscribe, nothing
more.

Keys can change without breaking links already in mailboxes: the secret given to `sign`
and `verify` is the settings' `SecretKey`, the key in force (which signs) carrying the
`old_secret_keys` it replaced (which still verify every kind, and sign nothing). Dropping
an old key from the settings invalidates the links it signed.

Test copies (`send-test`) carry a test token instead: a signed issue number, for a link that
works for the tester and unsubscribes nobody. It can never pass for a subscriber's token,
nor one for it: another HMAC purpose, another kind byte and another length (36 characters,
not 44), so each verifier refuses the other's tokens on their shape alone.

Confirmation links (double opt-in) carry a third kind: a signed (subscriber id, the
confirmation email's outbox id, issue time), under its own purpose and 60 characters long,
which expires: `verify_confirm_token` refuses it after the given age (`ExpiredLink`), and
refuses any of the other kinds. The link confirms the signup requests of that one email.
Links sent before they named their email (48 characters, no outbox id) still verify, as
`ConfirmLink`s whose `confirmation_id` is None.

Every kind is a `TokenKind` signed and checked by the same `Signer`: links already in
readers' mailboxes must keep working, so each kind's bytes (purpose, payload layout, tag
length) are fixed, and tests/audience/test_tokens.py pins one token of each.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline.errors import InputError
from pipeline.settings import SecretKey


@dataclass(frozen=True)
class TokenKind:
    """What one kind of token is made of: a payload whose first field is a fixed marker
    byte (a version or a kind), signed under its own purpose, cut to a tag length that
    makes the whole a multiple of three bytes (base64 without padding)."""

    # Separates this use of the key from any other HMAC the project signs with it.
    purpose: bytes
    marker: int
    payload: struct.Struct
    tag_bytes: int
    name: str  # what a reader calls it, for the message when one does not verify
    hint: str
    # The lowest and highest value of each field after the marker: what the store can hold.
    ranges: tuple[tuple[int, int], ...]
    shape: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        size = self.payload.size + self.tag_bytes
        if size % 3:
            raise ValueError(f"a {size}-byte token would need base64 padding")
        # A strict shape check first: b64decode silently skips stray characters.
        object.__setattr__(self, "shape", re.compile(rf"[A-Za-z0-9_-]{{{size // 3 * 4}}}"))

    def holds(self, fields: tuple[int, ...] | list[int]) -> bool:
        return len(fields) == len(self.ranges) and all(
            low <= value <= high for value, (low, high) in zip(fields, self.ranges, strict=True)
        )

    def invalid(self) -> InputError:
        return InputError(
            f"this {self.name} is not valid (altered, cut short or signed with another key)",
            hint=self.hint,
        )


class Signer:
    """Signs and verifies the tokens of one kind.

    The key is an argument of each call, not state, and the tag is checked in one place
    (`_signed_with`), so verifying with older keys while signing with the current one is
    a change to that place alone."""

    def __init__(self, kind: TokenKind) -> None:
        self.kind = kind

    def _tag(self, secret: bytes, payload: bytes) -> bytes:
        digest = hmac.new(secret, self.kind.purpose + payload, hashlib.sha256).digest()
        return digest[: self.kind.tag_bytes]

    def _signed_with(self, secret: bytes, payload: bytes, tag: bytes) -> bool:
        """The tag is the key in force's, or one of the old keys' it carries (rotation)."""
        keys = (secret, *secret.old) if isinstance(secret, SecretKey) else (secret,)
        # Every key is tried, whichever matched: the time says nothing about which one.
        matches = [hmac.compare_digest(tag, self._tag(key, payload)) for key in keys]
        return any(matches)

    def looks_like(self, token: object) -> bool:
        """True for a string of this kind's shape (not proof it is one: see verify)."""
        return isinstance(token, str) and self.kind.shape.fullmatch(token) is not None

    def sign(self, secret: bytes, *fields: int) -> str:
        """The token of these fields (the marker byte goes first by itself), signed with
        the key in force only (never one of a `SecretKey`'s old keys)."""
        if not secret:
            raise ValueError("an empty secret cannot sign tokens")
        if not self.kind.holds(fields):
            raise ValueError(f"{fields} do not fit a {self.kind.name}")
        payload = self.kind.payload.pack(self.kind.marker, *fields)
        return base64.urlsafe_b64encode(payload + self._tag(secret, payload)).decode("ascii")

    def verify(self, secret: bytes, token: str) -> tuple[int, ...]:
        """The fields after the marker, or InputError if we did not sign this token with
        this secret: forged, altered, cut short, of another kind or another installation."""
        if not self.looks_like(token):
            raise self.kind.invalid()
        raw = base64.urlsafe_b64decode(token)  # the shape check leaves nothing to fail on
        payload, tag = raw[: self.kind.payload.size], raw[self.kind.payload.size :]
        if not self._signed_with(secret, payload, tag):
            raise self.kind.invalid()
        marker, *fields = self.kind.payload.unpack(payload)
        if marker != self.kind.marker:  # only reachable with our own key: another format
            raise self.kind.invalid()
        if not self.kind.holds(fields):  # likewise: no store holds such an id
            raise self.kind.invalid()
        return tuple(int(value) for value in fields)


# Ids, issue numbers and times are the store's signed 64-bit integers (PostgreSQL's bigint,
# SQLite's integer); row ids start at 1. A token naming anything else was never sent.
BIGINT = 2**63 - 1
ROW_IDS = (1, BIGINT)
LAST_SECOND = 253402300799  # 9999-12-31 23:59:59 UTC, the last time `datetime` holds

UNSUBSCRIBE = Signer(
    TokenKind(
        purpose=b"newsletter/unsubscribe\x00",
        marker=1,  # the format's version
        payload=struct.Struct(">BQQ"),  # version, subscriber id, list id
        tag_bytes=16,  # 128 bits, and 33 bytes in all: exactly 44 base64 characters
        name="unsubscribe token",
        hint="copy the whole link from the email; tokens stop working if the secret key changed",
        ranges=(ROW_IDS, ROW_IDS),
    )
)

TEST_COPY = Signer(
    TokenKind(
        purpose=b"newsletter/test-copy\x00",
        marker=0x74,  # "t"
        payload=struct.Struct(">BQ"),  # kind, issue number
        tag_bytes=18,  # 144 bits, and 27 bytes in all: 36 base64 characters, no padding
        name="test-copy link",
        hint="send a new test copy with `newsletter send-test`",
        ranges=((0, BIGINT),),
    )
)

# Made before links named their email; verified only, for the links still in mailboxes.
CONFIRM = Signer(
    TokenKind(
        purpose=b"newsletter/confirm-signup\x00",
        marker=0x63,  # "c"
        payload=struct.Struct(">BQQ"),  # kind, subscriber id, issue time (Unix seconds)
        tag_bytes=19,  # 152 bits, and 36 bytes in all: 48 base64 characters
        name="confirmation link",
        hint="copy the whole link from the email, or sign up again",
        ranges=(ROW_IDS, (0, LAST_SECOND)),
    )
)


CONFIRM_EMAIL = Signer(
    TokenKind(
        purpose=b"newsletter/confirm-email\x00",
        marker=0x43,  # "C"
        payload=struct.Struct(">BQQQ"),  # kind, subscriber id, outbox id, issue time (Unix s)
        tag_bytes=20,  # 160 bits, and 45 bytes in all: 60 base64 characters
        name="confirmation link",
        hint="copy the whole link from the email, or sign up again",
        ranges=(ROW_IDS, ROW_IDS, (0, LAST_SECOND)),
    )
)


def make_token(secret: bytes, subscriber_id: int, list_id: int) -> str:
    """The token for one subscriber and one list (the same pair always gives the same one)."""
    return UNSUBSCRIBE.sign(secret, subscriber_id, list_id)


def verify_token(secret: bytes, token: str) -> tuple[int, int]:
    """Return (subscriber id, list id), or raise InputError if the token was not signed by
    us with this secret: forged, altered, cut short or from another installation."""
    # Only this kind forgives spaces around the token, as it always has.
    subscriber_id, list_id = UNSUBSCRIBE.verify(
        secret, token.strip() if isinstance(token, str) else token
    )
    return subscriber_id, list_id


def make_test_token(secret: bytes, issue_number: int) -> str:
    """The token in a test copy's unsubscribe link: it names the issue, nobody else."""
    if secret and not 0 <= issue_number <= BIGINT:
        raise ValueError(f"issue number {issue_number} does not fit a token")
    return TEST_COPY.sign(secret, issue_number)


def looks_like_test_token(token: str) -> bool:
    """True for a string of a test token's shape (not proof it is one: see verify)."""
    return TEST_COPY.looks_like(token)


def verify_test_token(secret: bytes, token: str) -> int:
    """The issue number a test token names, or InputError when we did not sign it."""
    (issue_number,) = TEST_COPY.verify(secret, token)
    return issue_number


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"


# --- confirmation links (double opt-in) --------------------------------------------------


class ExpiredLink(InputError):
    """A confirmation link we signed, but older than confirm_link_days."""


@dataclass(frozen=True)
class ConfirmLink:
    """What a confirmation link says: whose, the email it came in (its outbox row; None
    for a link made before links named it) and when it was made."""

    subscriber_id: int
    issued_at: datetime
    confirmation_id: int | None = None


def make_confirm_token(
    secret: bytes, subscriber_id: int, issued_at: datetime, confirmation_id: int | None = None
) -> str:
    """The token of a confirmation link: who signed up, the email (outbox row) it is sent
    in, and when the link was made. Without an email, the older kind (tests of old links)."""
    stamp = int(issued_at.timestamp())
    if confirmation_id is None:
        return CONFIRM.sign(secret, subscriber_id, stamp)
    return CONFIRM_EMAIL.sign(secret, subscriber_id, confirmation_id, stamp)


def verify_confirm_token(
    secret: bytes, token: str, *, now: datetime, max_age: timedelta
) -> ConfirmLink:
    """The confirmation link a token is; InputError if we did not sign it, ExpiredLink if
    it is older than `max_age` (or dated in the future)."""
    confirmation_id: int | None = None
    if CONFIRM.looks_like(token):
        subscriber_id, stamp = CONFIRM.verify(secret, token)
    else:
        subscriber_id, confirmation_id, stamp = CONFIRM_EMAIL.verify(secret, token)
    # The kinds' ranges hold ids to the store's and the time to datetime's.
    issued_at = datetime.fromtimestamp(stamp, UTC)
    # A minute of slack for clocks of several machines that disagree a little.
    if issued_at > now + timedelta(minutes=1) or now - issued_at > max_age:
        raise ExpiredLink(
            f"this confirmation link expired (it was sent {issued_at:%Y-%m-%d %H:%M} UTC)",
            hint="sign up again to get a new link",
        )
    return ConfirmLink(subscriber_id, issued_at, confirmation_id)


def confirm_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/confirm/{token}"
