"""A database that has been through every feature, as an operator's would be after a few
weeks: lists public and private, an import, a campaign sent through the SES stub, a test
copy, SES events (a delivery, a permanent bounce), a schedule, a signup from the form with
its confirmation sent, and a forgotten reader. For tests of what moves or keeps a whole
database (`db copy`, `backup`); `every_table_has_rows` says if a table was left empty,
so a table a later revision adds must be given rows here too."""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import ROOT, SAMPLE_ISSUE, ok, run_cli, use_project
from tests.support.reports import event
from tests.support.sending import make_list, people, send, use_ses
from tests.support.ses_stub import SesStub, default_account

READERS = people(4)
FORGOTTEN = "reader002@example.com"
SIGNED_UP = "newcomer@example.com"
NOT_DATA = {"alembic_version"}


@dataclass(frozen=True)
class Populated:
    url: str
    folder: Path
    links: dict[str, str]  # reader -> the https unsubscribe link in their copy of issue 25


def _links(stub: SesStub) -> dict[str, str]:
    found = {}
    for message in stub.accepted:
        header = message.headers.get("List-Unsubscribe", "")
        (url,) = [part.strip(" <>") for part in header.split(",") if "https://" in part] or [""]
        found[message.recipient_addresses[0]] = url
    return found


def _signup(url: str, folder: Path) -> None:
    """A reader signs up on the form (the app in-process, as a browser would post it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    with Store.open(url) as store:
        app = create_app(load_settings(), store, issues=folder / "issues")
        with TestClient(app, client=("127.0.0.1", 50000)) as client:
            answer = client.post("/subscribe", data={"email": SIGNED_UP, "list": "weekly"})
            assert answer.status_code == 200, answer.text


def populate(folder: Path, url: str) -> Populated:
    shutil.copy(ROOT / "newsletter.toml", folder / "newsletter.toml")
    (folder / "issues").mkdir(exist_ok=True)
    issue = folder / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    with (
        pytest.MonkeyPatch.context() as mp,
        SesStub(account=default_account(max_send_rate=1000)) as stub,
    ):
        use_project(mp, folder, url)
        use_ses(mp, stub.endpoint_url)
        ok(run_cli("lists", "create", "weekly", "--public", "--description", "매주"))
        ok(run_cli("lists", "create", "staff"))
        make_list(run_cli, "weekly", READERS)
        make_list(run_cli, "staff", READERS[:1])
        ok(run_cli("subscribers", "tag", READERS[0][0], "vip"))
        ok(run_cli("segments", "create", "vips", "--list", "weekly", "--where", "tag:vip"))
        ok(send(run_cli))
        ok(run_cli("send-test", issue, "--to", "tester@example.com"))
        links = _links(stub)
        ids = {m.recipient_addresses[0]: m.message_id for m in stub.accepted}
        now = datetime.now(UTC)
        events = folder / "events.jsonl"
        documents = [
            event("Delivery", ids["reader000@example.com"], "reader000@example.com", now),
            event("Bounce", ids["reader001@example.com"], "reader001@example.com", now),
        ]
        events.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
        ok(run_cli("events", "ingest", events))
        later = (now + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
        ok(run_cli("schedule", issue, "--list", "staff", "--at", later, "--tz", "UTC"))
        _signup(url, folder)
        ok(run_cli("signups", "send"))
        ok(run_cli("subscribers", "forget", FORGOTTEN))
    return Populated(url, folder, links)


def data_tables(url: str) -> list[str]:
    """The tables of the schema that hold data (what a copy must carry)."""
    names = sa.inspect(db.engine(url)).get_table_names()
    return sorted(name for name in names if name not in NOT_DATA)


def empty_tables(url: str) -> list[str]:
    return [t for t in data_tables(url) if not db.one(f'SELECT count(*) FROM "{t}"', url=url)]


def local_path(link: str) -> str:
    return urlsplit(link).path
