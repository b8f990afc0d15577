"""`newsletter subscribers import` of the exports of the tools people leave, through the
real entry point on SQLite and PostgreSQL, checking the database afterwards: who is
subscribed, who arrived suppressed and how, the names, the attributes, and the consent
records with the source's own times.

The files are in tests/audience/fixtures/imports/ (their README says where each shape comes
from); the Mailchimp zip is built here from its three CSVs, as Mailchimp names them.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.audience import queries
from pipeline.db import Store
from tests.support import db
from tests.support.cli import Result, ok, refused

Cli = Callable[..., Result]
FIXTURES = Path(__file__).resolve().parent.parent / "audience" / "fixtures" / "imports"
MAILCHIMP = [
    f"{kind}_members_export_3f9a1c2b7d.csv" for kind in ("subscribed", "unsubscribed", "cleaned")
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def moment(value: Any) -> datetime | None:
    """A timestamp read with plain SQL: text on SQLite (naive UTC), aware on PostgreSQL."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def people() -> dict[str, dict[str, Any]]:
    """email -> the person and their membership of `weekly`, straight from the database."""
    rows = db.rows(
        "SELECT s.email, s.name, s.status, s.attributes, m.status, m.subscribed_at, "
        "m.unsubscribed_at, m.source FROM subscribers s JOIN memberships m "
        "ON m.subscriber_id = s.id JOIN lists l ON l.id = m.list_id WHERE l.name = 'weekly'"
    )
    return {
        r[0]: {
            "name": r[1],
            "status": r[2],
            "attributes": json.loads(r[3]),
            "membership": r[4],
            "since": moment(r[5]),
            "left": moment(r[6]),
            "source": r[7],
            "tags": tags_of(r[0]),
        }
        for r in rows
    }


def tags_of(email: str) -> list[str]:
    rows = db.rows(
        "SELECT t.tag FROM tags t JOIN subscribers s ON s.id = t.subscriber_id "
        "WHERE s.email = ? ORDER BY t.tag",
        email,
    )
    return [r[0] for r in rows]


def consents() -> dict[str, dict[str, Any]]:
    rows = db.rows(
        "SELECT s.email, c.method, c.detail, c.ip, c.requested_at, c.confirmed_at, l.name "
        "FROM consents c JOIN subscribers s ON s.id = c.subscriber_id "
        "JOIN lists l ON l.id = c.list_id WHERE c.method = 'import'"
    )
    found: dict[str, dict[str, Any]] = {}
    for email, method, detail, ip, requested, confirmed, list_name in rows:
        assert email not in found, f"two consent records for {email}"
        found[email] = {
            "method": method,
            "detail": detail,
            "ip": ip,
            "requested_at": moment(requested),
            "confirmed_at": moment(confirmed),
            "list": list_name,
        }
    return found


def recipients() -> set[str]:
    """Who a campaign to `weekly` would reach (the store's own rule)."""
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        return {m.email for m in queries.recipients(store, "weekly")}


def import_json(cli: Cli, path: Path | str, *args: str) -> dict[str, Any]:
    result = ok(cli("subscribers", "import", str(path), "--list", "weekly", "-f", "json", *args))
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture
def weekly(cli: Cli, project: Path) -> Path:
    ok(cli("lists", "create", "weekly"))
    return project


