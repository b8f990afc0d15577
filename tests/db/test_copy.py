"""`newsletter db copy --to URL`: a database that went through every feature moves to
another backend whole (SQLite to PostgreSQL, PostgreSQL to SQLite; SQLite to SQLite when
the run has no PostgreSQL), and the program then works on the copy.

The source is populated once per module and backend (tests/support/populated.py); each
test copies it into a new, empty database of the other backend."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.audience.lists import create_list
from pipeline.db import Store
from pipeline.db.copy import tables
from pipeline.db.schema import QUERY_TABLES
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.conftest import BACKENDS
from tests.support import db
from tests.support.archive import copy_database
from tests.support.cli import refused, run_cli, use_project
from tests.support.populated import (
    FORGOTTEN,
    Populated,
    data_tables,
    empty_tables,
    local_path,
    populate,
)
from tests.support.sending import ok

OTHER = {"sqlite": "postgresql", "postgresql": "sqlite"}


@pytest.fixture(scope="module")
def populated_per_backend() -> dict[str, Populated]:
    return {}


@pytest.fixture
def source(
    backend: str,
    populated_per_backend: dict[str, Populated],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Populated:
    """The populated database of the test's backend (made on the module's first use)."""
    if backend not in populated_per_backend:
        folder = tmp_path_factory.mktemp(f"populated-{backend}")
        populated_per_backend[backend] = populate(
            folder, db.fresh_database(backend, folder, request)
        )
    return populated_per_backend[backend]


@pytest.fixture
def target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty database of the other backend (of the same one without PostgreSQL)."""
    other = OTHER[backend] if OTHER[backend] in BACKENDS else backend
    if other == "postgresql":
        return str(request.getfixturevalue("postgres_server").create_database())
    return f"sqlite:///{tmp_path / 'copy.db'}"


@pytest.fixture
def at(source: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run the CLI in a project folder holding the source's issues, on a database."""
    folder = tmp_path / "project"
    shutil.copytree(source.folder / "issues", folder / "issues")
    shutil.copy(source.folder / "newsletter.toml", folder)

    def on(url: str) -> Path:
        use_project(monkeypatch, folder, url)
        return folder

    yield on


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every data table, times in UTC, in one order on both backends."""

    def plain(value: Any) -> Any:
        return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value

    found = {}
    with db.engine(url).connect() as conn:
        for table in tables(conn):
            rows = [tuple(plain(v) for v in row) for row in conn.execute(sa.select(table))]
            found[table.name] = sorted(rows, key=repr)
    return found


def test_every_table_moves_whole_and_the_program_runs_on_the_copy(
    source: Populated, target: str, at: Any, asgi_client: Any
) -> None:
    assert empty_tables(source.url) == [], "give these tables rows in tests/support/populated.py"
    at(source.url)
    before_report = json.loads(ok(run_cli("report", "--format", "json")).stdout)

    copied = ok(run_cli("db", "copy", "--to", target, "--batch", "2", "--format", "json"))
    listed = {entry["table"]: entry["rows"] for entry in json.loads(copied.stdout)}
    assert set(listed) == set(data_tables(source.url)) == set(data_tables(target))
    assert "checksums match" in copied.stderr
    assert _rows(target) == _rows(source.url)
    assert listed == {name: len(rows) for name, rows in _rows(source.url).items()}

    folder = at(target)
    assert json.loads(ok(run_cli("report", "--format", "json")).stdout) == before_report
    ok(run_cli("archive", "--out", folder / "site"))
    assert (folder / "site" / "issues" / "25" / "index.html").is_file()
    # New rows continue after the copied ids (PostgreSQL's sequences were moved on).
    ok(run_cli("subscribers", "add", "late@example.com", "--list", "weekly"))
    kept = run_cli("subscribers", "add", FORGOTTEN, "--list", "weekly")
    assert "late@example.com" in ok(run_cli("subscribers", "export", "--list", "weekly")).stdout
    assert FORGOTTEN not in ok(run_cli("subscribers", "export", "--list", "weekly")).stdout, kept

    with Store.open(target) as store:
        client = asgi_client(create_app(load_settings(), store, issues=folder / "issues"))
        link = local_path(source.links["reader000@example.com"])
        assert client.get(link).status_code == 200
        done = client.post(link, data={"List-Unsubscribe": "One-Click"})
        assert (done.status_code, done.text) == (200, "unsubscribed\n")
        signup = client.post("/subscribe", data={"email": "later@example.com", "list": "weekly"})
        assert signup.status_code == 200
    status = db.one(
        "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
        "JOIN lists l ON l.id = m.list_id WHERE s.email = ? AND l.name = 'weekly'",
        "reader000@example.com",
        url=target,
    )
    assert status == "unsubscribed"


def test_a_target_with_rows_or_the_database_in_use_is_refused(
    source: Populated, target: str, at: Any
) -> None:
    with Store.open(target) as store:  # one list: a database someone already uses
        create_list(store, "weekly")
    at(source.url)
    counts = {t: db.one(f'SELECT count(*) FROM "{t}"', url=target) for t in data_tables(target)}
    refused(run_cli("db", "copy", "--to", target), "not empty", "table lists", "new, empty")
    assert {t: db.one(f'SELECT count(*) FROM "{t}"', url=target) for t in counts} == counts
    refused(run_cli("db", "copy", "--to", source.url), "the database in use")


@pytest.mark.single_backend
def test_a_row_the_target_refuses_leaves_it_empty(
    source: Populated, target: str, tmp_path: Path, at: Any
) -> None:
    """SQLite keeps a NUL in text, which PostgreSQL refuses: the copy stops naming the
    table, and the target keeps no row of any table, ready for another try."""
    if not target.startswith("postgresql"):
        pytest.skip("needs PostgreSQL as the target (NEWSLETTER_TEST_BACKENDS has no postgresql)")
    dirty = copy_database(source.url, tmp_path)
    db.execute(
        "UPDATE subscribers SET name = ? WHERE email = ?",
        "a\x00b",
        "reader003@example.com",
        url=dirty,
    )
    at(dirty)
    result = refused(
        run_cli("db", "copy", "--to", target), "table subscribers", "nothing was copied"
    )
    assert "\x00" not in result.output
    assert empty_tables(target) == data_tables(target)
    at(source.url)
    ok(run_cli("db", "copy", "--to", target))  # the same target, once the source is clean


@pytest.mark.single_backend
def test_the_copy_knows_every_table_the_queries_use(migrated_sqlite: Path) -> None:
    """The tables come from the migrated schema, not a list: each the queries name is
    there, parents before children."""
    with db.engine(f"sqlite:///{migrated_sqlite}").connect() as conn:
        order = [table.name for table in tables(conn)]
        assert {table.name for table in QUERY_TABLES} <= set(order)
        for table in tables(conn):
            for key in table.foreign_keys:
                assert order.index(key.column.table.name) < order.index(table.name), key
