"""Email addresses: how one is checked, and when two are the same person.

An address is trimmed, validated by email-validator (syntax only: it must work offline),
and stored as given with the domain normalised (`Kim@Example.COM` -> `Kim@example.com`).
Two addresses are the same person when their `key`, the whole address lowercased, is
equal: strictly the part before the @ may be case-sensitive, but no mailbox provider
treats `Kim@` and `kim@` as two people, and treating them as one prevents duplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from pipeline.errors import InputError


@dataclass(frozen=True)
class Address:
    email: str  # as given, trimmed, domain normalised: what we send to
    key: str  # lowercased: what makes two addresses the same person


def normalise_email(raw: str) -> Address:
    text = raw.strip()
    if not text:
        raise InputError("missing email address")
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"{text!r} is not a valid email address: {exc}") from None
    return Address(valid.normalized, valid.normalized.lower())


def email_hash(key: str) -> str:
    """The one-way hash kept for a forgotten address (of its lowercased form)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
