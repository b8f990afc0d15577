"""A list over time: who joined, left, bounced and complained in each ISO week (UTC), and
how many were receiving at the end of each week.

The store keeps one row per membership (when it began, when it ended) and every SES event
with its time, so the history is rebuilt from those timestamps: a membership counts at the
end of a week if it began by then, had not ended by then, and its person had not bounced
or complained by then. Times are bucketed in Python, which keeps the SQL the same on SQLite
and PostgreSQL (their date functions differ).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns, deliveries, events, memberships, subscribers

MAX_WEEKS = 26  # half a year of weekly issues fits one chart


@dataclass(frozen=True)
class Week:
    year: int
    number: int
    monday: date

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def end(self) -> datetime:
        """The first instant after the week (Monday 00:00 UTC of the next)."""
        return datetime.combine(self.monday + timedelta(days=7), time(), tzinfo=UTC)


@dataclass(frozen=True)
class WeeklyHistory:
    weeks: list[Week]
    joined: list[int]
    unsubscribed: list[int]
    bounced: list[int]  # distinct messages that bounced (hard or soft) that week
    bounced_permanent: list[int]
    complained: list[int]
    subscribers: list[int]  # receiving at the end of the week
    earlier: int  # how many weeks with data before the first week shown


def week_of(moment: datetime) -> Week:
    day = moment.astimezone(UTC).date()
    year, number, weekday = day.isocalendar()
    return Week(year, number, day - timedelta(days=weekday - 1))


def _time(occurred: datetime | None, received: datetime | None) -> datetime | None:
    return occurred or received


def _receiving(spans: list[tuple[datetime, datetime | None]], ends: list[datetime]) -> list[int]:
    """How many spans cover each week's end (began before it, not ended by it): each span
    covers a run of weeks, found by bisection and added as +1/-1 (a list of 30,000 people
    over 26 weeks takes milliseconds, not seconds)."""
    change = [0] * (len(ends) + 1)
    for began, end in spans:
        first = bisect.bisect_right(ends, began)
        stop = len(ends) if end is None else bisect.bisect_right(ends, end)
        if first < stop:
            change[first] += 1
            change[stop] -= 1
    return list(itertools.accumulate(change[:-1]))


def list_history(store: Store, list_id: int, *, now: datetime | None = None) -> WeeklyHistory:
    """The weekly history of one list, up to the week of `now` (at most MAX_WEEKS)."""
    now = now or utcnow()
    members = sa.select(
        memberships.c.subscriber_id,
        memberships.c.status,
        memberships.c.subscribed_at,
        memberships.c.unsubscribed_at,
        subscribers.c.status.label("person_status"),
        subscribers.c.updated_at,
    ).join(subscribers, subscribers.c.id == memberships.c.subscriber_id)
    members = members.where(memberships.c.list_id == list_id, memberships.c.status != "unconfirmed")
    # Bounces and complaints on this list's campaigns, one per message and kind.
    campaign_events = (
        sa.select(
            events.c.delivery_id,
            events.c.event_type,
            events.c.bounce_type,
            events.c.occurred_at,
            events.c.received_at,
        )
        .join(deliveries, deliveries.c.id == events.c.delivery_id)
        .join(campaigns, campaigns.c.id == deliveries.c.campaign_id)
        .where(
            campaigns.c.list_id == list_id,
            campaigns.c.dry_run.is_(False),
            events.c.event_type.in_(["Bounce", "Complaint"]),
        )
    )
    # When each suppressed member was suppressed: their first complaint or hard bounce
    # (from any list, as suppression is), else their last bounce (three soft ones in a row).
    suppressing = (
        sa.select(
            events.c.subscriber_id,
            events.c.event_type,
            events.c.bounce_type,
            events.c.occurred_at,
            events.c.received_at,
        )
        .join(memberships, memberships.c.subscriber_id == events.c.subscriber_id)
        .where(
            memberships.c.list_id == list_id,
            events.c.event_type.in_(["Bounce", "Complaint"]),
        )
    )
    with store.begin(write=False) as tx:
        member_rows = list(tx.conn.execute(members))
        event_rows = list(tx.conn.execute(campaign_events))
        suppressing_rows = list(tx.conn.execute(suppressing))

    first_hard: dict[int, datetime] = {}  # the first complaint or permanent bounce
    last_soft: dict[int, datetime] = {}  # the last soft bounce (the third in a row)
    for person, kind, bounce_type, occurred, received in suppressing_rows:
        when = _time(occurred, received)
        if when is None:
            continue
        if kind == "Complaint" or bounce_type == "Permanent":
            first_hard[person] = min(when, first_hard.get(person, when))
        else:
            last_soft[person] = max(when, last_soft.get(person, when))

    joined: Counter[Week] = Counter()
    left: Counter[Week] = Counter()
    spans: list[tuple[datetime, datetime | None]] = []
    for person, status, began, ended, person_status, updated in member_rows:
        joined[week_of(began)] += 1
        end = ended if status == "unsubscribed" else None
        if end is not None:
            left[week_of(end)] += 1
        if person_status in ("bounced", "complained"):
            suppressed = first_hard.get(person) or last_soft.get(person) or updated
            end = min(end, suppressed) if end is not None else suppressed
        spans.append((began, end))

    seen: dict[tuple[str, Week], set[int]] = {}
    for delivery, kind, bounce_type, occurred, received in event_rows:
        when = _time(occurred, received)
        if when is None:
            continue
        week = week_of(when)
        seen.setdefault((kind, week), set()).add(delivery)
        if kind == "Bounce" and bounce_type == "Permanent":
            seen.setdefault(("Bounce:Permanent", week), set()).add(delivery)

    data_weeks = {*joined, *left, *(week for _, week in seen)}
    last = max([week_of(now), *data_weeks], key=lambda w: w.monday)
    first = min([last, *data_weeks], key=lambda w: w.monday)
    oldest_shown = last.monday - timedelta(weeks=MAX_WEEKS - 1)
    start = max(first.monday, oldest_shown)
    weeks = []
    day = start
    while day <= last.monday:
        weeks.append(week_of(datetime.combine(day, time(), tzinfo=UTC)))
        day += timedelta(weeks=1)
    earlier = len({w for w in data_weeks if w.monday < start})

    def count(kind: str) -> list[int]:
        return [len(seen.get((kind, week), ())) for week in weeks]

    return WeeklyHistory(
        weeks=weeks,
        joined=[joined[w] for w in weeks],
        unsubscribed=[left[w] for w in weeks],
        bounced=count("Bounce"),
        bounced_permanent=count("Bounce:Permanent"),
        complained=count("Complaint"),
        subscribers=_receiving(spans, [w.end for w in weeks]),
        earlier=earlier,
    )
