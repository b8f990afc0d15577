"""A filter's tree (`filters.py`) as a SQLAlchemy condition on `subscribers` (joined on
`memberships` for a list). Every value the publisher typed is a bound parameter; the SQL
around it is ours.

Attributes are JSON text: read with SQLite's `json_extract`/`json_type`, and PostgreSQL's
`->`, `->>` and `jsonb_typeof` on the text cast to jsonb. A comparison with a number
compares numbers, where the stored value is a JSON number or text that is one (`"42"`,
`-3.5`); with a date (`2024-01-01`), where the stored text begins with an ISO date; with
quoted text, the value as text. Anything else does not match: a filter never fails on a
person's data.

Engagement counts the list's last N issues that were sent for real (not dry runs), each
issue once however many campaigns (segments) carried it: received = a delivery `sent`;
opened = an Open or a Click event (a click is an open whose images were blocked);
clicked = a Click event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from pipeline.audience import filtertree as f
from pipeline.db.schema import (
    campaigns,
    deliveries,
    events,
    memberships,
    subscribers,
    tags,
    ts,
)
from pipeline.errors import InputError

Condition = sa.ColumnElement[bool]


@dataclass(frozen=True)
class Scope:
    """Where a filter runs: the backend, and the list whose membership `status` and
    `joined` mean and whose issues engagement counts (None: every person, no list)."""

    dialect: str  # "sqlite" | "postgresql"
    list_id: int | None
    now: datetime


def condition(node: f.Node, scope: Scope) -> Condition:
    match node:
        case f.AnyOf(items):
            return sa.or_(*(condition(i, scope) for i in items))
        case f.AllOf(items):
            return sa.and_(*(condition(i, scope) for i in items))
        case f.Not(item):
            # NOT of something unknown (a missing attribute) is "no" too, never NULL:
            # `not attr.city = "Busan"` matches the people without a city.
            return sa.not_(sa.func.coalesce(condition(item, scope), False))
        case f.Compare(name, op, value):
            return _compare(_Attribute(name, scope.dialect), op, value)
        case f.Exists(name):
            return _Attribute(name, scope.dialect).kind().is_not(None)
        case f.Contains(field, text, exact):
            return _contains(field, text, exact)
        case f.Tagged(tag):
            # IN, not EXISTS: the planner may then start from the tag's index and read
            # only its people (a tenth of a list, say) instead of every row's attributes.
            tagged = sa.select(tags.c.subscriber_id).where(tags.c.tag == sa.literal(tag))
            return subscribers.c.id.in_(tagged.correlate(None))
        case f.Status(value, negated):
            found = _status(value, scope)
            return sa.not_(found) if negated else found
        case f.Joined(op, day):
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return _ordered(_joined(scope), op, sa.literal(moment, ts))
        case f.JoinedWithin(days):
            return _joined(scope) >= sa.literal(scope.now - timedelta(days=days), ts)
        case f.Engaged(what, issues):
            return _engaged(what, issues, _need_list(scope, what))
    raise AssertionError(node)  # pragma: no cover


def _need_list(scope: Scope, what: str) -> int:
    if scope.list_id is None:
        raise InputError(
            f"'{what} in last N issues' counts the issues of one list",
            hint="name the list with --list",
        )
    return scope.list_id


def _ordered(left: Any, op: str, right: Any) -> Condition:
    compare: dict[str, Any] = {
        "=": left.__eq__,
        "!=": left.__ne__,
        "<": left.__lt__,
        "<=": left.__le__,
        ">": left.__gt__,
        ">=": left.__ge__,
    }
    return compare[op](right)  # type: ignore[no-any-return]


class _Attribute:
    """One attribute of the person, as each backend reads it from the JSON text."""

    def __init__(self, name: str, dialect: str) -> None:
        self.postgresql = dialect == "postgresql"
        if self.postgresql:
            self.json = sa.cast(subscribers.c.attributes, JSONB)[name]
        else:
            self.path = sa.literal(f'$."{name}"', sa.Text)

    def kind(self) -> sa.ColumnElement[Any]:
        """The JSON type's name (null, text/string, integer/real/number, true, false...)."""
        if self.postgresql:
            return sa.func.jsonb_typeof(self.json)
        return sa.func.json_type(subscribers.c.attributes, self.path)

    def text(self) -> sa.ColumnElement[Any]:
        """The value as text: a string as it is, a number or true/false as JSON writes it."""
        if self.postgresql:
            text: sa.ColumnElement[Any] = self.json.astext
            return text
        # A simple CASE reads its operand once: SQLite parses the JSON at each call.
        return sa.case(
            {"true": sa.literal("true"), "false": sa.literal("false")},
            value=self.kind(),
            else_=sa.cast(self.raw(), sa.Text),
        )

    def raw(self) -> sa.ColumnElement[Any]:
        """SQLite: the value as SQL (text, integer, real; true and false as 1 and 0)."""
        return sa.func.json_extract(subscribers.c.attributes, self.path)

    def number(self) -> sa.ColumnElement[Any]:
        """The value as a number where it is one, or text that is one; else NULL."""
        if not self.postgresql:
            return self._sqlite_number()
        text = self.text()
        numeric = text.regexp_match(sa.literal(r"^[+-]?[0-9]+(\.[0-9]+)?$"))
        return sa.case(
            (self.kind() == "number", sa.cast(text, sa.Numeric)),
            ((self.kind() == "string") & numeric, sa.cast(text, sa.Numeric)),
        )

    def _sqlite_number(self) -> sa.ColumnElement[Any]:
        # Each use of `raw` parses the JSON again (SQLite before 3.45 keeps no cache), so
        # the type is read once (a simple CASE) and the text's checks are few.
        raw, glob = self.raw(), sa.func.glob
        numeric = (
            glob(sa.literal("[0-9+-]*"), raw)
            & glob(sa.literal("*[0-9]"), raw)
            & sa.not_(glob(sa.literal("*[^0-9.]*"), sa.func.substr(raw, 2)))
            & sa.not_(glob(sa.literal("*.*.*"), raw))
        )
        boolean = self.kind().in_(["true", "false"])  # json_extract makes them 1 and 0
        return sa.case(
            {
                "integer": sa.case((boolean, sa.null()), else_=raw),
                "real": raw,
                "text": sa.case((numeric, sa.cast(raw, sa.Float))),
            },
            value=sa.func.typeof(raw),
        )

    def day(self) -> sa.ColumnElement[Any]:
        """The first ten characters where the text begins with a date (YYYY-MM-DD)."""
        text = self.text()
        if self.postgresql:
            dated = text.regexp_match(sa.literal(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"))
        else:
            dated = sa.func.glob(sa.literal("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"), text)
        return sa.case((dated, sa.func.substr(text, 1, 10)))


def _compare(attribute: _Attribute, op: str, value: f.Value) -> Condition:
    if isinstance(value, Decimal):
        typed: Any = sa.Numeric(60, 20) if attribute.postgresql else sa.Float()
        bound = sa.literal(value if attribute.postgresql else float(value), typed)
        left = attribute.number()
    elif isinstance(value, str):
        bound, left = sa.literal(value, sa.Text), attribute.text()
    else:
        bound, left = sa.literal(value.isoformat(), sa.Text), attribute.day()
    if op == "!=":  # not equal, or not there at all: the opposite of `=`
        return sa.not_(sa.func.coalesce(left == bound, False))
    return _ordered(left, op, bound)


def _contains(field: str, text: str, exact: bool) -> Condition:
    column = subscribers.c.email_key if field == "email" else sa.func.lower(subscribers.c.name)
    if exact:
        return column == sa.literal(text.lower(), sa.Text)
    return column.contains(text.lower(), autoescape=True)


def _status(value: str, scope: Scope) -> Condition:
    person = subscribers.c.status
    if scope.list_id is None:
        return person == sa.literal(value)
    member = memberships.c.status
    if value == "active":
        return (person == "active") & (member == "subscribed")
    if value == "unconfirmed":
        return (person == "active") & (member == "unconfirmed")
    if value == "unsubscribed":
        return (person == "unsubscribed") | (member == "unsubscribed")
    return person == sa.literal(value)


def _joined(scope: Scope) -> sa.ColumnElement[Any]:
    """When they joined the list (or, without a list, when they first arrived)."""
    return memberships.c.subscribed_at if scope.list_id is not None else subscribers.c.created_at


def recent_campaigns(list_id: int, issues: int) -> sa.Select[Any]:
    """The real campaigns of the list's last `issues` issues (by when each started)."""
    sent = (campaigns.c.list_id == list_id) & campaigns.c.dry_run.is_(False)
    last = (
        sa.select(campaigns.c.issue_number)
        .where(sent, campaigns.c.started_at.is_not(None))
        .group_by(campaigns.c.issue_number)
        .order_by(sa.func.max(campaigns.c.started_at).desc())
        .limit(issues)
        .correlate(None)
    )
    return sa.select(campaigns.c.id).where(sent, campaigns.c.issue_number.in_(last)).correlate(None)


def _engaged(what: str, issues: int, list_id: int) -> Condition:
    recent = recent_campaigns(list_id, issues)
    if what == "received":
        return sa.exists().where(
            deliveries.c.subscriber_id == subscribers.c.id,
            deliveries.c.campaign_id.in_(recent),
            deliveries.c.status == "sent",
        )
    kinds = ["Open", "Click"] if what == "opened" else ["Click"]
    theirs = sa.select(deliveries.c.id).where(
        deliveries.c.subscriber_id == subscribers.c.id, deliveries.c.campaign_id.in_(recent)
    )
    return sa.exists().where(
        events.c.subscriber_id == subscribers.c.id,
        events.c.event_type.in_(kinds),
        events.c.delivery_id.in_(theirs.scalar_subquery()),
    )


def inactive(list_id: int, issues: int) -> Condition:
    """`--skip-inactive N`: received each of the list's last N issues and neither opened
    nor clicked any of them. Someone who joined since missed one, so is kept; so is
    everyone while the list has sent fewer than N issues."""
    recent = recent_campaigns(list_id, issues)
    received = (
        sa.select(sa.func.count(sa.distinct(campaigns.c.issue_number)))
        .select_from(deliveries.join(campaigns, campaigns.c.id == deliveries.c.campaign_id))
        .where(
            deliveries.c.subscriber_id == subscribers.c.id,
            deliveries.c.campaign_id.in_(recent),
            deliveries.c.status == "sent",
        )
        .scalar_subquery()
    )
    return (received >= issues) & sa.not_(_engaged("opened", issues, list_id))
