"""The fast path of address checking agrees with email-validator on every address, and
both keep RFC 5321's limit of 64 octets before the @."""

from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.audience.addresses import normalise_email
from pipeline.errors import InputError

TRICKY = [
    "Kim@Example.COM",
    "a.b.c@example.org",
    "a..b@example.com",
    ".a@example.com",
    "a.@example.com",
    "o'brien+tag@example.co.uk",
    "x@xn--bcher-kva.example",
    "x@bücher.example",
    "김@example.com",
    "a@localhost",
    "a@b.test",
    "a@b.local",
    "a@x",
    "a@1.2.3.4",
    "a@x.123",
    "a@-x.com",
    "a@x-.com",
    "a@x..com",
    '"quoted"@example.com',
    "a@b@example.com",
    "@example.com",
    "a@",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "a@" + ".".join(["b" * 63] * 3) + ".com",
    "a" * 60 + "@" + ".".join(["b" * 60] * 3) + ".com",
    "a@EXAMPLE.com.",
    "user%host@example.com",
    "{weird}=ok@example.com",
]


def reference(text: str) -> str | None:
    try:
        valid = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return valid.normalized if len(valid.local_part.encode()) <= 64 else None


def ours(text: str) -> str | None:
    try:
        return normalise_email(text).email
    except InputError:
        return None


def random_addresses(count: int) -> list[str]:
    rng = random.Random(7)
    local_chars = "abcXYZ019.+-_'!#~" + "é"
    domain_chars = "abcxyz09-."
    tlds = ["com", "org", "kr", "test", "local", "123", "co.kr", "example", "x"]
    found = []
    for _ in range(count):
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(0, 12)))
        domain = "".join(rng.choice(domain_chars) for _ in range(rng.randint(0, 10)))
        found.append(f"{local}@{domain}.{rng.choice(tlds)}")
    return found


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_addresses_agree(text: str) -> None:
    assert ours(text) == reference(text)


def test_random_addresses_agree() -> None:
    disagreements = [t for t in random_addresses(5000) if ours(t) != reference(t)]
    assert disagreements == []


@given(
    # 1 to 4 octets a character, 12 to 40 characters: both sides of the limit, often.
    local=st.text(st.sampled_from("abz09+_-é김😀"), min_size=12, max_size=40)
)
@example(local="a" * 64)
@example(local="a" * 65)
@example(local="김" * 22)
def test_at_most_64_octets_before_the_at(local: str) -> None:
    octets = len(local.encode("utf-8"))
    if octets <= 64:
        assert ours(f"{local}@example.com") == f"{local}@example.com"
        return
    with pytest.raises(InputError) as refused:
        normalise_email(f"{local}@example.com")
    assert f"the part before the @ is {octets} bytes long; at most 64" in refused.value.message
