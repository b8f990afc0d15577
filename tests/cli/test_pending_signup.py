"""`subscribers add` and `subscribers import` treat a person with a pending signup alike:
both are the publisher's word that the person agreed, so both subscribe them (the one
rule in `audience/joining.py`), with a consent record saying how."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.audience import signup
from pipeline.db import Store
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import Result, ok

Cli = Callable[..., Result]
READER = "reader@example.com"


@pytest.fixture
def pending(cli: Cli, project: Path, database_url: str) -> Path:
    """The reader signed up on the form and has not used the confirmation link."""
    ok(cli("lists", "create", "weekly", "--public"))
    settings = load_settings()
    with Store.open(database_url) as store:
        fields = {"email": [READER], "list": ["weekly"]}
        client = signup.Client("198.51.100.7", "browser")
        assert signup.receive(store, settings, fields, client, now=datetime.now(UTC)) is (
            signup.Received.accepted
        )
        signup.process(store, settings)
    assert _membership() == "unconfirmed"
    return project


def _membership() -> str:
    rows = db.rows(
        "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
        "WHERE s.email = ?",
        READER,
    )
    return str(rows[0][0]) if rows else "none"


def _consent_methods() -> list[tuple[str, bool]]:
    rows = db.rows("SELECT method, confirmed_at IS NOT NULL FROM consents ORDER BY id")
    return [(str(m), bool(c)) for m, c in rows]


def test_add_subscribes_a_pending_signup(cli: Cli, pending: Path) -> None:
    result = ok(cli("subscribers", "add", READER, "--list", "weekly"))
    assert "added reader@example.com to 'weekly' (was unconfirmed)" in result.stderr
    assert _membership() == "subscribed"
    assert _consent_methods()[-1] == ("command", True)


def test_import_subscribes_a_pending_signup_and_says_so(cli: Cli, pending: Path) -> None:
    path = pending / "list.csv"
    path.write_text(f"email,name\n{READER},Reader\n", encoding="utf-8")
    result = ok(cli("subscribers", "import", path, "--list", "weekly"))
    assert "1 added (1 confirming a pending signup), 0 updated" in result.stderr
    assert _membership() == "subscribed"
    assert _consent_methods()[-1][0] == "import"
    again = ok(cli("subscribers", "import", path, "--list", "weekly"))
    assert "0 added, 0 updated, 1 unchanged" in again.stderr
