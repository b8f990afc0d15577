"""`newsletter db upgrade`: the schema brought to the newest revision on purpose (before
restarting the units on a new version), saying from which revision to which."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.db import migrate
from tests.support import db
from tests.support.cli import ok, use_project


def test_upgrade_says_what_it_did_and_then_that_nothing_is_left(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    use_project(monkeypatch, tmp_path, empty_database_url)
    head = migrate.head()
    first = ok(cli("db", "upgrade"))
    assert f"from revision none to {head}" in first.stderr
    assert db.one("SELECT version_num FROM alembic_version", url=empty_database_url) == head
    again = ok(cli("db", "upgrade"))
    assert f"already at the newest revision, {head}" in again.stderr
