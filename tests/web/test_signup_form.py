"""What the signup form accepts, whatever its encoding: every `list` of a multipart form as
of an urlencoded one; bytes that are not UTF-8 refused with the form's own error in the
page's language (never stored as U+FFFD); an address too long before the @ refused."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import pytest

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.signup import make_public_lists

NOT_UTF8 = {
    "ko": "이 칸에 UTF-8이 아닌 문자가 들어 있습니다",
    "en": "This field holds characters your browser did not send as UTF-8",
}
BOUNDARY = "----signup-test"


@pytest.fixture
def client(project: Path, asgi_client) -> Iterator[Callable[[str], httpx.Client]]:
    make_public_lists()
    stores: list[Store] = []

    def start(lang: str = "ko") -> httpx.Client:
        store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
        stores.append(store)
        return asgi_client(create_app(load_settings(lang=lang), store, issues=Path(".")))

    yield start
    for store in stores:
        store.close()


def multipart(fields: list[tuple[str, bytes]]) -> tuple[bytes, dict[str, str]]:
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields
    )
    body = parts + f"--{BOUNDARY}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def urlencoded(fields: list[tuple[str, bytes]], *, raw: bool = False) -> tuple[bytes, dict]:
    """The form as a browser sends it (percent-encoded), or with its bytes raw."""
    body = b"&".join(
        name.encode() + b"=" + (value if raw else quote_from_bytes(value).encode())
        for name, value in fields
    )
    return body, {"Content-Type": "application/x-www-form-urlencoded"}


def requested() -> list[tuple[str, str]]:
    return [tuple(r) for r in db.rows("SELECT email, lists FROM signup_requests ORDER BY id")]


ENCODINGS = {
    "multipart": multipart,
    "urlencoded": urlencoded,
    "urlencoded-raw": lambda fields: urlencoded(fields, raw=True),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_list_of_the_form_is_kept(client, encoding: str) -> None:
    fields = [("email", b"r@example.com"), ("list", b"weekly"), ("list", b"announcements")]
    body, headers = ENCODINGS[encoding](fields)
    response = client().post("/subscribe", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert requested() == [("r@example.com", '["weekly", "announcements"]')]


STRAY_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x80", b"\x80abc"]


# Every encoding and field, each with another stray byte sequence and both languages.
CASES = [
    (encoding, field, STRAY_BYTES[i % len(STRAY_BYTES)], ("ko", "en")[i % 2])
    for i, (encoding, field) in enumerate(product(ENCODINGS, ["email", "name", "list"]))
]


@pytest.mark.parametrize(("encoding", "field", "stray", "lang"), CASES)
def test_bytes_that_are_not_utf8_are_refused_at_their_field(
    client, encoding: str, field: str, stray: bytes, lang: str
) -> None:
    values = {"email": b"r@example.com", "name": "독자".encode(), "list": b"weekly"}
    values[field] = values[field][:1] + stray + values[field][1:]
    body, headers = ENCODINGS[encoding](list(values.items()))
    response = client(lang).post("/subscribe", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert f'<p class="error" id="{field}-error">{NOT_UTF8[lang]}' in response.text
    assert f'<html lang="{lang}">' in response.text and "Traceback" not in response.text
    assert requested() == []


@pytest.mark.parametrize(
    ("local", "accepted"),
    [("a" * 64, True), ("a" * 65, False), ("김" * 21, True), ("김" * 22, False)],
)
def test_at_most_64_octets_before_the_at(client, local: str, accepted: bool) -> None:
    address = f"{local}@example.com"
    response = client().post("/subscribe", data={"email": address, "list": "weekly"})
    assert response.status_code == (200 if accepted else 400), response.text
    assert requested() == ([(address, '["weekly"]')] if accepted else [])
    if not accepted:
        # The problem in the page's language (Korean here), from the catalogue.
        assert "올바른 이메일 주소가 아닙니다" in response.text
