"""The store handle: the engine and its transactions, for SQLite (the embedded default)
and PostgreSQL.

SQLAlchemy 2 Core. The only SQLite-specific statements are the PRAGMAs applied on connect
and `BEGIN IMMEDIATE` for writers. The queries live with the parts of the product that own
them (`audience.queries`, `delivery.sendlog`, `feedback.eventstore`); this module opens the
database, runs transactions and applies the migrations of `schema.py`. A part whose queries
are methods of its own transaction class asks for it: `store.begin(AudienceTx)`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self, TypeVar, overload

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from pipeline.db import migrate as migrations
from pipeline.errors import StoreError
from pipeline.settings import hide_password

log = logging.getLogger(__name__)


class Transaction:
    """One database transaction; nothing in it commits early."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.discard = False  # set to roll back at the end instead of committing


TxT = TypeVar("TxT", bound=Transaction)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself: the driver's legacy mode would run DDL and
        # SELECTs outside any transaction, breaking transactional migrations.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")  # wait for another writer, don't fail
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and
        # then writes can fail with "database is locked" despite busy_timeout.
        immediate = conn.get_execution_options().get("newsletter_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """A database: open with `Store.open(url)`, use as a context manager, work in `begin()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Threads of one process take turns here, at once,
        # rather than in SQLite's busy handler, which polls with growing sleeps (a quarter of
        # `serve`'s time under a burst of SES events); other processes still wait there.
        self._writer: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @classmethod
    def open(
        cls, database_url: str, *, migrate: bool = True, connections: int | None = None
    ) -> Self:
        """`connections`: the connections the pool keeps open, for a process that uses that
        many threads at once (`serve`); SQLAlchemy's default (5) otherwise. Beyond them the
        pool opens overflow connections and closes them again as soon as they are returned:
        cheap for an occasional burst, costly under sustained load."""
        shown = hide_password(database_url)  # never a password in a message
        hint = "check database_url (NEWSLETTER_DATABASE_URL)"
        try:
            url = sa.make_url(database_url)
        except (ArgumentError, ValueError) as exc:  # ValueError: a port that is no number
            raise StoreError(f"bad database URL {shown!r}: {exc}", hint=hint) from None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = Path(url.database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder for {path}: {exc}", hint=hint) from None
            if path.is_dir():
                raise StoreError(f"{path}: the database is a folder, not a file", hint=hint)
        try:
            engine = sa.create_engine(url, **({"pool_size": connections} if connections else {}))
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use database {shown!r}: {exc}", hint=hint) from None
        if engine.dialect.name == "sqlite":
            _sqlite_setup(engine)
        store = cls(engine)
        try:
            if migrate:
                store.migrate()
            else:
                store.schema_version()
        except DatabaseError as exc:
            # The first statement: a file that is no database (a text file, an image) or
            # a server that refuses us says so here.
            store.close()
            raise StoreError(
                f"cannot open the database {shown}: {exc.orig}",
                hint=f"{hint}: it must name a newsletter database (or a new file)",
            ) from None
        return store

    def close(self) -> None:
        self.engine.dispose()

    @property
    def connections(self) -> int:
        """The connections the pool keeps open (see `open`)."""
        pool = self.engine.pool
        return pool.size() if isinstance(pool, sa.pool.QueuePool) else 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @overload
    def begin(self, *, write: bool = True) -> AbstractContextManager[Transaction]: ...

    @overload
    def begin(self, tx_class: type[TxT], *, write: bool = True) -> AbstractContextManager[TxT]: ...

    def begin(
        self, tx_class: type[Transaction] = Transaction, *, write: bool = True
    ) -> AbstractContextManager[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises (a
        crash or Ctrl-C included) or if the block set `tx.discard`. `tx_class` is a
        subclass of `Transaction` carrying a part's queries (`audience.queries.AudienceTx`);
        without one the block gets the plain connection as `tx.conn`."""
        return self._transaction(tx_class, write)

    @contextmanager
    def _transaction(self, tx_class: type[TxT], write: bool) -> Iterator[TxT]:
        try:
            with self._writer if write else nullcontext(), self.engine.connect() as conn:
                conn.execution_options(newsletter_write=write)
                with conn.begin() as trans:
                    tx = tx_class(conn)
                    yield tx
                    if tx.discard:
                        trans.rollback()
        except OperationalError as exc:
            raise StoreError(
                f"database error: {exc.orig}",
                hint="another newsletter command may be writing; try again"
                if "locked" in str(exc.orig)
                else "check the database at "
                + self.engine.url.render_as_string(hide_password=True),
            ) from None

    def schema_version(self) -> str | None:
        """The database's schema revision (None before the first migration)."""
        try:
            with self.engine.connect() as conn:
                return migrations.current(conn)
        except DatabaseError as exc:
            shown = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"the database {shown} does not answer: {exc.orig}") from None

    def migrate(self, location: Path | None = None) -> str:
        """Bring the schema to the newest revision (see `migrate.py`); return it."""
        try:
            return migrations.migrate(self.engine, location or migrations.MIGRATIONS)
        except DatabaseError as exc:
            shown = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(
                f"cannot open the database {shown}: {exc.orig}",
                hint="check database_url (NEWSLETTER_DATABASE_URL): the server, the file "
                "and its folder, and that it is a newsletter database",
            ) from None
