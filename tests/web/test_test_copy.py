"""A test copy's unsubscribe link (`newsletter send-test`): it works for the tester, says it
was a test, and unsubscribes nobody. Over real HTTP: the SES stub for the copy, uvicorn for
the app."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pipeline.audience.tokens import (
    make_test_token,
    make_token,
    verify_test_token,
    verify_token,
)
from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.sending import ISSUE, make_list, ok, people, use_ses
from tests.support.ses_stub import SesStub

SECRET = TEST_SECRET.encode()
TABLES = ("subscribers", "memberships", "suppressions", "events", "deliveries")


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    return {t: [tuple(row) for row in db.rows(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in TABLES}


@pytest.fixture
def test_copy_link(project: Path, cli, monkeypatch: pytest.MonkeyPatch) -> str:
    """The https URL in the List-Unsubscribe of a real test copy, sent to a list member."""
    make_list(cli, "weekly", people(2))
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        ok(cli("send-test", ISSUE, "--to", "reader000@example.com"))
        (message,) = stub.accepted
    header = message.headers["List-Unsubscribe"]
    (url,) = [part.strip(" <>") for part in header.split(",") if "https://" in part]
    return url


@pytest.fixture
def client(project: Path, asgi_client):
    store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
    app = create_app(load_settings(), store, issues=project / "issues")
    with asgi_client(app) as http:
        yield http
    store.close()


def test_the_test_copy_link_answers_200_and_unsubscribes_nobody(
    project: Path, test_copy_link: str, client: httpx.Client
) -> None:
    path = urlsplit(test_copy_link).path
    assert path.startswith("/unsubscribe/") and "test-copy" not in path
    before = snapshot()

    page = client.get(path)
    assert page.status_code == 200, page.text
    assert "테스트 메일" in page.text and "25호" in page.text  # the sample issue is Korean
    assert "<form" not in page.text  # nothing to press: nothing would happen

    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert one_click.text == "test copy: nobody was unsubscribed\n"

    form = client.post(path, data={"action": "unsubscribe"})
    assert form.status_code == 200 and "테스트 메일" in form.text

    assert snapshot() == before
    statuses = [status for (status,) in db.rows("SELECT status FROM memberships")]
    assert statuses and all(s == "subscribed" for s in statuses)


def _flip(token: str, at: int) -> str:
    swap = "A" if token[at] != "A" else "B"
    return token[:at] + swap + token[at + 1 :]


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: _flip(t, 0),  # the kind byte
        lambda t: _flip(t, 8),  # the issue number
        lambda t: _flip(t, 35),  # the tag
        lambda t: make_test_token(b"another installation's key", 25),
        lambda t: t[:-1] + "=",
    ],
    ids=["kind", "number", "tag", "other-key", "padding"],
)
def test_a_forged_test_token_is_refused(project: Path, client: httpx.Client, forge) -> None:
    forged = forge(make_test_token(SECRET, 25))
    assert len(forged) == 36
    page = client.get(f"/unsubscribe/{forged}")
    assert page.status_code == 400 and "테스트 메일" not in page.text
    one_click = client.post(f"/unsubscribe/{forged}", data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400 and "nobody was unsubscribed" not in one_click.text


def test_test_tokens_and_subscriber_tokens_never_pass_for_each_other() -> None:
    test_token = make_test_token(SECRET, 25)
    assert verify_test_token(SECRET, test_token) == 25
    with pytest.raises(InputError):
        verify_token(SECRET, test_token)
    # Ids at the ends of what a token may name (row ids are 1 to 2**63 - 1).
    for subscriber_id, list_id in [(1, 1), (25, 1), (1, 25), (2**63 - 1, 7)]:
        real = make_token(SECRET, subscriber_id, list_id)
        assert verify_token(SECRET, real) == (subscriber_id, list_id)
        with pytest.raises(InputError):
            verify_test_token(SECRET, real)
        # Cut to a test token's length, a subscriber token is still not one.
        with pytest.raises(InputError):
            verify_test_token(SECRET, real[:36])
    # Different issues, different tokens; the number cannot be swapped into another's tag.
    other = make_test_token(SECRET, 26)
    assert other != test_token
    with pytest.raises(InputError):
        verify_test_token(SECRET, other[:12] + test_token[12:])
