"""Looking into the database the way a test does, on either backend: plain SQL with `?`
placeholders, each call in its own short connection."""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

_engines: dict[str, sa.Engine] = {}
_copies = itertools.count(1)


def engine(url: str | None = None) -> sa.Engine:
    url = url or os.environ["NEWSLETTER_DATABASE_URL"]
    if url not in _engines:
        _engines[url] = sa.create_engine(url, poolclass=NullPool)
    return _engines[url]


def _statement(sql: str, args: tuple[Any, ...]) -> tuple[sa.TextClause, dict[str, Any]]:
    names = iter(range(len(args)))
    text = re.sub(r"\?", lambda _: f":p{next(names)}", sql)
    return sa.text(text), {f"p{i}": value for i, value in enumerate(args)}


def rows(sql: str, *args: Any, url: str | None = None) -> list[sa.Row[Any]]:
    statement, params = _statement(sql, args)
    with engine(url).connect() as conn:
        return list(conn.execute(statement, params))


def one(sql: str, *args: Any, url: str | None = None) -> Any:
    found = rows(sql, *args, url=url)
    return found[0][0] if found else None


def execute(sql: str, *args: Any, url: str | None = None) -> None:
    statement, params = _statement(sql, args)
    with engine(url).begin() as conn:
        conn.execute(statement, params)


def another_database(request: Any, name: str = "second") -> str:
    """One more empty database of the test's backend, besides `database_url` (for a test
    that moves data from one database to another): `name`.db in the test's folder, or a
    new database on the test run's PostgreSQL server."""
    if request.getfixturevalue("backend") == "postgresql":
        return str(request.getfixturevalue("postgres_server").create_database())
    return f"sqlite:///{request.getfixturevalue('tmp_path') / f'{name}.db'}"


def fresh_database(backend: str, folder: Any, request: Any) -> str:
    """An empty database of `backend` outside any one test (for data made once per
    module): `sent.db` in `folder`, or a new database on the run's PostgreSQL server."""
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_server").create_database())
    return f"sqlite:///{folder / 'sent.db'}"


def copy_postgres_database(url: str) -> str:
    """A new PostgreSQL database made from the database at `url` (as its template: nothing
    may be connected to it meanwhile); its URL."""
    source = sa.make_url(url)
    target = f"{source.database}_copy_{next(_copies)}"
    admin = sa.create_engine(source.set(database="postgres"), poolclass=NullPool)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(
                f'CREATE DATABASE "{target}" TEMPLATE "{source.database}" STRATEGY FILE_COPY'
            )
    finally:
        admin.dispose()
    return source.set(database=target).render_as_string(hide_password=False)


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema, as the first command would, and
    leave nothing connected to it."""
    from pipeline.db import Store

    Store.open(url).close()
