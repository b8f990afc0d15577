"""What a person does to the schedules: make one (`schedule ISSUE --list L --at TIME`,
replacing the issue's schedule to that list) and cancel one (`schedule cancel`). The
scheduler's own moves, and the rule a started schedule follows, are in `schedule.py`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pipeline.audience.records import MailingList
from pipeline.audience.segments import Audience
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns
from pipeline.db.schema import schedules as table
from pipeline.delivery import schedule as schedules
from pipeline.delivery import snapshot
from pipeline.errors import InputError, NotFoundError
from pipeline.issue.build import Build


def save(
    store: Store,
    built: Build,
    mailing_list: MailingList,
    send_at: datetime,
    zone: str,
    web_html: str,
    *,
    source_sha256: str,
    now: datetime | None = None,
    audience: Audience | None = None,
) -> tuple[schedules.Schedule, schedules.Schedule | None]:
    """Store the schedule with the rendering and its `audience` (by default the whole
    list), replacing the issue's schedule to this list (one transaction). Returns the new
    schedule and the one it replaced."""
    audience = audience or Audience()
    assert built.issue is not None and built.rendered is not None
    now = now or utcnow()
    if send_at <= now:
        raise InputError(f"{send_at:%Y-%m-%d %H:%M} UTC is in the past", hint="give a later time")
    number = built.issue.number
    with store.begin() as tx:
        started = tx.conn.execute(
            sa.select(campaigns.c.status).where(
                campaigns.c.issue_number == number,
                campaigns.c.list_id == mailing_list.id,
                campaigns.c.dry_run.is_(False),
                campaigns.c.audience == audience.key,
            )
        ).scalar()
        if started is not None:
            raise schedules.ScheduleError(
                f"issue {number} has a {started} campaign to list {mailing_list.name!r} already",
                hint=f"`newsletter send {built.path} --list {mailing_list.name}` resumes an "
                "unfinished one; `newsletter log` shows it",
            )
        previous = schedules.find_in(tx.conn, number, mailing_list.id)
        tx.conn.execute(
            sa.delete(table).where(
                table.c.issue_number == number, table.c.list_id == mailing_list.id
            )
        )
        tx.conn.execute(
            sa.insert(table).values(
                issue_number=number,
                list_id=mailing_list.id,
                send_at=send_at,
                timezone=zone,
                state="scheduled",
                source_path=str(built.path.resolve()),
                source_sha256=source_sha256,
                subject=built.rendered.subject,
                rendered=snapshot.dump(built.rendered, web_html),
                created_at=now,
                updated_at=now,
                audience=audience.where.text if audience.where else "",
                segment=audience.segment,
                skip_inactive=audience.skip_inactive,
            )
        )
        saved = schedules.find_in(tx.conn, number, mailing_list.id)
    assert saved is not None
    return saved, previous


def cancel(store: Store, issue_number: int, mailing_list: MailingList) -> schedules.Schedule:
    """A scheduled (or missed) schedule becomes `cancelled`; a started one cannot be."""
    found = schedules.find(store, issue_number, mailing_list.id)
    if found is None:
        raise NotFoundError(
            f"issue {issue_number} is not scheduled to list {mailing_list.name!r}",
            hint="`newsletter schedule list` shows the schedules",
        )
    return cancel_as_read(store, found)


def cancel_as_read(store: Store, found: schedules.Schedule) -> schedules.Schedule:
    """Cancel `found` if it is still in the state it was read in: one conditional UPDATE,
    so a scheduler (or `send`) that claimed it since wins, and the cancel says so rather
    than overwrite a schedule whose campaign is going out."""
    where = f"the schedule of issue {found.issue_number} to {found.list_name!r}"
    if found.state in ("running", "sent"):
        raise schedules.ScheduleError(
            f"{where} is {found.state}: its campaign has started",
            hint="stop a running send with Ctrl-C; `newsletter log` shows the campaign",
        )
    now = utcnow()
    with store.begin() as tx:
        changed = tx.conn.execute(
            sa.update(table)
            .where(table.c.id == found.id, table.c.state == found.state)
            .values(state="cancelled", note=f"cancelled at {now:%Y-%m-%d %H:%M} UTC")
            .values(updated_at=now)
        ).rowcount
        after = schedules.find_in(tx.conn, found.issue_number, found.list_id)
    if changed != 1 or after is None or after.id != found.id:
        raise schedules.ScheduleError(
            f"{where} changed while it was being cancelled: it is "
            f"{after.current_state if after else 'gone'} now"
            + (f" ({after.note})" if after and after.note else "")
            + "; nothing was cancelled",
            hint="`newsletter schedule list` shows it; `newsletter log` shows a started campaign",
        )
    return after
