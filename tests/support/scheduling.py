"""What the schedule tests share: a copy of the sample issue to edit, a time to schedule
it at, a clock the test moves, and a scheduler wired to a local SES."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.db import Store
from pipeline.delivery.scheduler import Scheduler
from pipeline.delivery.transports.dryrun import DryRunTransport
from pipeline.delivery.transports.ses import SesTransport
from pipeline.settings import load_settings
from tests.support.cli import SAMPLE_ISSUE, Result, ok

Cli = Callable[..., Result]
OLD_SUBJECT = (
    "Article Weekly #25: Meta의 대규모 AI 인프라, Pinterest 확장기, Stripe 무중단 마이그레이션"
)
NEW_SUBJECT = "Article Weekly #25, edited after it was scheduled"


def issue_copy(folder: Path) -> Path:
    """The sample issue in the project's issues/ folder, free to edit."""
    path = folder / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, path)
    return path


def edit_subject(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert OLD_SUBJECT in text
    path.write_text(text.replace(OLD_SUBJECT, NEW_SUBJECT), encoding="utf-8")


def tomorrow(hours: int = 24) -> datetime:
    """A whole minute some hours from now, in UTC: in the future for the `schedule` command."""
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


class Clock:
    """The scheduler's `now`, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.time = start

    def __call__(self) -> datetime:
        return self.time

    def set(self, moment: datetime) -> None:
        self.time = moment


def scheduler(store: Store, clock: Callable[[], datetime], *, dry_run: bool = False) -> Scheduler:
    """A scheduler as `serve` makes it: SES by the standard AWS configuration (the test's
    environment points it at the stub), or the dry-run transport."""
    settings = load_settings()

    def transport() -> SesTransport | DryRunTransport:
        if dry_run:
            return DryRunTransport()
        return SesTransport(configuration_set=settings.configuration_set, max_connections=4)

    return Scheduler(store, settings, transport, dry_run=dry_run, now=clock, concurrency=4)


def listed(cli: Cli) -> list[dict[str, Any]]:
    """`schedule list --format json`."""
    found: list[dict[str, Any]] = json.loads(ok(cli("schedule", "list", "--format", "json")).stdout)
    return found


def only(cli: Cli) -> dict[str, Any]:
    found = listed(cli)
    assert len(found) == 1, found
    return found[0]
