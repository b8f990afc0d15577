"""Fixed-window rate limits kept in the database (`rate_limits`), so that every web worker
on every machine counts against the same limit.

One atomic upsert per hit: the row of a key is created, counted up, or restarted when its
window has passed, and the new count comes back in the same statement. Two workers that
hit at once are serialised by the row itself (the primary key), never by a read followed
by a write that another worker could slip between.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pipeline.db.schema import rate_limits

_table = sa.Table(
    "rate_limits",
    sa.MetaData(),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("window_start", rate_limits.c.window_start.type, nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
)


def hit(conn: Connection, key: str, *, limit: int, window: float, now: datetime) -> bool:
    """Count one hit for `key`; True while the window holds at most `limit` hits."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_table).values(key=key[:128], window_start=now, hits=1)
    cutoff = now - timedelta(seconds=window)
    expired = _table.c.window_start <= sa.bindparam(
        "cutoff", cutoff, type_=_table.c.window_start.type
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[_table.c.key],
        set_={
            "hits": sa.case((expired, 1), else_=_table.c.hits + 1),
            "window_start": sa.case(
                (expired, stmt.excluded.window_start), else_=_table.c.window_start
            ),
        },
    ).returning(_table.c.hits)
    hits = int(conn.execute(upsert).scalar_one())
    return hits <= limit


def forget_expired(conn: Connection, *, window: float, now: datetime) -> int:
    """Delete counters whose window has passed (they would restart anyway)."""
    cutoff = now - timedelta(seconds=window)
    return conn.execute(sa.delete(_table).where(_table.c.window_start <= cutoff)).rowcount
