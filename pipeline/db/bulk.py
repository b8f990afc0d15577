"""Bulk writes that play to each backend's strengths: PostgreSQL's COPY, and one array
parameter instead of a thousand bind parameters. An import of a million rows spends its
time in the database, not in building and parsing statements."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY rows into `table` on PostgreSQL, inside the connection's transaction."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def any_of(column: sa.ColumnElement[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column IN values`: on PostgreSQL one array parameter (`= ANY(:values)`), elsewhere
    the usual list of bind parameters."""
    if not values:
        return sa.false()
    return column == sa.any_(sa.bindparam("values", list(values), type_=postgresql.ARRAY(sa.Text)))
