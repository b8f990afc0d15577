"""Migrations with Alembic, on SQLite and PostgreSQL: a fresh database, adopting one made
before Alembic, a failing revision, a newer database, and several processes at once."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience import subscribers as lib
from pipeline.audience.queries import recipients
from pipeline.db import Store, migrate
from pipeline.db.schema import QUERY_TABLES
from pipeline.errors import StoreError
from tests.support.cli import ROOT

LEGACY_DUMP = Path(__file__).parent / "fixtures" / "legacy-v4.sql"


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Migrations are tested from an empty database, not the migrated copy others get."""
    return empty_database_url


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_a_fresh_database_is_at_the_head_with_every_column_the_queries_use(
    database_url: str,
) -> None:
    with Store.open(database_url) as store:
        assert store.schema_version() == migrate.head()
        inspector = sa.inspect(store.engine)
        for table in QUERY_TABLES:
            actual = {c["name"] for c in inspector.get_columns(table.name)}
            assert {c.name for c in table.c} == actual, table.name
        assert "schema_version" not in _tables(store.engine)


def _legacy_database(path: Path) -> dict[str, int]:
    """Load the dump of a database that the program made before Alembic; its row counts."""
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    conn.close()
    return counts


@pytest.mark.single_backend  # the databases made before Alembic were all SQLite files
def test_a_database_made_before_alembic_is_adopted_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    before = _legacy_database(path)
    assert before["schema_version"] == 4 and before["subscribers"] > 0 and before["events"] > 0

    with Store.open(f"sqlite:///{path}") as store:
        assert store.schema_version() == migrate.head()
        with store.engine.connect() as conn:
            for table, count in before.items():
                assert conn.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar() == count
        # The data reads back through the program, not just as rows.
        shown = lib.show(store, "seoyeon.lee@example.com", secret=None, public_url="https://x")
        assert shown["name"] == "이서연"
        assert [m["status"] for m in shown["lists"]] == ["unsubscribed"]
        assert shown["history"] and shown["history"][0]["status"] == "sent"
        with pytest.raises(lib.InputError, match="forgotten"):
            lib.add(store, "minjun.kim@example.com", "sample")
        assert [r["name"] for r in lib.list_summaries(store)] == ["sample", "빈목록"]
    # Opening again changes nothing.
    with Store.open(f"sqlite:///{path}") as store:
        assert store.schema_version() == migrate.head()


def _at_revision(url: str, revision: str) -> None:
    """A database migrated only up to `revision`, the way an older release left it."""
    from alembic import command

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        config = migrate._config(migrate.MIGRATIONS)
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()
    engine.dispose()


def test_an_older_revision_upgrades_without_losing_rows(database_url: str) -> None:
    _at_revision(database_url, "0001")
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO subscribers (email, email_key, name, attributes, status, "
                "created_at, updated_at) VALUES ('Kim@example.com', 'kim@example.com', '김민준', "
                "'{\"company\": \"Acme\"}', 'active', :t, :t)"
            ),
            {"t": "2024-01-01 00:00:00+00"},
        )
        conn.execute(
            sa.text("INSERT INTO lists (name, created_at) VALUES ('weekly', :t)"),
            {"t": "2024-01-01 00:00:00+00"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO memberships (subscriber_id, list_id, status, subscribed_at, "
                "updated_at) VALUES (1, 1, 'subscribed', :t, :t)"
            ),
            {"t": "2024-01-01 00:00:00+00"},
        )
    assert "source" not in {c["name"] for c in sa.inspect(engine).get_columns("memberships")}
    engine.dispose()

    with Store.open(database_url) as store:
        assert store.schema_version() == migrate.head()
        members = list(recipients(store, "weekly"))
        assert [(m.email, m.name, m.attributes) for m in members] == [
            ("Kim@example.com", "김민준", {"company": "Acme"})
        ]
        indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("memberships")}
        assert "ix_memberships_list" in indexes


def test_a_failing_revision_leaves_the_database_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    location = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, location, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head()
    (location / "versions" / "v9999_broken.py").write_text(
        f'''"""A revision that fails half-way."""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().execute(sa.text("CREATE TABLE half_done (id INTEGER)"))
    op.get_bind().execute(sa.text("ALTER TABLE subscribers ADD COLUMN half TEXT"))
    raise RuntimeError("power cut")


def downgrade() -> None:
    pass
''',
        encoding="utf-8",
    )
    with Store.open(database_url) as store:
        with pytest.raises(RuntimeError, match="power cut"):
            store.migrate(location)
        assert store.schema_version() == head
        assert "half_done" not in _tables(store.engine)
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("subscribers")}
        assert "half" not in columns


def test_a_database_newer_than_the_program_is_refused(database_url: str) -> None:
    with Store.open(database_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    with pytest.raises(StoreError, match="newer than this program"):
        Store.open(database_url)


@pytest.mark.single_backend
def test_a_pre_alembic_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    _legacy_database(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (5, 'future', '2030-01-01 00:00:00')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        Store.open(f"sqlite:///{path}")


OPEN_AND_SAY = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from pipeline.db import Store
Store.open(sys.argv[1]).close()
"""


def test_processes_starting_at_once_on_a_fresh_database_migrate_it_once(
    database_url: str,
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AND_SAY, database_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, outputs
    said = "".join(err for _, err in outputs)
    assert said.count("migrating the database to revision") == 1, said
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
            (migrate.head(),)
        ]
    engine.dispose()
