"""Sending to a part of a list: segments, --where and --skip-inactive, over real HTTP to
the SES stub; a reader never gets one issue twice through two campaigns of one list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
from starlette.applications import Starlette

from pipeline.audience import segments
from pipeline.audience.selection import Filter, people
from pipeline.db import Store
from pipeline.delivery import overlap
from pipeline.delivery.sendlog import SendLog
from pipeline.settings import load_settings
from pipeline.web.report_page import routes as report_routes
from tests.support import db
from tests.support.sending import ISSUE, Cli, ok, received, refused, send
from tests.support.ses_stub import SesStub


def _weekly(cli: Cli, project: Path) -> None:
    ok(cli("lists", "create", "weekly"))
    (project / "in.csv").write_text(
        "email,name,tags,city\n"
        "kim@example.com,Kim,vip,Busan\n"
        "lee@example.com,Lee,vip,Seoul\n"
        "park@example.com,Park,,Busan\n"
        "choi@example.com,Choi,,Seoul\n"
    )
    ok(cli("subscribers", "import", "in.csv", "-l", "weekly"))


def test_segments_and_filters_never_send_one_issue_twice(
    cli: Cli, project: Path, stub: SesStub, asgi_client
) -> None:
    _weekly(cli, project)
    ok(cli("segments", "create", "vip", "-l", "weekly", "-w", "TAG:VIP"))
    shown = json.loads(ok(cli("segments", "show", "vip", "-f", "json")).stdout)
    assert shown == {
        "name": "vip",
        "list": "weekly",
        "where": "tag:vip",
        "matching": 2,
        "receiving": 4,
        "sample": ["kim@example.com", "lee@example.com"],
    }
    refused(cli("segments", "create", "vip", "-l", "weekly", "-w", "tag:x"), "exists already")
    refused(cli("segments", "create", "bad", "-l", "weekly", "-w", "tag:"), "line 1, col 5")

    preview = ok(cli("send-test", ISSUE, "-l", "weekly", "-w", "tag:vip and not name ~ 'lee'"))
    assert preview.stdout.splitlines() == ["kim@example.com"]
    assert "would reach 1 reader(s)" in preview.stderr
    refused(cli("send-test", ISSUE, "-w", "tag:vip"), "need --list")

    to_vip = ok(send(cli, "--segment", "vip"))
    assert "audience: segment 'vip' (tag:vip): 2 of the list's 4 active subscribers match" in (
        to_vip.stderr
    )
    assert "recipients: 2" in to_vip.stderr
    busan = ok(send(cli, "--where", 'attr.city = "Busan"'))
    assert "leaving out 1 reader(s) who have issue 25 from another campaign" in busan.stderr
    assert "recipients: 1" in busan.stderr
    refused(send(cli, "--where", "attr.city = 'Busan'"), "already sent")  # the same filter
    later = ok(cli("send-test", ISSUE, "-l", "weekly"))
    assert later.stdout.splitlines() == ["choi@example.com"]
    assert "leaving out 3 reader(s) who have issue 25" in later.stderr
    ok(send(cli))  # the whole list: only Choi is left
    assert received(stub) == {
        "kim@example.com": 1,
        "lee@example.com": 1,
        "park@example.com": 1,
        "choi@example.com": 1,
    }
    refused(send(cli, "--where", "tag:nobody"), "nobody to send issue 25 to")

    log = json.loads(ok(cli("log", "-f", "json")).stdout)
    assert [(c["audience"], c["targeted"]) for c in log] == [
        ("segment 'vip' (tag:vip)", 2),
        ('where attr.city = "Busan"', 1),
        ("whole list", 1),
    ]
    refused(cli("log", ISSUE), "several campaigns", "--campaign")
    one = ok(cli("log", ISSUE, "--campaign", str(log[0]["id"]), "-f", "json")).stdout
    assert {r["email"] for r in json.loads(one)} == {"kim@example.com", "lee@example.com"}
    report = json.loads(ok(cli("report", ISSUE, "-f", "json")).stdout)
    assert [(r["segment"], r["audience"]) for r in report] == [
        ("vip", "tag:vip"),
        (None, 'attr.city = "Busan"'),
        (None, ""),
    ]
    assert "segment vip: tag:vip" in ok(cli("report", ISSUE)).stdout
    # The page is one campaign's: chosen by its id, in the command and on the report page.
    refused(cli("report", ISSUE, "--html", "r.html"), "several campaigns", "--campaign ID")
    vip = str(log[0]["id"])
    ok(cli("report", ISSUE, "--html", "r.html", "--campaign", vip))
    page = (project / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "weekly" in page
    assert (
        json.loads(ok(cli("report", ISSUE, "--campaign", vip, "-f", "json")).stdout)[0]["targeted"]
        == 2
    )
    refused(cli("report", ISSUE, "--html", "r.html", "--campaign", "999"), "no campaign 999")
    with Store.open(db.engine().url.render_as_string(hide_password=False)) as store:
        app = Starlette(routes=report_routes(store, load_settings()))
        with asgi_client(app) as web:
            choice = web.get("/report/25")
            assert choice.status_code == 200
            links = lxml.html.fromstring(choice.text).xpath("//ul/li/a")
            assert [a.text for a in links] == [
                "weekly (tag:vip)",
                'weekly (attr.city = "Busan")',
                "weekly",
            ]
            chosen = web.get(links[0].get("href"))
            assert chosen.status_code == 200 and "<svg" in chosen.text
            assert web.get("/report/25?list=weekly&campaign=999").status_code == 404

    ok(cli("lists", "create", "other"))
    refused(send(cli, "--segment", "vip", list_name="other"), "is of list 'weekly'")
    refused(send(cli, "--segment", "vip", "--where", "tag:vip"), "not both")
    refused(send(cli, "--where", "attr.city = Busan"), 'needs quotes: "Busan"')
    ok(cli("segments", "update", "vip", "-w", "tag:vip or tag:editor"))
    assert "tag:vip or tag:editor" in ok(cli("segments", "list")).stdout
    ok(cli("segments", "delete", "vip"))
    refused(cli("segments", "show", "vip"), "no segment named 'vip'")


def _sent_issue(store: Store, number: int, opened: set[str], clicked: set[str]) -> None:
    """Issue `number` sent to every receiver of weekly, with some opens and clicks."""
    log = SendLog(store)
    campaign, _ = log.start(number, log.list_of("weekly"), f"Issue {number}", dry_run=False)
    db.execute("UPDATE deliveries SET status = 'sent' WHERE campaign_id = ?", campaign.id)
    rows = db.rows(
        "SELECT d.id, d.subscriber_id, d.email FROM deliveries d WHERE d.campaign_id = ?",
        campaign.id,
    )
    now = datetime.now(UTC)
    for delivery, person, email in rows:
        for kind, who in (("Open", opened), ("Click", clicked)):
            if email.split("@")[0] in who:
                db.execute(
                    "INSERT INTO events (event_key, delivery_id, subscriber_id, event_type, "
                    "occurred_at, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    f"{kind}-{delivery}",
                    delivery,
                    person,
                    kind,
                    now,
                    now,
                )


def test_engagement_terms_and_skip_inactive(cli: Cli, project: Path, store: Store) -> None:
    _weekly(cli, project)
    _sent_issue(store, 1, opened={"kim"}, clicked=set())
    _sent_issue(store, 2, opened=set(), clicked={"lee"})
    ok(cli("subscribers", "add", "new@example.com", "-l", "weekly"))  # joined since
    _sent_issue(store, 3, opened=set(), clicked=set())

    def matched(where: str) -> set[str]:
        found = people(store, list_name="weekly", where=Filter.parse(where))
        return {p["email"].split("@")[0] for p in found}

    assert matched("opened in last 3 issues") == {"kim", "lee"}  # a click is an open
    assert matched("opened in last 2 issues") == {"lee"}
    assert matched("clicked in last 3 issues") == {"lee"}
    assert matched("not opened in last 1 issue") == {"kim", "lee", "park", "choi", "new"}
    assert matched("received in last 1 issue") == {"kim", "lee", "park", "choi", "new"}

    weekly = SendLog(store).list_of("weekly").id
    inactive = overlap.count(store, 4, weekly, segments.Audience(skip_inactive=3))
    assert (inactive.inactive, inactive.to_send) == (2, 3)  # park and choi; new joined since
    assert overlap.count(store, 4, weekly, segments.Audience(skip_inactive=9)).inactive == 0

    dry = ok(send(cli, "--skip-inactive", "2", "--dry-run"))
    assert "leaving out 3 inactive reader(s)" in dry.stderr  # kim opened only issue 1
    assert "recipients: 2" in dry.stderr
    refused(send(cli, "--skip-inactive", "500"), "from 1 to 100")
