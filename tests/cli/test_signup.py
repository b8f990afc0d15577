"""`newsletter form`, `newsletter signups` and `signups send`, and consent in
`subscribers show`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from lxml import html as lxml_html

from pipeline.audience import signup
from pipeline.db import Store
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import ok, refused


def test_the_form_snippet_posts_to_the_public_url(project: Path, cli) -> None:
    refused(cli("form"), "no list is public")
    ok(cli("lists", "create", "weekly", "--public", "--description", "<b>매주</b>"))
    ok(cli("lists", "create", "staff"))
    snippet = ok(cli("form")).stdout
    form = lxml_html.fragment_fromstring(snippet)
    assert form.tag == "form" and form.get("method") == "post"
    assert form.get("action") == "https://weekly.example.com/subscribe"
    assert [i.get("value") for i in form.iter("input") if i.get("name") == "list"] == ["weekly"]
    email = form.get_element_by_id("signup-email")
    assert email.get("autocomplete") == "email"
    labels = {label.get("for") for label in form.iter("label")}
    assert {"signup-email", "signup-name", "signup-website", "list-0"} <= labels
    trap = form.get_element_by_id("signup-website")
    assert trap.get("tabindex") == "-1" and trap.get("autocomplete") == "off"
    assert "<b>" not in snippet and "staff" not in snippet


def test_signups_shows_and_sends_with_a_dry_run(project: Path, cli, database_url: str) -> None:
    ok(cli("lists", "create", "weekly", "--public"))
    with Store.open(database_url) as store:
        fields = {"email": ["reader@example.com"], "list": ["weekly"]}
        client = signup.Client("192.0.2.9", "browser")
        signup.receive(store, load_settings(), fields, client, now=datetime.now(UTC))
    rows = {r["what"]: r["count"] for r in json.loads(ok(cli("signups", "-f", "json")).stdout)}
    assert rows["signup requests waiting"] == 1 and rows["outbox pending"] == 0
    sent = ok(cli("signups", "send", "--dry-run"))
    assert "handled 1 signup request(s) (1 confirmation(s) queued); sent 1" in sent.stderr
    assert db.one("SELECT status FROM outbox") == "sent"
    assert db.one("SELECT message_id FROM outbox").startswith("dry-run-")
    shown = json.loads(ok(cli("subscribers", "show", "reader@example.com", "-f", "json")).stdout)
    (consent,) = shown["consents"]
    assert consent["method"] == "form" and consent["ip"] == "192.0.2.9"
    assert consent["user_agent"] == "browser" and consent["confirmed_at"] is None
    assert shown["lists"][0]["status"] == "unconfirmed"


def test_subscribers_add_records_consent(project: Path, cli) -> None:
    ok(cli("lists", "create", "weekly"))
    ok(cli("subscribers", "add", "kim@example.com", "--list", "weekly"))
    shown = json.loads(ok(cli("subscribers", "show", "kim@example.com", "-f", "json")).stdout)
    (consent,) = shown["consents"]
    assert (consent["list"], consent["method"]) == ("weekly", "command")
    assert consent["confirmed_at"] == consent["requested_at"]
    table = ok(cli("subscribers", "show", "kim@example.com")).stdout
    assert "consent:\n  weekly: command (cli) " in table
