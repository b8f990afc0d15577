"""A campaign to report on, as the report tests share it: issue 25 sent to `weekly` through
the SES stub, SES events fed through `newsletter events ingest`, and the list's history
placed in chosen ISO weeks by setting its timestamps in the database.

The story, in weeks before the current one (W-3 .. W0, UTC):
- W-3: reader000, reader001, reader002 join; W-2: reader003, reader004 join;
- W-1: the campaign starts; reader001..004 are delivered, reader000 bounces (permanent);
  reader001 opens twice, reader002 and reader003 once; reader002 clicks twice on one link,
  reader003 once; reader004 unsubscribes;
- W0: reader001 complains.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.db.schema import campaigns, lists, memberships, subscribers
from tests.support import db
from tests.support.cli import ok
from tests.support.sending import Cli, deliveries, make_list, people, send, use_ses
from tests.support.ses_stub import SesStub

MEMBERS = people(5)
EMAILS = [email for email, _ in MEMBERS]
LINK = "https://stripe.com/blog/online-migrations"


def monday(weeks_back: int, now: datetime | None = None) -> datetime:
    """Monday 00:00 UTC of the ISO week `weeks_back` weeks before the current one."""
    today = (now or datetime.now(UTC)).date()
    start = today - timedelta(days=today.weekday(), weeks=weeks_back)
    return datetime.combine(start, time(), tzinfo=UTC)


def at(weeks_back: int, day: int = 1, hour: int = 10) -> datetime:
    """A moment inside that week: `day` days after its Monday (0-6), at `hour` UTC."""
    return monday(weeks_back) + timedelta(days=day, hours=hour)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(kind: str, message_id: str, email: str, when: datetime, **detail: Any) -> dict[str, Any]:
    """A bare SES event of `kind` (Delivery, Open, Click, Bounce, Complaint) at `when`."""
    mail = {"messageId": message_id, "timestamp": _stamp(when), "destination": [email]}
    body: dict[str, Any] = {"timestamp": _stamp(when), **detail}
    if kind == "Bounce":
        body = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": email, "diagnosticCode": "smtp; 550 5.1.1"}],
            **body,
        }
    if kind == "Complaint":
        body = {"complainedRecipients": [{"emailAddress": email}], **body}
    return {"eventType": kind, "mail": mail, kind.lower(): body}


def ingest(cli: Cli, path: Path, documents: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    ok(cli("events", "ingest", path))


def send_issue(cli: Cli, monkeypatch: pytest.MonkeyPatch, *list_names: str) -> None:
    """Issue 25 sent through the SES stub to each list (all five members on each)."""
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        for name in list_names:
            make_list(cli, name, MEMBERS)
            ok(send(cli, list_name=name))


def _membership(email: str, list_name: str) -> sa.ColumnElement[bool]:
    person = sa.select(subscribers.c.id).where(subscribers.c.email_key == email.lower())
    found = sa.select(lists.c.id).where(lists.c.name == list_name)
    return (memberships.c.subscriber_id == person.scalar_subquery()) & (
        memberships.c.list_id == found.scalar_subquery()
    )


def set_membership(email: str, list_name: str, **times: datetime) -> None:
    """Set a membership's `subscribed_at` / `unsubscribed_at` directly in the database."""
    with db.engine().begin() as conn:
        conn.execute(sa.update(memberships).where(_membership(email, list_name)).values(**times))


def set_campaign_start(moment: datetime) -> None:
    with db.engine().begin() as conn:
        conn.execute(sa.update(campaigns).values(started_at=moment, created_at=moment))


def the_story(project: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The campaign and list history described at the top of this module."""
    send_issue(cli, monkeypatch, "weekly")
    ids = {email: row["message_id"] for email, row in deliveries().items()}
    for email in EMAILS[:3]:
        set_membership(email, "weekly", subscribed_at=at(3))
    for email in EMAILS[3:]:
        set_membership(email, "weekly", subscribed_at=at(2))
    set_campaign_start(at(1, day=0))
    r0, r1, r2, r3, r4 = EMAILS
    documents = [event("Delivery", ids[e], e, at(1, day=0, hour=11)) for e in EMAILS[1:]]
    documents += [event("Bounce", ids[r0], r0, at(1, day=0, hour=11))]
    documents += [
        event("Open", ids[r1], r1, at(1, day=1)),
        event("Open", ids[r1], r1, at(1, day=2)),
        event("Open", ids[r2], r2, at(1, day=1)),
        event("Open", ids[r3], r3, at(1, day=1)),
        event("Click", ids[r2], r2, at(1, day=1), link=LINK),
        event("Click", ids[r2], r2, at(1, day=3), link=LINK),
        event("Click", ids[r3], r3, at(1, day=1), link=LINK),
        event("Complaint", ids[r1], r1, at(0, day=0, hour=1)),
    ]
    ingest(cli, project / "events.jsonl", documents)
    ok(cli("subscribers", "unsubscribe", r4, "--list", "weekly"))
    set_membership(r4, "weekly", unsubscribed_at=at(1, day=4))


# What the story shows, week by week from W-3 to W0.
STORY_WEEKS = {
    "subscribers": [3, 5, 3, 2],
    "joined": [3, 2, 0, 0],
    "unsubscribed": [0, 0, 1, 0],
    "bounced": [0, 0, 1, 0],
    "complained": [0, 0, 0, 1],
}
