"""Email addresses: how one is checked, and when two are the same person.

An address is trimmed, validated by email-validator (syntax only: it must work offline),
and stored as given with the domain normalised (`Kim@Example.COM` -> `Kim@example.com`).
Two addresses are the same person when their `key`, the whole address lowercased, is
equal: strictly the part before the @ may be case-sensitive, but no mailbox provider
treats `Kim@` and `kim@` as two people, and treating them as one prevents duplicates.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from pipeline.audience.cleaning import shown
from pipeline.errors import InputError


@dataclass(frozen=True)
class Address:
    email: str  # as given, trimmed, domain normalised: what we send to
    key: str  # lowercased: what makes two addresses the same person


# A plain ASCII dot-atom local part: the shape almost every real address has. For it,
# email-validator's verdict depends only on the domain (and the lengths), so an import of
# a million rows validates each domain once instead of every address in full.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL = 64
_MAX_ADDRESS = 254


@functools.lru_cache(maxsize=65536)
def _domain(domain: str) -> tuple[str, str] | None:
    """(normalised domain, its ASCII form) as email-validator sees it, or None if invalid."""
    try:
        valid = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return valid.domain, valid.ascii_domain


def _fast(text: str) -> str | None:
    """The normalised address for a plain one, exactly as validate_email would give it;
    None when the full check must decide (unusual shape, bad domain, long)."""
    local, at, domain = text.rpartition("@")
    if not at or len(local) > _MAX_LOCAL or not _PLAIN_LOCAL.fullmatch(local):
        return None
    found = _domain(domain)
    if found is None:
        return None
    normalised, ascii_domain = found
    if max(len(local) + 1 + len(ascii_domain), len(text)) > _MAX_ADDRESS:
        return None
    return f"{local}@{normalised}"


def normalise_email(raw: str) -> Address:
    text = raw.strip()
    if not text:
        raise InputError("missing email address")
    fast = _fast(text)
    if fast is not None:
        return Address(fast, fast.lower())
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"{shown(text)} is not a valid email address: {exc}") from None
    # RFC 5321 4.5.3.1.1: at most 64 octets before the @ (email-validator counts only the
    # whole address unless strict, and counts characters, not UTF-8 octets).
    if (size := len(valid.local_part.encode("utf-8"))) > _MAX_LOCAL:
        raise InputError(
            f"{shown(text)} is not a valid email address: the part before the @ is {size} "
            f"bytes long; at most {_MAX_LOCAL} are allowed"
        )
    return Address(valid.normalized, valid.normalized.lower())


def email_hash(key: str) -> str:
    """The one-way hash kept for a forgotten address (of its lowercased form)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
