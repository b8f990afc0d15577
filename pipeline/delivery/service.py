"""One send flow for `newsletter send` and the scheduler: plan the campaign, take over
the issue's schedule, run it, settle it.

`prepare` works out what will happen (the CLI shows it and asks in between), and
`run_campaign` sends and keeps the schedule in step with the campaign (`schedule.follow`).
The CLI prints and the scheduler logs; neither writes a schedule's state by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.audience.segments import Audience
from pipeline.db import Store
from pipeline.delivery import campaign as campaigns
from pipeline.delivery import schedule as schedules
from pipeline.delivery.send import Progress, SendOptions
from pipeline.delivery.senders import LEASE_SECONDS
from pipeline.delivery.sendlog import Campaign
from pipeline.delivery.settling import UNKNOWN_SETTLE_SECONDS
from pipeline.delivery.transports.base import Transport
from pipeline.errors import NewsletterError
from pipeline.issue.build import Build
from pipeline.settings import Settings

# A dry run calls no SES: no pace to keep, and big claims, since nothing leaves the machine.
DRY_RUN_RATE = 1e9
DRY_RUN_CONCURRENCY = 2
DRY_RUN_WINDOW = 500


@dataclass(frozen=True)
class Request:
    """What to send: the issue to one list, and how."""

    list_name: str
    dry_run: bool = False
    rate: float | None = None  # None: the account's MaxSendRate
    concurrency: int = 16
    retry_unknown: bool = False
    retry_failed: bool = False
    lease_seconds: float = LEASE_SECONDS  # the `sender_lease_seconds` setting
    unknown_settle_seconds: float = UNKNOWN_SETTLE_SECONDS  # the setting of that name
    audience: Audience = field(default_factory=Audience)  # the whole list


@dataclass(frozen=True)
class Prepared:
    """A campaign planned and ready to run: what `send` shows before it asks."""

    plan: campaigns.Plan
    transport: Transport
    options: SendOptions
    schedule: schedules.Schedule | None  # the issue's schedule to the list this send carries out
    by: str | None  # the scheduler that claimed the schedule; None for `newsletter send`


def take_over(
    store: Store,
    issue_number: int,
    list_id: int,
    *,
    dry_run: bool = False,
    audience: Audience | None = None,
) -> schedules.Schedule | None:
    """The issue's schedule to this list that a `send` to the same audience takes the place
    of: waiting, missed, or running after a crash. A dry run leaves schedules alone."""
    if dry_run:
        return None
    found = schedules.find(store, issue_number, list_id)
    if found is None or found.state in ("cancelled", "sent"):
        return None
    if found.audience().key != (audience or Audience()).key:
        return None
    return found


def prepare(
    store: Store,
    request: Request,
    make: Callable[[], Transport],
    *,
    built: Build | None = None,
    schedule: schedules.Schedule | None = None,
    by: str | None = None,
) -> Prepared:
    """Plan the campaign. A schedule the scheduler `by` claimed, or one whose campaign
    started already, goes out from its stored rendering: the whole list gets the issue as
    it was scheduled, whatever became of the file since. Should the plan fail, a claimed
    schedule waits again."""
    if schedule is not None and (by is not None or built is None or schedule.state == "running"):
        built = schedules.rendering(store, schedule)
    assert built is not None, "an issue or a schedule to send"
    transport = make()
    try:
        the_plan = campaigns.plan(
            store,
            built,
            request.list_name,
            transport,
            rate=DRY_RUN_RATE if request.dry_run else request.rate,
            dry_run=request.dry_run,
            retry_unknown=request.retry_unknown,
            retry_failed=request.retry_failed,
            lease_seconds=request.lease_seconds,
            unknown_settle_seconds=request.unknown_settle_seconds,
            audience=request.audience,
        )
    except NewsletterError as exc:
        if schedule is not None and by is not None:
            schedules.release(store, schedule.id, exc.message)
        raise
    options = SendOptions(
        rate=the_plan.rate,
        concurrency=DRY_RUN_CONCURRENCY if request.dry_run else request.concurrency,
        window=DRY_RUN_WINDOW if request.dry_run else None,
        lease_seconds=request.lease_seconds,
    )
    return Prepared(the_plan, transport, options, schedule, by)


def run_campaign(
    store: Store,
    settings: Settings,
    prepared: Prepared,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> campaigns.Report:
    """Run the planned campaign to its end or its pause, the schedule following it: it is
    `running` from the campaign's start and `sent` once the campaign finishes."""
    schedule = prepared.schedule

    def started(campaign: Campaign, to_send: int) -> None:
        if schedule is not None:
            schedules.follow(store, schedule.id, campaign.id, by=prepared.by)

    report = campaigns.run(
        store,
        settings,
        prepared.plan,
        prepared.transport,
        prepared.options,
        on_progress=on_progress,
        on_start=started,
        on_note=on_note,
        stop=stop,
    )
    if schedule is not None:
        schedules.follow(store, schedule.id, report.campaign.id, by=prepared.by)
    return report
