"""The scheduler: starts each due campaign from its stored rendering, once.

`Scheduler.loop` is one of the background loops of `newsletter serve` and `newsletter
worker` (a `Callable[[threading.Event], None]`). Each pass (`tick`) marks schedules missed
beyond the grace period, settles the ones whose campaign finished, then claims each due
schedule and sends its campaign through the flow `newsletter send` uses (`service.py`).
The clock is injected, so that tests drive it.

A dry run (`worker --dry-run`) claims nothing and marks nothing: it runs a dry-run
campaign of each due schedule's stored rendering, as `send --dry-run` would, and leaves
the schedule waiting for a real scheduler.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.delivery import campaign as campaigns
from pipeline.delivery import resume, service
from pipeline.delivery import schedule as schedules
from pipeline.delivery.transports.base import Transport
from pipeline.errors import NewsletterError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# The longest sleep between passes: a schedule another process adds is seen this soon.
# A known schedule's time wakes the loop sooner (`_sleep`), so it starts on time.
INTERVAL_SECONDS = 10.0
WAKE_MARGIN_SECONDS = 0.01


@dataclass
class Tick:
    """What one pass did (for logs and tests)."""

    missed: list[schedules.Schedule] = field(default_factory=list)
    started: list[tuple[schedules.Schedule, campaigns.Report]] = field(default_factory=list)
    failed: list[tuple[schedules.Schedule, str]] = field(default_factory=list)
    settled: int = 0


class Scheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        transport: Callable[[], Transport],
        *,
        dry_run: bool = False,
        now: Callable[[], datetime] = utcnow,
        concurrency: int = 16,
    ) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.dry_run = dry_run
        self.now = now
        self.concurrency = concurrency
        self.who = f"scheduler {socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        # A dry run's schedules stay `scheduled`: each is rehearsed once per process.
        self.rehearsed: set[tuple[int, datetime]] = set()

    def loop(self, stop: threading.Event, interval: float = INTERVAL_SECONDS) -> None:
        """Pass after pass until `stop` is set; a failed pass (the database away) is logged
        and tried again at the next."""
        self.stop = stop
        log.info("scheduler started (%s)", "dry run" if self.dry_run else "SES")
        while not stop.is_set():
            try:
                self.tick()
                pause = self._sleep(interval)
            except Exception:
                log.exception("scheduler pass failed; trying again in %.0f s", interval)
                pause = interval
            stop.wait(pause)
        log.info("scheduler stopped")

    def _sleep(self, interval: float) -> float:
        """Seconds until the next schedule falls due, at most `interval`."""
        now = self.now()
        upcoming = schedules.next_time(self.store, now)
        if upcoming is None:
            return interval
        # Just past its time, so that the pass finds it due (send_at <= now).
        return min(interval, (upcoming - now).total_seconds() + WAKE_MARGIN_SECONDS)

    def tick(self) -> Tick:
        if self.dry_run:
            return self._rehearse()
        now = self.now()
        result = Tick()
        result.settled = schedules.settle_finished(self.store)
        for missed in schedules.mark_missed(self.store, now, self.settings.schedule_grace):
            log.warning(
                "the schedule of issue %s to %r at %s was missed (more than %s s late): "
                "not sent; `newsletter send` or `newsletter schedule` again",
                missed.issue_number,
                missed.list_name,
                f"{missed.send_at:%Y-%m-%d %H:%M} UTC",
                self.settings.schedule_grace,
            )
            result.missed.append(missed)
        due = schedules.due(self.store, now)
        if due:
            # Before claiming: without the key no link can be signed, and a claimed
            # schedule would wait for a person; unclaimed, it is missed in plain view.
            self.settings.require_secret_key()
        for found in due:
            if self.stop.is_set():
                break
            if not schedules.claim(self.store, found, now, self.who):
                continue  # another scheduler won it: it starts the campaign
            self._start(found, result)
        for lost in resume.take_over_lost(self.store, self.settings.sender_lease_seconds):
            log.warning("scheduled issue %s to %r: its sender is gone; taking over",
                        lost.issue_number, lost.list_name)  # fmt: skip
        # Campaigns that a shutdown (a deploy, a restart) paused, or whose sender died, go
        # on where they stopped.
        for found in resume.resumable(self.store):
            if self.stop.is_set():
                break
            if resume.claim_resume(self.store, found, now, self.settings.schedule_grace):
                log.info("resuming scheduled issue %s to %r (%s)", found.issue_number,
                         found.list_name, found.pause_reason)  # fmt: skip
                self._start(found, result)
        return result

    def _rehearse(self) -> Tick:
        """The dry run's pass: reads the schedules, writes nothing a real scheduler acts
        on (no claim, no `missed`, no resume), and logs what a real pass would do."""
        now = self.now()
        result = Tick()
        late = now - timedelta(seconds=self.settings.schedule_grace)
        for found in schedules.due(self.store, now):
            key = (found.id, found.created_at)
            if self.stop.is_set():
                break
            if key in self.rehearsed:
                continue
            self.rehearsed.add(key)
            if found.send_at < late:
                log.warning(
                    "dry run: the schedule of issue %s to %r is past its grace period; a real "
                    "scheduler would mark it missed (nothing changed)",
                    found.issue_number,
                    found.list_name,
                )
                result.missed.append(found)
                continue
            self.settings.require_secret_key()  # as a real pass: links are signed
            self._start(found, result)
        return result

    def _start(self, found: schedules.Schedule, result: Tick) -> None:
        try:
            result.started.append((found, self._send(found)))
        except NewsletterError as exc:
            reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
            log.error("scheduled issue %s to %r: %s", found.issue_number, found.list_name,
                      reason)  # fmt: skip
            result.failed.append((found, reason))

    def _send(self, found: schedules.Schedule) -> campaigns.Report:
        request = service.Request(
            found.list_name,
            dry_run=self.dry_run,
            concurrency=self.concurrency,
            lease_seconds=self.settings.sender_lease_seconds,
            audience=found.audience(),
        )
        if self.dry_run:  # a dry-run campaign of the stored rendering; the schedule waits
            built = schedules.rendering(self.store, found)
            prepared = service.prepare(self.store, request, self.transport, built=built)
        else:
            prepared = service.prepare(
                self.store, request, self.transport, schedule=found, by=self.who
            )
        log.info(
            "%s scheduled issue %s to %r: %s message(s)",
            "dry run: logging (not sending)" if self.dry_run else "starting",
            found.issue_number,
            found.list_name,
            prepared.plan.to_send,
        )
        for warning in prepared.plan.warnings:
            log.warning("issue %s: %s", found.issue_number, warning)
        report = service.run_campaign(
            self.store,
            self.settings,
            prepared,
            on_note=lambda text: log.info("issue %s: %s", found.issue_number, text),
            stop=self.stop,
        )
        if report.campaign.status == "finished" and self.dry_run:
            log.info(
                "dry run of scheduled issue %s to %r done: nothing sent to SES; the schedule "
                "still waits for `serve` or `worker` (without --dry-run) to send it",
                found.issue_number,
                found.list_name,
            )
        elif report.campaign.status == "finished":
            log.info("scheduled issue %s to %r sent", found.issue_number, found.list_name)
        else:
            why = report.pause_reason or "stopped with the scheduler"
            log.warning(
                "scheduled issue %s to %r paused: %s; resume with `newsletter send %s --list %s`",
                found.issue_number,
                found.list_name,
                why,
                found.source_path,
                found.list_name,
            )
        return report
