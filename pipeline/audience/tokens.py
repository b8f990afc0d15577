"""Unsubscribe tokens: a signed (subscriber id, list id) pair, safe to put in a URL.

The payload holds only database ids, never the address, so a token cannot be guessed from
an email address; the 128-bit HMAC-SHA256 tag (keyed with NEWSLETTER_SECRET_KEY) means it
cannot be forged or altered either. The ids are readable, not secret: a token proves the
right to unsubscribe, nothing more. Changing the secret key invalidates old links.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct

from pipeline.errors import InputError

_VERSION = 1
_PAYLOAD = struct.Struct(">BQQ")  # version, subscriber id, list id
_TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_TOKEN_BYTES = _PAYLOAD.size + _TAG_BYTES  # 33 bytes: exactly 44 base64 characters
_TOKEN = re.compile(r"[A-Za-z0-9_-]{44}")
# Separates this use of the key from any other HMAC the project signs with it later.
_PURPOSE = b"newsletter/unsubscribe\x00"


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE + payload, hashlib.sha256).digest()[:_TAG_BYTES]


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


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe/{token}"
