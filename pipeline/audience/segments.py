"""Segments: a filter saved under a name for one list (`segments create NAME --list L
--where EXPR`), and the audience of a campaign (the whole list, a segment, a filter, and
who `--skip-inactive` leaves out)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline.audience import filtersql, selection
from pipeline.audience.outcome import Outcome
from pipeline.audience.queries import AudienceTx, receiving
from pipeline.audience.selection import Filter
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import lists, memberships, segments, subscribers
from pipeline.errors import InputError, NotFoundError

SAMPLE = 10  # people `segments show` lists
MAX_SKIP_INACTIVE = 100


@dataclass(frozen=True)
class Segment:
    name: str
    list_name: str
    list_id: int
    expression: str


@dataclass(frozen=True)
class Audience:
    """Who a campaign is for. `key` tells campaigns apart: '' for the whole list, else the
    filter's canonical text (two spellings of one filter are one campaign), and the
    `--skip-inactive` number."""

    where: Filter | None = None
    segment: str | None = None  # the segment's name, for people; its filter is `where`
    skip_inactive: int = 0

    @property
    def key(self) -> str:
        parts = [self.where.text] if self.where else []
        if self.skip_inactive:
            parts.append(f"skip inactive {self.skip_inactive}")
        return " | ".join(parts)

    @property
    def whole_list(self) -> bool:
        return not self.key

    def described(self) -> str:
        """For people: `segment vip (tag:vip)`, `where tag:vip`, `the whole list`."""
        if self.where is None:
            what = "the whole list"
        elif self.segment:
            what = f"segment {self.segment!r} ({self.where.text})"
        else:
            what = f"where {self.where.text}"
        if self.skip_inactive:
            what += f", leaving out readers inactive for {self.skip_inactive} issue(s)"
        return what

    def options(self) -> str:
        """The command-line options that name this audience again (to resume, retry)."""
        found = ""
        if self.segment:
            found += f" --segment {shlex.quote(self.segment)}"
        elif self.where is not None:
            found += f" --where {shlex.quote(self.where.text)}"
        if self.skip_inactive:
            found += f" --skip-inactive {self.skip_inactive}"
        return found

    def condition(self, conn: sa.Connection, list_id: int) -> sa.ColumnElement[bool]:
        """Who of the list's receivers this audience takes (joined as `receiving`)."""
        found: sa.ColumnElement[bool] = sa.true()
        if self.where is not None:
            found = self.where.condition(conn, list_id)
        if self.skip_inactive:
            found = found & sa.not_(filtersql.inactive(list_id, self.skip_inactive))
        return found


def audience(
    store: Store,
    list_name: str,
    *,
    segment: str | None = None,
    where: str | None = None,
    skip_inactive: int = 0,
) -> Audience:
    """The audience `send --segment/--where/--skip-inactive` names, checked."""
    if segment is not None and where is not None:
        raise InputError("give --segment or --where, not both")
    if not 0 <= skip_inactive <= MAX_SKIP_INACTIVE:
        raise InputError(f"--skip-inactive takes a number of issues from 1 to {MAX_SKIP_INACTIVE}")
    if segment is not None:
        found = get(store, segment)
        if found.list_name != list_name:
            raise InputError(
                f"segment {segment!r} is of list {found.list_name!r}, not {list_name!r}",
                hint=f"send it with --list {found.list_name}",
            )
        return Audience(Filter.parse(found.expression), segment, skip_inactive)
    return Audience(selection.parse_where(where), None, skip_inactive)


def inactive_count(store: Store, list_id: int, issues: int) -> int:
    """How many of the list's receivers `--skip-inactive issues` leaves out."""
    with store.begin(AudienceTx, write=False) as tx:
        query = (
            sa.select(sa.func.count())
            .select_from(subscribers)
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(receiving(list_id), filtersql.inactive(list_id, issues))
        )
        return int(tx.conn.execute(query).scalar_one())


# --- segments -----------------------------------------------------------------------------

_COLUMNS = (segments.c.name, lists.c.name, segments.c.list_id, segments.c.expression)


def _query() -> sa.Select[Any]:
    return sa.select(*_COLUMNS).join(lists, lists.c.id == segments.c.list_id)


def get(store: Store, name: str) -> Segment:
    with store.begin(write=False) as tx:
        row = tx.conn.execute(_query().where(segments.c.name == name)).first()
    if row is None:
        raise NotFoundError(
            f"no segment named {name!r}", hint="`newsletter segments list` shows them"
        )
    return Segment(*row)


def all_segments(store: Store) -> list[Segment]:
    with store.begin(write=False) as tx:
        rows = tx.conn.execute(_query().order_by(lists.c.name, segments.c.name)).all()
    return [Segment(*row) for row in rows]


def _checked_name(name: str) -> str:
    if not name.strip() or not name.isprintable() or len(name) > 200:
        raise InputError("a segment's name is one line of visible text, at most 200 characters")
    return name


def create(store: Store, name: str, list_name: str, where: str) -> Outcome:
    chosen = selection.parse_where(where)
    assert chosen is not None
    now = utcnow()
    with store.begin(AudienceTx) as tx:
        mlist = tx.require_list(list_name)
        chosen.condition(tx.conn, mlist.id)  # a filter that cannot run here is refused now
        taken = tx.conn.execute(
            sa.select(segments.c.id).where(segments.c.name == _checked_name(name))
        ).first()
        if taken is not None:
            raise InputError(
                f"a segment named {name!r} exists already",
                hint="change it with `newsletter segments update`",
            )
        tx.conn.execute(
            sa.insert(segments).values(
                name=name, list_id=mlist.id, expression=chosen.text, created_at=now, updated_at=now
            )
        )
    return Outcome(True, f"created segment {name!r} of {list_name!r}: {chosen.text}")


def update(store: Store, name: str, where: str) -> Outcome:
    chosen = selection.parse_where(where)
    assert chosen is not None
    found = get(store, name)
    with store.begin(AudienceTx) as tx:
        chosen.condition(tx.conn, found.list_id)
        tx.conn.execute(
            sa.update(segments)
            .where(segments.c.name == name)
            .values(expression=chosen.text, updated_at=utcnow())
        )
    return Outcome(found.expression != chosen.text, f"segment {name!r} is now: {chosen.text}")


def delete(store: Store, name: str) -> Outcome:
    get(store, name)
    with store.begin() as tx:
        tx.conn.execute(sa.delete(segments).where(segments.c.name == name))
    return Outcome(True, f"deleted segment {name!r} (campaigns sent to it keep its filter)")


def show(store: Store, name: str) -> dict[str, Any]:
    """The segment, how many of its list's receivers it matches now, and a sample."""
    found = get(store, name)
    chosen = Filter.parse(found.expression)
    matching = selection.count(store, found.list_id, chosen)
    people = selection.people(store, list_name=found.list_name, where=chosen, status="active")
    sample = [p["email"] for _, p in zip(range(SAMPLE), people, strict=False)]
    return {
        "name": found.name,
        "list": found.list_name,
        "where": found.expression,
        "matching": matching,
        "receiving": selection.count(store, found.list_id, None),
        "sample": sample,
    }
