"""What the send tests share: people on a list, the AWS environment pointed at a local SES,
and the send log read straight from the database."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.db import Store
from pipeline.db.schema import DELIVERY_STATUSES
from pipeline.delivery.sendlog import Campaign, SendLog
from tests.support import db
from tests.support.cli import ROOT, SAMPLE_ISSUE, Result, ok
from tests.support.cli import refused as refused  # re-exported: the send tests take both from here
from tests.support.ses_stub import AcceptedMessage, SesStub

Cli = Callable[..., Result]
ISSUE = SAMPLE_ISSUE
ISSUE_NUMBER = 25
SUBJECT = (
    "Article Weekly #25: Meta의 대규모 AI 인프라, Pinterest 확장기, Stripe 무중단 마이그레이션"
)


def use_ses(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> None:
    """Point boto3's standard configuration at a local SES (and nothing of the user's)."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", endpoint_url)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def people(n: int, domain: str = "example.com", prefix: str = "reader") -> list[tuple[str, str]]:
    return [(f"{prefix}{i:03d}@{domain}", f"독자 {i}") for i in range(n)]


def make_list(cli: Cli, name: str, members: list[tuple[str, str]]) -> None:
    """Create a list and import its members, as a publisher would (a CSV file)."""
    ok(cli("lists", "create", name, "--exist-ok"))
    path = Path(f"{name}-import.csv")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name"])
        writer.writerows(members)
    ok(cli("subscribers", "import", str(path), "--list", name))


def send(cli: Cli, *args: str, list_name: str = "weekly", rate: str = "1000") -> Result:
    return cli("send", ISSUE, "--list", list_name, "--yes", "--rate", rate, *args)


def store() -> Store:
    return Store.open(os.environ["NEWSLETTER_DATABASE_URL"])


def campaign(list_name: str = "weekly", *, dry_run: bool = False) -> Campaign | None:
    with store() as db:
        log = SendLog(db)
        return log.find(ISSUE_NUMBER, log.list_of(list_name).id, dry_run=dry_run)


def deliveries(list_name: str = "weekly", *, dry_run: bool = False) -> dict[str, dict[str, Any]]:
    """The campaign's rows by address."""
    found = campaign(list_name, dry_run=dry_run)
    assert found is not None, "no campaign"
    with store() as db:
        return {row["email"]: row for row in SendLog(db).deliveries(found.id)}


def counts(list_name: str = "weekly", *, dry_run: bool = False) -> dict[str, int]:
    found = campaign(list_name, dry_run=dry_run)
    assert found is not None, "no campaign"
    with store() as db:
        return SendLog(db).counts(found.id)


def by_status(rows: dict[str, dict[str, Any]], status: str) -> set[str]:
    return {email for email, row in rows.items() if row["status"] == status}


def assert_accounted(found: dict[str, int], targeted: int) -> None:
    """targeted = pending + sending + sent + failed + skipped + unknown."""
    assert set(found) == set(DELIVERY_STATUSES)
    assert sum(found.values()) == targeted, found


def received(stub: SesStub) -> Counter[str]:
    """How many copies each address received at the stub."""
    return stub.per_recipient()


def assert_log_matches_stub(
    stub: SesStub, rows: dict[str, dict[str, Any]], uncertain: tuple[str, ...] = ("unknown",)
) -> None:
    """Every `sent` row is a message the stub accepted (same id, same address); every
    accepted message is a `sent` row, or belongs to a row the log calls uncertain."""
    accepted = {m.message_id: m.recipient_addresses for m in stub.accepted}
    for email, row in rows.items():
        if row["status"] == "sent":
            assert accepted.get(row["message_id"]) == [email], (email, row)
    sent_ids = {row["message_id"] for row in rows.values() if row["status"] == "sent"}
    unsure = {email for status in uncertain for email in by_status(rows, status)}
    for message_id, addresses in accepted.items():
        if message_id not in sent_ids:
            assert set(addresses) <= unsure, (message_id, addresses)


# --- the real command in a process of its own (to kill it) -----------------------------------


def spawn_send(*args: str, list_name: str = "weekly") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "pipeline", "send", str(ISSUE), "--list", list_name]
    return subprocess.Popen(
        [*command, "--yes", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def db_counts() -> dict[str, int]:
    """Counts of the (only) real campaign, each poll in its own short read: safe while
    other processes are sending (SQLite in WAL mode and PostgreSQL never block a reader)."""
    try:
        rows = db.rows(
            "SELECT d.status, count(*) FROM deliveries d JOIN campaigns c ON c.id = d.campaign_id "
            "WHERE c.dry_run = ? GROUP BY d.status",
            False,
        )
    except sa.exc.OperationalError:  # SQLite: the database or its tables are not there yet
        rows = []
    except sa.exc.ProgrammingError:  # PostgreSQL: the tables are not there yet
        rows = []
    found = {status: count for status, count in rows}
    return {status: found.get(status, 0) for status in DELIVERY_STATUSES}


def wait_until_sent(
    process: subprocess.Popen[str], at_least: int, targeted: int, timeout: float = 30
) -> list[dict[str, int]]:
    """Poll the log until `at_least` rows are sent; every sample must account for everyone."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = db_counts()
        if sum(found.values()):
            assert_accounted(found, targeted)
            samples.append(found)
            if found["sent"] >= at_least:
                return samples
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.kill()
    raise AssertionError(f"fewer than {at_least} sent in {timeout} s: {samples[-1:]}")


# --- SES's own record: events of what the stub accepted ------------------------------------


def ses_events(
    messages: list[AcceptedMessage], kinds: tuple[str, ...] = ("Send", "Delivery")
) -> list[dict[str, Any]]:
    """The events SES would publish for accepted messages (event publishing's shape, the
    message's tags in `mail.tags`), `kinds` for each."""
    made = []
    for message in messages:
        mail = {
            "timestamp": "2026-03-02T09:00:00.000Z",
            "messageId": message.message_id,
            "source": message.from_address,
            "destination": message.recipient_addresses,
            "tags": {name: [value] for name, value in message.tags.items()},
        }
        for kind in kinds:
            event: dict[str, Any] = {"eventType": kind, "mail": mail}
            recipient = [{"emailAddress": message.recipient_addresses[0]}]
            if kind == "Bounce":
                event["bounce"] = {"bounceType": "Permanent", "bouncedRecipients": recipient}
            elif kind == "Complaint":
                event["complaint"] = {"complainedRecipients": recipient}
            else:
                event[kind[0].lower() + kind[1:]] = {"timestamp": mail["timestamp"]}
            made.append(event)
    return made


def ingest_events(cli: Cli, events: list[dict[str, Any]], name: str = "events.jsonl") -> Result:
    """Feed events through `newsletter events ingest`, the path a saved file takes."""
    path = Path(name)
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return ok(cli("events", "ingest", str(path)))
