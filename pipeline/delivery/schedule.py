"""Schedules: a campaign to start at a given time, with the issue as it was rendered.

A schedule moves `scheduled` -> `running` (its campaign started) -> `sent` (the campaign
finished). It becomes `missed` when nobody started it within the grace period after its
time, and `cancelled` by `schedule cancel`. Several schedulers may share one database: the
move to `running` is one conditional UPDATE, and only the scheduler whose UPDATE changed
the row starts the campaign (`claim`). Once its campaign has started, a schedule's state
follows the campaign's by one rule (`follows`), written by `follow` and `settle_finished`
only; `delivery/service.py` calls them for `newsletter send` and the scheduler alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.audience.segments import Audience
from pipeline.audience.selection import Filter
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns, lists, schedules
from pipeline.delivery import senders, snapshot
from pipeline.delivery.send import STOPPED_AT_SHUTDOWN
from pipeline.delivery.senders import LEASE_SECONDS
from pipeline.errors import NewsletterError
from pipeline.issue.build import Build

log = logging.getLogger(__name__)

STATES = ("scheduled", "running", "sent", "missed", "cancelled")
CHANGED = "changed since scheduled: run `schedule` again"


class ScheduleError(NewsletterError):
    """A schedule that cannot be made, changed or started."""


@dataclass(frozen=True)
class Schedule:
    id: int
    issue_number: int
    list_id: int
    list_name: str
    send_at: datetime  # UTC
    timezone: str
    state: str
    source_path: str
    source_sha256: str
    subject: str
    campaign_id: int | None
    note: str | None
    created_at: datetime
    updated_at: datetime
    campaign_status: str | None = None  # running | paused | finished, once it started
    pause_reason: str | None = None
    where: str = ""  # the audience: a filter's text ('' for the whole list), of `segment`
    segment: str | None = None
    skip_inactive: int = 0
    sender_gone: bool = False  # `running`, but no live sender holds it (set by `listing`)

    def audience(self) -> Audience:
        """Who the campaign it starts is for."""
        where = Filter.parse(self.where) if self.where else None
        return Audience(where, self.segment, self.skip_inactive)

    def file_changed(self) -> bool:
        """The file differs from the one rendered (or is gone)."""
        return snapshot.sha256_of(Path(self.source_path)) != self.source_sha256

    @property
    def current_state(self) -> str:
        """The state, with a campaign finished by other senders since the last pass
        counted as `sent` already."""
        if self.state == "running":
            return follows(self.campaign_status)
        return self.state

    def as_dict(self) -> dict[str, Any]:
        changed = self.file_changed()
        return {
            "issue": self.issue_number,
            "list": self.list_name,
            "audience": self.audience().described(),
            "at": self.send_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timezone": self.timezone,
            "state": self.current_state,
            "subject": self.subject,
            "source": self.source_path,
            "file_changed": changed,
            "campaign": self.campaign_id,
            "campaign_status": self.campaign_status,
            "note": self.status_note(changed),
        }

    def status_note(self, changed: bool | None = None) -> str | None:
        """What a person should know: the campaign paused, the file changed, why missed."""
        notes = []
        send = f"newsletter send {self.source_path} --list {self.list_name}"
        send += self.audience().options()
        if self.state == "running" and self.pause_reason == STOPPED_AT_SHUTDOWN:
            notes.append(
                "campaign paused by a shutdown: the scheduler resumes it when `serve` or "
                "`worker` runs again within the grace period; or resume it with "
                f"`{send}`"
            )
        elif self.state == "running" and self.sender_gone:
            notes.append(
                "its sender is gone (killed, or its machine lost): the next scheduler pass "
                f"of `serve` or `worker` takes over, or `{send}` resumes it now"
            )
        elif self.state == "running" and self.campaign_status == "paused":
            why = f": {self.pause_reason}" if self.pause_reason else ""
            notes.append(f"campaign paused{why}; resume with `{send}`")
        elif self.state == "running" and self.campaign_id is None:
            notes.append(
                f"{self.note or 'claimed'}, but its campaign never started (the scheduler "
                f"stopped?): `{send}` starts it from the stored rendering"
            )
        elif self.note:
            notes.append(self.note)
        if self.state == "scheduled" and (self.file_changed() if changed is None else changed):
            notes.append(CHANGED)
        return "; ".join(notes) or None


_COLUMNS = (
    schedules.c.id,
    schedules.c.issue_number,
    schedules.c.list_id,
    lists.c.name,
    schedules.c.send_at,
    schedules.c.timezone,
    schedules.c.state,
    schedules.c.source_path,
    schedules.c.source_sha256,
    schedules.c.subject,
    schedules.c.campaign_id,
    schedules.c.note,
    schedules.c.created_at,
    schedules.c.updated_at,
    campaigns.c.status,
    campaigns.c.pause_reason,
    schedules.c.audience,
    schedules.c.segment,
    schedules.c.skip_inactive,
)
_FROM = schedules.join(lists, lists.c.id == schedules.c.list_id).outerjoin(
    campaigns, campaigns.c.id == schedules.c.campaign_id
)


def _select() -> sa.Select[Any]:
    return sa.select(*_COLUMNS).select_from(_FROM)


def find_in(conn: sa.Connection, issue_number: int, list_id: int) -> Schedule | None:
    row = conn.execute(
        _select().where(schedules.c.issue_number == issue_number, schedules.c.list_id == list_id)
    ).first()
    return Schedule(*row) if row else None


def find(store: Store, issue_number: int, list_id: int) -> Schedule | None:
    with store.begin(write=False) as tx:
        return find_in(tx.conn, issue_number, list_id)


def listing(store: Store, lease_seconds: float = LEASE_SECONDS) -> list[Schedule]:
    """Every schedule, soonest first; a running one whose sender is gone says so."""
    query = _select().order_by(schedules.c.send_at, schedules.c.id)
    with store.begin(write=False) as tx:
        found = [Schedule(*row) for row in tx.conn.execute(query)]
        return [
            replace(s, sender_gone=True)
            if s.state == "running"
            and s.campaign_status == "running"
            and s.campaign_id is not None
            and not senders.alive(tx.conn, s.campaign_id, lease_seconds)
            else s
            for s in found
        ]


def rendering(store: Store, schedule: Schedule) -> Build:
    """The Build the campaign is made from: the stored rendering."""
    with store.begin(write=False) as tx:
        stored = tx.conn.execute(
            sa.select(schedules.c.rendered).where(schedules.c.id == schedule.id)
        ).scalar_one()
    return snapshot.load(stored, f"schedule of issue {schedule.issue_number}")


def mark_missed(store: Store, now: datetime, grace_seconds: int) -> list[Schedule]:
    """Schedules still waiting more than `grace_seconds` after their time become `missed`:
    never sent late in silence. Returns them."""
    late = now - timedelta(seconds=grace_seconds)
    with store.begin() as tx:
        overdue = [
            Schedule(*row)
            for row in tx.conn.execute(
                _select().where(schedules.c.state == "scheduled", schedules.c.send_at < late)
            )
        ]
        missed = []
        for found in overdue:
            deadline = found.send_at + timedelta(seconds=grace_seconds)
            note = (
                f"missed: not started by {deadline:%Y-%m-%d %H:%M} UTC (schedule_grace "
                f"{grace_seconds} s after its time; was the scheduler down?); nothing was sent. "
                f"`newsletter send {found.source_path} --list {found.list_name}` sends it now, "
                "`newsletter schedule` again sets a new time"
            )
            changed = tx.conn.execute(
                sa.update(schedules)
                .where(schedules.c.id == found.id, schedules.c.state == "scheduled")
                .values(state="missed", note=note, updated_at=now)
            ).rowcount
            if changed:
                missed.append(found)
    return missed


def due(store: Store, now: datetime) -> list[Schedule]:
    query = _select().where(schedules.c.state == "scheduled", schedules.c.send_at <= now)
    with store.begin(write=False) as tx:
        return [Schedule(*row) for row in tx.conn.execute(query.order_by(schedules.c.send_at))]


def next_time(store: Store, now: datetime) -> datetime | None:
    """When the next waiting schedule falls due after `now` (None: none waits): the
    scheduler sleeps until then rather than a whole interval."""
    query = sa.select(sa.func.min(schedules.c.send_at)).where(
        schedules.c.state == "scheduled", schedules.c.send_at > now
    )
    with store.begin(write=False) as tx:
        found: datetime | None = tx.conn.execute(query).scalar()
    return found


def claim(store: Store, schedule: Schedule, now: datetime, who: str) -> bool:
    """scheduled -> running, as one conditional UPDATE: true for exactly one claimant,
    whatever the number of schedulers racing for it (PostgreSQL re-checks the WHERE of
    a row another transaction changed; SQLite has one writer at a time)."""
    with store.begin() as tx:
        changed = tx.conn.execute(
            sa.update(schedules)
            .where(schedules.c.id == schedule.id, schedules.c.state == "scheduled")
            .values(state="running", note=f"started by {who}", updated_at=now)
        ).rowcount
    return bool(changed == 1)


def release(store: Store, schedule_id: int, reason: str) -> None:
    """A claimed schedule whose campaign could not start (no subscribers, SES refused the
    account, ...) waits again: retried at the next pass until the grace period runs out,
    then `missed` with this reason in view."""
    with store.begin() as tx:
        tx.conn.execute(
            sa.update(schedules)
            .where(schedules.c.id == schedule_id, schedules.c.state == "running")
            .values(state="scheduled", note=f"could not start: {reason}", updated_at=utcnow())
        )


def follows(campaign_status: str | None) -> str:
    """The one rule between the two state machines: a schedule whose campaign has started
    is `running` until that campaign finishes (whoever sent its last rows), then `sent`."""
    return "sent" if campaign_status == "finished" else "running"


def follow(store: Store, schedule_id: int, campaign_id: int, *, by: str | None = None) -> None:
    """The schedule follows its campaign, by the rule of `follows`, and says who started
    it: the scheduler `by`, or (None) `newsletter send`, which took over a missed, waiting
    or interrupted schedule. A cancelled schedule, or one sent already, is left alone."""
    with store.begin() as tx:
        row = tx.conn.execute(_select().where(schedules.c.id == schedule_id)).first()
        before = Schedule(*row) if row else None
        if before is None or before.state in ("cancelled", "sent"):
            return
        # Only real campaigns follow a schedule: a dry run leaves schedules alone.
        status = tx.conn.execute(
            sa.select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar_one()
        state = follows(status)
        note = before.note
        if by is not None and state == "sent":
            note = None
        elif by is not None:
            note = f"started by {by}"
        elif before.state in ("missed", "scheduled"):
            note = "sent by `newsletter send`" + (
                " after it was missed" if before.state == "missed" else " before its time"
            )
        tx.conn.execute(
            sa.update(schedules)
            .where(schedules.c.id == schedule_id)
            .values(state=state, campaign_id=campaign_id, note=note, updated_at=utcnow())
        )


def settle_finished(store: Store) -> int:
    """Running schedules whose campaign finished (whoever sent its last rows) become
    `sent`, by the rule of `follows`. Returns how many."""
    finished = sa.select(campaigns.c.id).where(campaigns.c.status == "finished")
    with store.begin() as tx:
        changed = tx.conn.execute(
            sa.update(schedules)
            .where(schedules.c.state == "running", schedules.c.campaign_id.in_(finished))
            .values(state=follows("finished"), updated_at=utcnow())
        ).rowcount
    return int(changed or 0)
