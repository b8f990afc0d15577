"""Copy every row of one newsletter database into another, empty one: SQLite to PostgreSQL
when a list outgrows one machine, or back.

The tables are not listed here: they are read from the schema itself (the source as the
migrations made it, reflected), in the order of their foreign keys, so a table a future
revision adds is copied without anyone remembering to add it. Only Alembic's own
bookkeeping is left out (the target is migrated to the same revision first).

The whole copy is one read of the source (a snapshot: `serve` and `send` may keep writing)
and one transaction on the target: a copy that fails or is interrupted leaves the target
with its schema and no rows, ready for another try. Before committing, each table's rows
are counted and hashed on both sides (an order-free checksum of each row's values, times
in UTC); any difference rolls everything back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db import migrate
from pipeline.db.bulk import copy_rows, is_postgresql
from pipeline.db.schema import QUERY_TABLES, ts
from pipeline.db.store import Store
from pipeline.errors import StoreError

# Bookkeeping, not data: the target gets its own from the migrations.
NOT_COPIED = frozenset({"alembic_version", "schema_version"})
BATCH_ROWS = 5000
_DIGEST_BYTES = 16
_MODULUS = 2 ** (8 * _DIGEST_BYTES)


@dataclass(frozen=True)
class TableCopy:
    """One table's outcome: rows copied and the checksum both sides agreed on."""

    name: str
    rows: int
    checksum: str


@dataclass
class CopyProgress:
    table: str
    done: int
    total: int


def tables(conn: Connection) -> list[sa.Table]:
    """Every table of the database's schema that holds data, parents before children,
    with the store's type for its times (see `_agree_on_times`)."""
    metadata = sa.MetaData()
    metadata.reflect(conn)
    found = [table for table in metadata.sorted_tables if table.name not in NOT_COPIED]
    for table in found:
        for column in table.columns:
            if isinstance(column.type, sa.DateTime) or (table.name, column.name) in _SHAPED_TIMES:
                column.type = ts
            elif conn.dialect.name == "sqlite" and isinstance(column.type, sa.Numeric):
                # SQLite reads an unknown declared type ("TIMESTAMP WITH TIME ZONE" from a
                # plain ALTER TABLE) as NUMERIC; its values pass through as they are.
                column.type = sa.types.NullType()
    return found


# The times the queries' shapes know (schema.py): times whichever type SQLite reports.
_SHAPED_TIMES = frozenset(
    (table.name, column.name)
    for table in QUERY_TABLES
    for column in table.columns
    if isinstance(column.type, type(ts))
)


def _agree_on_times(*sides: dict[str, sa.Table]) -> None:
    """A column that is a time on either side is read and written as one on both (UTC,
    aware), so neither backend's own reading of a naive time decides its zone."""
    for side in sides:
        for name, table in side.items():
            for column in table.columns:
                if isinstance(column.type, type(ts)):
                    for other in sides:
                        if name in other and column.name in other[name].columns:
                            other[name].columns[column.name].type = ts


class Checksum:
    """An order-free digest of rows: the sum of each row's hash, so the two backends may
    return rows in different orders (their collations differ) and still agree. A row is
    hashed as the text of its values, its times (the positions in `times`) in UTC."""

    def __init__(self, times: Sequence[int] = ()) -> None:
        self.times = tuple(times)
        self.total = 0
        self.rows = 0

    def add(self, row: Sequence[Any]) -> None:
        values = list(row)
        for position in self.times:
            if values[position] is not None:
                values[position] = values[position].astimezone(UTC).isoformat()
        digest = hashlib.blake2b(repr(values).encode(), digest_size=_DIGEST_BYTES).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % _MODULUS
        self.rows += 1

    def hexdigest(self) -> str:
        return f"{self.total:0{_DIGEST_BYTES * 2}x}"


def _columns(table: sa.Table, names: Sequence[str]) -> list[sa.Column[Any]]:
    return [table.columns[name] for name in names]


def _time_positions(columns: Sequence[sa.Column[Any]]) -> list[int]:
    return [i for i, column in enumerate(columns) if isinstance(column.type, type(ts))]


def _batches(
    conn: Connection, columns: Sequence[sa.Column[Any]], size: int
) -> Iterator[list[sa.Row[Any]]]:
    # On the statement: a connection's execution_options would stay on its later inserts.
    query = sa.select(*columns).execution_options(stream_results=True, yield_per=size)
    result = conn.execute(query)
    yield from (list(part) for part in result.partitions(size))


def _checksum(conn: Connection, columns: Sequence[sa.Column[Any]]) -> Checksum:
    checksum = Checksum(_time_positions(columns))
    for batch in _batches(conn, columns, BATCH_ROWS):
        for row in batch:
            checksum.add(row)
    return checksum


