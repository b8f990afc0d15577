"""Looking into the database the way a test does, on either backend: plain SQL with `?`
placeholders, each call in its own short connection."""

from __future__ import annotations

import os
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

_engines: dict[str, sa.Engine] = {}


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
