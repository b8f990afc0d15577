"""The store: SQLite settings, and what the send step reads from it, on each backend
(migrations: test_migrations.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience import subscribers as lib
from pipeline.audience.queries import AudienceTx, count_recipients, recipients
from pipeline.db import Store, Transaction, migrate
from pipeline.db.schema import lists
from pipeline.errors import NotFoundError, StoreError

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def _people(store: Store, list_name: str, *emails: str) -> list[int]:
    lib.create_list(store, list_name, exist_ok=True)
    for email in emails:
        lib.add(store, email, list_name)
    with store.begin(AudienceTx, write=False) as tx:
        return [tx.subscriber_by_key(e.lower()).id for e in emails]  # type: ignore[union-attr]


def test_opening_an_empty_database_gives_the_latest_schema(store: Store) -> None:
    assert store.schema_version() == migrate.head()


@pytest.mark.single_backend  # SQLite's own: the file's folder, WAL mode and the pragmas
def test_opening_creates_the_folder_and_the_latest_schema(tmp_path: Path) -> None:
    db_path = tmp_path / "nested" / "folder" / "newsletter.db"
    with Store.open(f"sqlite:///{db_path}") as store:
        assert db_path.exists()
        assert store.schema_version() == migrate.head()
        raw = sqlite3.connect(db_path)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.close()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000


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
    with store.begin(AudienceTx) as tx:
        tx.set_subscriber_status(ids[3], "bounced", NOW)
        tx.set_subscriber_status(ids[4], "complained", NOW)
    lib.forget(store, "p5@example.com")

    got = list(recipients(store, "weekly", page_size=2))  # several pages
    assert [r.email for r in got] == ["p0@example.com", "p6@example.com"]
    assert [r.id for r in got] == sorted(r.id for r in got)
    assert all(r.list_id == got[0].list_id for r in got)


def test_recipients_see_an_unsubscribe_that_lands_mid_send(store: Store) -> None:
    _people(store, "weekly", *(f"p{i}@example.com" for i in range(5)))
    seen = []
    for recipient in recipients(store, "weekly", page_size=1):
        seen.append(recipient.email)
        if recipient.email == "p0@example.com":
            lib.unsubscribe(store, "p3@example.com", "weekly")
    assert seen == ["p0@example.com", "p1@example.com", "p2@example.com", "p4@example.com"]


def test_recipients_of_a_missing_list(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        list(recipients(store, "nope"))


def test_only_active_subscribed_people_receive_a_list(store: Store) -> None:
    _people(store, "weekly", *(f"{x}@example.com" for x in "abcd"))
    lib.create_list(store, "other")
    lib.unsubscribe(store, "b@example.com", "weekly")
    with store.begin(AudienceTx) as tx:
        bounced = tx.subscriber_by_key("c@example.com")
        assert bounced is not None
        tx.set_subscriber_status(bounced.id, "bounced", NOW)
    lib.forget(store, "d@example.com")  # forgotten: no row at all
    assert [r.email for r in recipients(store, "weekly")] == ["a@example.com"]
    assert count_recipients(store, "weekly") == 1
    assert count_recipients(store, "other") == 0  # not on that list


def test_subscriber_ids_are_never_reused(store: Store) -> None:
    # An old unsubscribe token names an id: it must never come to mean someone else.
    (first,) = _people(store, "weekly", "first@example.com")
    lib.forget(store, "first@example.com")
    (second,) = _people(store, "weekly", "second@example.com")
    assert second > first


def test_a_transaction_that_raises_writes_nothing(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.begin(AudienceTx) as tx:
        tx.create_list("weekly", NOW)
        raise KeyboardInterrupt
    with store.begin(AudienceTx, write=False) as tx:
        assert tx.list_by_name("weekly") is None


def test_a_plain_transaction_and_the_audiences_share_one_database(store: Store) -> None:
    # Delivery and feedback open plain transactions for their own SQL; the audience's
    # queries come with its transaction class. Both see the same rows, and a discarded
    # block writes nothing whichever class it used.
    with store.begin(AudienceTx) as tx:
        tx.create_list("weekly", NOW)
    with store.begin() as plain:
        assert type(plain) is Transaction
        names = plain.conn.execute(sa.select(lists.c.name)).scalars().all()
        plain.conn.execute(sa.delete(lists))
        plain.discard = True
    assert names == ["weekly"]
    with store.begin(AudienceTx, write=False) as tx:
        assert tx.list_by_name("weekly") is not None