def mailchimp_zip(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    path = folder / "members_export_3f9a1c2b7d.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (files or {n: (FIXTURES / n).read_bytes() for n in MAILCHIMP}).items():
            archive.writestr(name, content)
    return path


# --- Mailchimp -----------------------------------------------------------------------------


def test_mailchimp_zip_imports_every_file_with_its_meaning(cli: Cli, weekly: Path) -> None:
    before = datetime.now(UTC)
    report = import_json(cli, mailchimp_zip(weekly))

    assert report["format"] == "mailchimp" and report["recognised"] == "Mailchimp audience export"
    kinds = {f["file"].rsplit("/", 1)[-1]: f["kind"] for f in report["files"]}
    assert kinds == dict(zip(MAILCHIMP, ("subscribed", "unsubscribed", "cleaned"), strict=True))
    assert (report["added"], report["invalid"]) == (3, 1)
    assert report["arrived_suppressed"] == {"unsubscribed": 2, "bounced": 2, "blocklisted": 0}
    [bad] = report["invalid_rows"]
    assert bad["file"].endswith("/subscribed_members_export_3f9a1c2b7d.csv") and bad["line"] == 5
    assert (
        "OPTIN_TIME is '2024-02-30 10:00:00', not a date like 2024-03-05 09:12:44"
        in (bad["reason"])
    )

    found = people()
    assert recipients() == {"kim.minjun@example.com", "alice@example.org", "bob@example.net"}
    kim = found["kim.minjun@example.com"]
    assert kim["name"] == "Minjun Kim" and kim["status"] == "active"
    assert kim["attributes"]["company"] == "Acme Korea"
    assert kim["attributes"]["zip code"] == "04524"  # a merge field, under its column's name
    assert "tags" not in kim["attributes"] and kim["tags"] == ["editors", "vip"]
    assert "optin_time" not in kim["attributes"]  # it went into the consent record
    assert kim["attributes"]["confirm_ip"] == "203.0.113.7"  # evidence kept
    assert found["alice@example.org"]["name"] == "Alice Moreau"  # stray spaces gone
    assert found["alice@example.org"]["attributes"]["notes"] == "Met at a conference"
    assert found["bob@example.net"]["name"] == "Bob"  # no last name, no trailing space
    assert "bad.time@example.com" not in found

    leaver = found["leaver@example.com"]
    assert (leaver["status"], leaver["membership"]) == ("active", "unsubscribed")
    assert leaver["left"] == utc(2023, 6, 6, 12, 56, 15)
    assert leaver["attributes"]["unsub_reason"] == "No longer interested"
    gone = found["gone@example.com"]
    assert (gone["status"], gone["membership"]) == ("bounced", "unsubscribed")
    assert gone["left"] == utc(2020, 3, 23, 17, 30, 5)

    records = consents()
    assert set(records) == {"kim.minjun@example.com", "alice@example.org", "bob@example.net"}
    assert records["kim.minjun@example.com"] == {
        "method": "import",
        "detail": "mailchimp export: members_export_3f9a1c2b7d.zip/"
        "subscribed_members_export_3f9a1c2b7d.csv",
        "ip": "203.0.113.7",
        "requested_at": utc(2023, 4, 21, 11, 16, 57),
        "confirmed_at": utc(2023, 4, 21, 11, 17, 30),
        "list": "weekly",
    }
    bob = records["bob@example.net"]  # no OPTIN_TIME in the file: the time of the import
    assert bob["confirmed_at"] is None and bob["ip"] is None
    assert before - timedelta(seconds=1) <= bob["requested_at"] <= datetime.now(UTC)

    again = import_json(cli, mailchimp_zip(weekly))
    assert (again["added"], again["updated"], again["unchanged"], again["consents"]) == (0, 0, 3, 0)
    assert again["suppressed"] == 4  # the unsubscribed and cleaned stay as they are
    assert people() == found and consents() == records


def test_the_summary_says_what_it_recognised(cli: Cli, weekly: Path) -> None:
    result = ok(cli("subscribers", "import", mailchimp_zip(weekly), "--list", "weekly"))
    assert (
        "recognised: Mailchimp audience export, 3 files: "
        "cleaned_members_export_3f9a1c2b7d.csv (cleaned), "
        "unsubscribed_members_export_3f9a1c2b7d.csv (unsubscribed), "
        "subscribed_members_export_3f9a1c2b7d.csv (subscribed)"
    ) in result.stderr
    assert "2 unsubscribed, 2 bounced (cleaned), 0 blocklisted" in result.stderr
    assert "subscribed_members_export_3f9a1c2b7d.csv:5: OPTIN_TIME is" in result.stderr
    single = ok(cli("subscribers", "import", FIXTURES / MAILCHIMP[1], "--list", "weekly"))
    assert "recognised: Mailchimp audience export (unsubscribed members)" in single.stderr


def test_a_messy_mailchimp_file_reads_like_a_clean_one(cli: Cli, weekly: Path) -> None:
    clean = (FIXTURES / MAILCHIMP[0]).read_text(encoding="utf-8").splitlines()
    header = ", ".join(f" {h} " for h in clean[0].split(","))  # stray spaces in the header
    rows = [
        ",".join(f"{c}  " if c and '"' not in c else c for c in r.split(",")) for r in clean[1:]
    ]
    messy = weekly / "subscribed_members_export_messy.csv"
    messy.write_bytes(("\ufeff" + "\r\n".join([header, *rows]) + "\r\n").encode())

    report = import_json(cli, messy)
    assert report["format"] == "mailchimp" and (report["added"], report["invalid"]) == (3, 1)
    found = people()
    assert found["kim.minjun@example.com"]["name"] == "Minjun Kim"
    assert found["kim.minjun@example.com"]["attributes"]["company"] == "Acme Korea"
    assert found["alice@example.org"]["name"] == "Alice Moreau"
    assert consents()["kim.minjun@example.com"]["ip"] == "203.0.113.7"


def test_an_import_never_resubscribes_and_a_later_choice_here_wins(cli: Cli, weekly: Path) -> None:
    # Here first: kim unsubscribed, alice bounced; came.back subscribed here (today) after
    # leaving Mailchimp in 2022; still.here was on the list since 2019, before Mailchimp
    # cleaned the address in 2020.
    for email in ("kim.minjun@example.com", "alice@example.org", "came.back@example.com"):
        ok(cli("subscribers", "add", email, "--list", "weekly"))
    ok(cli("subscribers", "add", "still.here@example.com", "--list", "weekly"))
    ok(cli("subscribers", "unsubscribe", "kim.minjun@example.com"))
    db.execute("UPDATE subscribers SET status = 'bounced' WHERE email = 'alice@example.org'")
    db.execute(
        "UPDATE memberships SET subscribed_at = ? WHERE subscriber_id = "
        "(SELECT id FROM subscribers WHERE email = 'still.here@example.com')",
        utc(2019, 1, 1),
    )

    report = import_json(cli, mailchimp_zip(weekly))
    assert report["suppressed"] == 2 and report["newer_here"] == 1
    found = people()
    assert (
        found["kim.minjun@example.com"]["status"],
        found["kim.minjun@example.com"]["membership"],
    ) == (
        "unsubscribed",
        "unsubscribed",
    )
    assert found["alice@example.org"]["status"] == "bounced"
    assert found["came.back@example.com"]["membership"] == "subscribed"
    assert (
        found["still.here@example.com"]["status"],
        found["still.here@example.com"]["membership"],
    ) == (
        "bounced",
        "unsubscribed",
    )
    assert recipients() == {"bob@example.net", "came.back@example.com"}
    assert "kim.minjun@example.com" not in consents()


def test_mailchimp_zips_and_files_that_cannot_be_trusted_are_refused(
    cli: Cli, weekly: Path
) -> None:
    cleaned = (FIXTURES / MAILCHIMP[2]).read_bytes()
    renamed = mailchimp_zip(weekly, {"subscribed_members_export_x.csv": cleaned})
    refused(
        cli("subscribers", "import", renamed, "--list", "weekly"),
        "name says subscribed members but its columns are those of cleaned members",
    )
    empty = mailchimp_zip(weekly, {"readme.txt": b"nothing here"})
    refused(cli("subscribers", "import", empty, "--list", "weekly"), "holds no CSV file")
    damaged = weekly / "damaged.zip"
    damaged.write_bytes(mailchimp_zip(weekly).read_bytes()[:300])
    refused(cli("subscribers", "import", damaged, "--list", "weekly"), "damaged.zip")
    assert people() == {}


# --- Substack, Ghost, listmonk ---------------------------------------------------------------


def test_substack_export(cli: Cli, weekly: Path) -> None:
    report = import_json(cli, FIXTURES / "substack_subscribers.csv")
    assert report["format"] == "substack"
    assert (report["added"], report["skipped"], report["invalid"]) == (2, 1, 1)
    assert report["arrived_suppressed"]["unsubscribed"] == 1
    assert "deleted" in report["skipped_rows"][0]["reason"]
    assert "created_at is '2020-13-01T00:00:00.000Z'" in report["invalid_rows"][0]["reason"]
    found = people()
    assert set(found) == {
        "free.reader@example.com",
        "paying.reader@example.com",
        "muted.reader@example.com",
    }
    # active_subscription is about paying, not about email: a free reader is subscribed
    assert recipients() == {"free.reader@example.com", "paying.reader@example.com"}
    assert found["paying.reader@example.com"]["attributes"]["active_subscription"] == "true"
    assert found["muted.reader@example.com"]["membership"] == "unsubscribed"
    record = consents()["free.reader@example.com"]
    assert record["requested_at"] == utc(2018, 12, 19, 8, 3, 4, 977000)
    assert record["detail"] == "substack export: substack_subscribers.csv"


def test_ghost_members_export(cli: Cli, weekly: Path) -> None:
    report = import_json(cli, FIXTURES / "ghost_members.csv")
    assert report["format"] == "ghost" and (report["added"], report["invalid"]) == (2, 1)
    assert "created_at is in the future" in report["invalid_rows"][0]["reason"]
    found = people()
    hana = found["ghost.member@example.com"]
    assert hana["name"] == "Hana Lee"
    assert hana["attributes"] == {
        "ghost_id": "6571a0f2c3e4d5001f8b4a01",
        "note": "Early supporter",
        "complimentary_plan": "false",
        "tiers": ["Free"],
    }
    assert hana["tags"] == ["seoul", "vip"]  # Ghost's labels
    assert found["paid.member@example.com"]["attributes"]["tiers"] == ["Free", "Gold"]
    assert found["no.newsletter@example.com"]["membership"] == "unsubscribed"
    assert recipients() == {"ghost.member@example.com", "paid.member@example.com"}
    assert consents()["ghost.member@example.com"]["requested_at"] == utc(2023, 4, 21, 11, 16, 57)


def test_listmonk_export(cli: Cli, weekly: Path) -> None:
    report = import_json(cli, FIXTURES / "listmonk_subscribers.csv")
    assert report["format"] == "listmonk" and (report["added"], report["invalid"]) == (2, 1)
    assert report["arrived_suppressed"]["blocklisted"] == 1
    assert "attributes is not a JSON object" in report["invalid_rows"][0]["reason"]
    found = people()
    anu = found["lm.enabled@example.com"]
    assert anu["attributes"] == {
        "city": "Bengaluru",
        "likes_tea": True,
        "projects": 3,
        "listmonk_uuid": "5e19a6e4-7d3c-4b79-a4b7-9f2d1d6a0c11",
    }
    blocked = found["lm.blocked@example.com"]
    assert (blocked["status"], blocked["membership"]) == ("unsubscribed", "unsubscribed")
    assert blocked["left"] == utc(2022, 6, 1)
    # listmonk mails `disabled` people too (its campaigns skip only the blocklisted)
    assert recipients() == {"lm.enabled@example.com", "lm.disabled@example.com"}
    # 09:12:44.123456 at +05:30 is 03:42:44.123456 UTC
    assert consents()["lm.enabled@example.com"]["requested_at"] == utc(
        2024, 3, 5, 3, 42, 44, 123456
    )
    refused(cli("subscribers", "resubscribe", "lm.blocked@example.com", "-l", "x"), "no list")
    ok(cli("subscribers", "resubscribe", "lm.blocked@example.com", "--list", "weekly"))
    assert "lm.blocked@example.com" in recipients()  # an explicit request brings them back


# --- detection, --from, plain files ----------------------------------------------------------


def test_a_plain_file_gets_consent_records_too(cli: Cli, weekly: Path) -> None:
    (weekly / "people.csv").write_text("email,name,city\na@example.com,A,Seoul\n")
    report = import_json(cli, weekly / "people.csv")
    assert report["format"] == "plain" and report["recognised"] == "plain list file"
    record = consents()["a@example.com"]
    assert record["method"] == "import" and record["detail"] == "plain file: people.csv"
    assert record["confirmed_at"] is None and record["ip"] is None
    assert people()["a@example.com"]["attributes"] == {"city": "Seoul"}


def test_from_forces_a_format(cli: Cli, weekly: Path) -> None:
    # Read as a plain file, Ghost's columns are only attributes: nobody is unsubscribed.
    report = import_json(cli, FIXTURES / "ghost_members.csv", "--from", "plain")
    assert report["format"] == "plain" and report["added"] == 4
    assert people()["no.newsletter@example.com"]["attributes"]["subscribed_to_emails"] == "false"
    refused(
        cli("subscribers", "import", FIXTURES / MAILCHIMP[0], "-l", "weekly", "--from", "ghost"),
        "--from ghost needs the columns email, subscribed_to_emails",
    )
    unknown = cli("subscribers", "import", FIXTURES / MAILCHIMP[0], "-l", "weekly", "--from", "x")
    assert unknown.code == 2 and "'mailchimp', 'substack', 'ghost', 'listmonk'" in unknown.stderr


def test_an_unknown_header_names_the_formats_it_knows(cli: Cli, weekly: Path) -> None:
    (weekly / "odd.csv").write_text("E-mail,Vorname\na@example.com,A\n")
    result = refused(cli("subscribers", "import", "odd.csv", "--list", "weekly"), "no email column")
    for known in ("Mailchimp", "Substack", "Ghost", "listmonk", "plain", "--from"):
        assert known in result.stderr
    assert "e-mail, vorname" in result.stderr


@pytest.mark.single_backend  # never opens the store
def test_import_help_names_the_formats(cli: Cli, project: Path) -> None:
    result = ok(cli("subscribers", "import", "--help"))
    for known in ("--from", "Mailchimp", "Substack", "Ghost", "listmonk", "zip"):
        assert known in result.stdout


def test_dry_run_of_an_export_writes_nothing(cli: Cli, weekly: Path) -> None:
    copy = weekly / "members.zip"
    shutil.copy(mailchimp_zip(weekly), copy)
    report = import_json(cli, copy, "--dry-run")
    assert report["added"] == 3 and not report["written"]
    assert people() == {} and db.one("SELECT count(*) FROM consents") == 0


def test_a_zip_damaged_inside_a_file_writes_nothing(cli: Cli, weekly: Path) -> None:
    # A file long enough that the damage is found only after batches were written.
    header, first = (FIXTURES / MAILCHIMP[0]).read_text(encoding="utf-8").splitlines()[:2]
    rows = [first.replace("kim.minjun@", f"reader{i}@") for i in range(3000)]
    stored = weekly / "stored.zip"
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(MAILCHIMP[0], "\n".join([header, *rows]) + "\n")
    data = bytearray(stored.read_bytes())
    at = data.index(b"reader2999@")
    data[at] = ord("R")  # the CRC no longer matches: found once the whole file is read
    stored.write_bytes(bytes(data))
    refused(
        cli("subscribers", "import", stored, "--list", "weekly"), "the zip is damaged: Bad CRC-32"
    )
    assert people() == {} and db.one("SELECT count(*) FROM consents") == 0


def test_mailchimps_non_subscribed_contacts_are_skipped(cli: Cli, weekly: Path) -> None:
    subscribed = (FIXTURES / MAILCHIMP[0]).read_bytes()
    archive = mailchimp_zip(weekly, {"nonsubscribed_members_export_3f9a1c2b7d.csv": subscribed})
    report = import_json(cli, archive)
    assert report["files"][0]["kind"] == "nonsubscribed"
    assert (report["added"], report["skipped"]) == (0, 4)
    assert "never opted in" in report["skipped_rows"][0]["reason"]
    assert people() == {}


def test_a_merge_field_called_name_is_kept_apart(cli: Cli, weekly: Path) -> None:
    lines = (FIXTURES / MAILCHIMP[0]).read_text(encoding="utf-8").splitlines()
    (weekly / "subscribed.csv").write_text(
        "\n".join([lines[0].replace(",Position,", ",Name,"), lines[1]]) + "\n", encoding="utf-8"
    )
    import_json(cli, weekly / "subscribed.csv")
    kim = people()["kim.minjun@example.com"]
    assert kim["name"] == "Minjun Kim" and kim["attributes"]["source_name"] == "Editor"
    exported = ok(cli("subscribers", "export", "--list", "weekly")).stdout
    assert exported.splitlines()[0].split(",").count("name") == 1
