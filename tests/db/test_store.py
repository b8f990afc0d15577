"""The store: migrations, SQLite settings, and what the send step reads from it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience import subscribers as lib
from pipeline.audience.store import ListMember, Store
from pipeline.db.schema import LATEST, MIGRATIONS, QUERY_TABLES, Migration
from pipeline.errors import NotFoundError, StoreError

NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "newsletter.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{db_path}") as opened:
        yield opened


def _people(store: Store, list_name: str, *emails: str) -> list[int]:
    lib.create_list(store, list_name, exist_ok=True)
    for email in emails:
        lib.add(store, email, list_name)
    with store.begin(write=False) as tx:
        return [tx.subscriber_by_key(e.lower()).id for e in emails]  # type: ignore[union-attr]


def test_opening_creates_the_folder_and_the_latest_schema(store: Store, db_path: Path) -> None:
    assert db_path.exists()
    assert store.schema_version() == LATEST >= 2
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000


def test_every_column_the_queries_use_exists_after_migrating(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    for table in QUERY_TABLES:
        actual = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.c} == actual, table.name


def test_an_old_database_upgrades_without_losing_rows(db_path: Path) -> None:
    url = f"sqlite:///{db_path}"
    with Store.open(url, migrate=False) as old:
        assert old.migrate(MIGRATIONS[:1]) == 1
        with old.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO subscribers (email, email_key, name, attributes, status, "
                "created_at, updated_at) VALUES ('Kim@example.com', 'kim@example.com', '김민준', "
                "'{\"company\": \"Acme\"}', 'active', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO lists (name, created_at) VALUES ('weekly', '2024-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO memberships (subscriber_id, list_id, status, subscribed_at, "
                "updated_at) VALUES (1, 1, 'subscribed', '2024-01-01 00:00:00', "
                "'2024-01-01 00:00:00')"
            )
            conn.exec_driver_sql(
                "INSERT INTO suppressions VALUES (?, 'forgotten', '2024-01-01 00:00:00')",
                (lib.email_hash("gone@example.com"),),
            )
        columns = {c["name"] for c in sa.inspect(old.engine).get_columns("memberships")}
        assert "source" not in columns

    with Store.open(url) as new:
        assert new.schema_version() == LATEST
        recipients = list(new.recipients("weekly"))
        assert recipients == [ListMember(1, "Kim@example.com", "김민준", {"company": "Acme"}, 1)]
        shown = lib.show(new, "kim@example.com", secret=None, public_url="https://x.example")
        assert shown["lists"][0]["source"] is None
        assert shown["lists"][0]["subscribed_at"] == datetime(2024, 1, 1, tzinfo=UTC)
        with pytest.raises(lib.InputError, match="forgotten"):
            lib.add(new, "gone@example.com", "weekly")
        indexes = {i["name"] for i in sa.inspect(new.engine).get_indexes("memberships")}
        assert "ix_memberships_list" in indexes


def test_a_failing_migration_step_leaves_the_previous_version(db_path: Path) -> None:
    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("power cut")

    url = f"sqlite:///{db_path}"
    with Store.open(url, migrate=False) as store:
        with pytest.raises(RuntimeError):
            store.migrate([MIGRATIONS[0], Migration(2, "broken", broken)])
        assert store.schema_version() == 1
        assert not sa.inspect(store.engine).has_table("half_done")


def test_a_database_newer_than_the_program_is_refused(store: Store, db_path: Path) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO schema_version VALUES ({LATEST + 1}, 'future', '2030-01-01 00:00:00')"
        )
    with pytest.raises(StoreError, match="newer"):
        Store.open(f"sqlite:///{db_path}")


def test_bad_urls_and_paths_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store.open("nonsense")
    with pytest.raises(StoreError):
        Store.open("nosuchdb://host/db")
    (tmp_path / "a-folder.db").mkdir()
    with pytest.raises(StoreError):
        Store.open(f"sqlite:///{tmp_path / 'a-folder.db'}")


def test_recipients_are_active_subscribed_members_in_id_order(store: Store) -> None:
    ids = _people(store, "weekly", *(f"p{i}@example.com" for i in range(7)))
    _people(store, "other", "elsewhere@example.com")
    lib.unsubscribe(store, "p1@example.com", "weekly")
    lib.unsubscribe(store, "p2@example.com")  # from everything
    with store.begin() as tx:
        tx.set_subscriber_status(ids[3], "bounced", NOW)
        tx.set_subscriber_status(ids[4], "complained", NOW)
    lib.forget(store, "p5@example.com")

    got = list(store.recipients("weekly", page_size=2))  # several pages
    assert [r.email for r in got] == ["p0@example.com", "p6@example.com"]
    assert [r.id for r in got] == sorted(r.id for r in got)
    assert all(r.list_id == got[0].list_id for r in got)


def test_recipients_see_an_unsubscribe_that_lands_mid_send(store: Store) -> None:
    _people(store, "weekly", *(f"p{i}@example.com" for i in range(5)))
    seen = []
    for recipient in store.recipients("weekly", page_size=1):
        seen.append(recipient.email)
        if recipient.email == "p0@example.com":
            lib.unsubscribe(store, "p3@example.com", "weekly")
    assert seen == ["p0@example.com", "p1@example.com", "p2@example.com", "p4@example.com"]


def test_recipients_of_a_missing_list(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        list(store.recipients("nope"))


def test_only_active_subscribed_people_receive_a_list(store: Store) -> None:
    _people(store, "weekly", *(f"{x}@example.com" for x in "abcd"))
    lib.create_list(store, "other")
    lib.unsubscribe(store, "b@example.com", "weekly")
    with store.begin() as tx:
        bounced = tx.subscriber_by_key("c@example.com")
        assert bounced is not None
        tx.set_subscriber_status(bounced.id, "bounced", NOW)
    lib.forget(store, "d@example.com")  # forgotten: no row at all
    assert [r.email for r in store.recipients("weekly")] == ["a@example.com"]
    assert store.count_recipients("weekly") == 1
    assert store.count_recipients("other") == 0  # not on that list


def test_subscriber_ids_are_never_reused(store: Store) -> None:
    # An old unsubscribe token names an id: it must never come to mean someone else.
    (first,) = _people(store, "weekly", "first@example.com")
    lib.forget(store, "first@example.com")
    (second,) = _people(store, "weekly", "second@example.com")
    assert second > first


def test_a_transaction_that_raises_writes_nothing(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.begin() as tx:
        tx.create_list("weekly", NOW)
        raise KeyboardInterrupt
    with store.begin(write=False) as tx:
        assert tx.list_by_name("weekly") is None