def _row_count(conn: Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def refuse_unless_empty(target: Store) -> None:
    """A target with rows in any table is refused: a copy never merges."""
    shown = target.engine.url.render_as_string(hide_password=True)
    with target.engine.connect() as conn:
        inspector = sa.inspect(conn)
        names = [name for name in inspector.get_table_names() if name not in NOT_COPIED]
        metadata = sa.MetaData()
        for name in names:
            table = sa.Table(name, metadata)
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                raise StoreError(
                    f"the target database {shown} is not empty: table {name} has rows",
                    hint="copy into a new, empty database (createdb, or a new SQLite file)",
                )
        if names and migrate.current(conn) is None:
            raise StoreError(
                f"the target database {shown} has tables of something else ({names[0]}, ...)",
                hint="copy into a new, empty database (createdb, or a new SQLite file)",
            )


def _reset_sequences(conn: Connection, copied: list[sa.Table]) -> None:
    """PostgreSQL's id sequences continue after the copied ids (SQLite's AUTOINCREMENT
    follows inserted ids by itself)."""
    if conn.dialect.name != "postgresql":
        return
    for table in copied:
        for column in table.primary_key.columns:
            sequence = conn.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            conn.execute(
                sa.text(
                    "SELECT setval(CAST(:sequence AS regclass), "
                    f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'
                ),
                {"sequence": sequence},
            )


def _same_database(one: sa.URL, other: sa.URL) -> bool:
    if one.get_backend_name() == other.get_backend_name() == "sqlite":
        return Path(one.database or "").resolve() == Path(other.database or "").resolve()
    key = ("host", "port", "database")
    return one.get_backend_name() == other.get_backend_name() and all(
        getattr(one, name) == getattr(other, name) for name in key
    )


def copy_database(
    source: Store,
    target_url: str,
    *,
    batch: int = BATCH_ROWS,
    on_progress: Callable[[CopyProgress], None] | None = None,
) -> list[TableCopy]:
    """Copy every table of `source` into the empty database at `target_url` (migrated
    here first); the tables with their row counts and checksums, verified on both sides."""
    report = on_progress or (lambda progress: None)
    source_shown = source.engine.url.render_as_string(hide_password=True)
    with Store.open(target_url, migrate=False) as target:
        if _same_database(target.engine.url, source.engine.url):
            raise StoreError(
                f"{source_shown} is the database in use; the copy needs another one",
                hint="give --to the URL of a new, empty database",
            )
        refuse_unless_empty(target)
        target.migrate()
        with source.engine.connect() as read, target.engine.connect() as write:
            if read.dialect.name == "postgresql":
                # One snapshot of every table, whatever serve and send write meanwhile.
                read = read.execution_options(isolation_level="REPEATABLE READ")
            write = write.execution_options(newsletter_write=True)
            with read.begin(), write.begin():
                source_tables = tables(read)
                target_tables = {table.name: table for table in tables(write)}
                _agree_on_times({t.name: t for t in source_tables}, target_tables)
                missing = [t.name for t in source_tables if t.name not in target_tables]
                if missing:
                    raise StoreError(
                        f"the target has no table {missing[0]} after migrating",
                        hint="both databases must be at the same schema revision",
                    )
                copied = [
                    _copy_table(read, write, table, target_tables[table.name], batch, report)
                    for table in source_tables
                ]
                _reset_sequences(write, list(target_tables.values()))
    return copied


def _driver_errors(conn: Connection) -> tuple[type[Exception], ...]:
    """What the target raises for a row it refuses (COPY goes to psycopg directly)."""
    if is_postgresql(conn):
        import psycopg

        return (sa.exc.DBAPIError, psycopg.Error)
    return (sa.exc.DBAPIError,)


def _copy_table(
    read: Connection,
    write: Connection,
    source: sa.Table,
    target: sa.Table,
    batch: int,
    report: Callable[[CopyProgress], None],
) -> TableCopy:
    total = _row_count(read, source)
    columns = [column.name for column in source.columns]
    unknown = [name for name in columns if name not in target.columns]
    if unknown:
        raise StoreError(
            f"table {source.name}: the target has no column {unknown[0]}",
            hint="both databases must be at the same schema revision",
        )
    reading = _columns(source, columns)
    checksum = Checksum(_time_positions(reading))
    report(CopyProgress(source.name, 0, total))
    insert = target.insert()
    for rows in _batches(read, reading, batch):
        for row in rows:
            checksum.add(row)
        try:
            if is_postgresql(write):
                # COPY: several times the rate of INSERTs (rows already in the target's types).
                copy_rows(write, target.name, columns, rows)
            else:
                write.execute(insert, [dict(zip(columns, row, strict=True)) for row in rows])
        except _driver_errors(write) as exc:
            # SQLite keeps what PostgreSQL refuses (a NUL in text, a string in a number).
            first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(
                f"table {source.name}: the target refused a row ({first}); nothing was copied",
                hint=f"fix or remove that row in the source (one of rows "
                f"{checksum.rows - len(rows) + 1}-{checksum.rows} of {source.name}), then copy "
                "again into the target, still empty",
            ) from None
        report(CopyProgress(source.name, checksum.rows, total))
    written = _checksum(write, _columns(target, columns))
    if (written.rows, written.hexdigest()) != (checksum.rows, checksum.hexdigest()):
        raise StoreError(
            f"table {source.name}: the copy does not match ({checksum.rows} rows read, "
            f"{written.rows} written, checksums differ); nothing was copied",
            hint="report this as a bug, with the two database versions",
        )
    return TableCopy(source.name, checksum.rows, checksum.hexdigest())
