"""A suppression is never lost to a bad cell. Each export format, every column but the
address and the one that says the person stopped their mail, with a malformed value on a
suppressing row (unsubscribed, cleaned, blocklisted, email disabled): the person, who was
subscribed here, ends up suppressed, and the cell that could not be read is reported with
its line. On a row that subscribes, a bad date stays an invalid row (a consent record built
on it would be false)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.audience import queries
from pipeline.audience import subscribers as lib
from pipeline.clock import utcnow
from pipeline.db import Store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "imports"
MALFORMED = ("not-a-value", "x" * 2_001)  # unreadable where parsed; too long anywhere


@dataclass(frozen=True)
class Case:
    file_name: str
    header: list[str]
    row: list[str]  # a valid suppressing row
    standing: tuple[str, ...]  # the columns that say who and whether: kept valid
    parsed: frozenset[str]  # the columns where "not-a-value" cannot be read
    # when the person left, in the source's form: set to just after they subscribed here,
    # or this import's rule "subscribed here after leaving the source" would keep them
    left: tuple[str, str] | None = None  # (column, strftime format)


def _fixture(name: str, line: int = 1) -> tuple[list[str], list[str]]:
    rows = list(csv.reader((FIXTURES / name).read_text(encoding="utf-8").splitlines()))
    return rows[0], rows[line]


def _cases() -> list[Case]:
    mailchimp = "{}_members_export_3f9a1c2b7d.csv"
    unsubscribed = _fixture(mailchimp.format("unsubscribed"))
    cleaned = _fixture(mailchimp.format("cleaned"))
    dates = {"OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME"}
    ghost_header, _ = _fixture("ghost_members.csv")
    substack_header, _ = _fixture("substack_subscribers.csv")
    listmonk_header, _ = _fixture("listmonk_subscribers.csv")
    return [
        Case(
            mailchimp.format("unsubscribed"),
            *unsubscribed,
            ("Email Address",),
            frozenset({*dates, "UNSUB_TIME"}),
            ("UNSUB_TIME", "%Y-%m-%d %H:%M:%S"),
        ),
        Case(
            mailchimp.format("cleaned"),
            *cleaned,
            ("Email Address",),
            frozenset({*dates, "CLEAN_TIME"}),
            ("CLEAN_TIME", "%Y-%m-%d %H:%M:%S"),
        ),
        Case(
            "ghost_members.csv",
            ghost_header,
            [
                "6571a0f2",
                "x@example.com",
                "Jo",
                "note",
                "false",
                "false",
                "",
                "2023-04-21T11:16:57.000Z",
                "",
                "VIP",
                "Free",
            ],
            ("email", "subscribed_to_emails"),
            frozenset({"created_at"}),
        ),
        Case(
            "substack_subscribers.csv",
            substack_header,
            ["x@example.com", "", "", "true", "2018-12-19T08:03:04.977Z"],
            ("email", "email_disabled"),
            frozenset({"created_at"}),
        ),
        Case(
            "listmonk_subscribers.csv",
            listmonk_header,
            [
                "5e19a6e4",
                "x@example.com",
                "Anu",
                '{"city": "Pune"}',
                "blocklisted",
                "2024-03-05 09:12:44 +0000 UTC",
                "2024-03-06 10:00:00 +0000 UTC",
            ],
            ("email", "status"),
            frozenset({"created_at", "updated_at", "attributes"}),
            ("updated_at", "%Y-%m-%d %H:%M:%S +0000 UTC"),
        ),
    ]


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


def _recipients(store: Store) -> set[str]:
    return {m.email for m in queries.recipients(store, "weekly")}


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.file_name.split("_")[0])
def test_a_bad_cell_never_costs_a_suppression(store: Store, tmp_path: Path, case: Case) -> None:
    email_at = case.header.index(case.standing[0])
    everyone = [[f"c{n}v{v}@example.com"] for n in range(len(case.header)) for v in (0, 1)]
    lib.import_csv(store, _write(tmp_path / "here.csv", ["email"], everyone), "weekly")
    template = list(case.row)
    if case.left:  # the next whole second: after they subscribed here
        column, form = case.left
        template[case.header.index(column)] = (utcnow() + timedelta(seconds=1)).strftime(form)
    rows, expected = [], {}  # expected: line -> (email, whether the cell is reported)
    for column, name in enumerate(case.header):
        if name in case.standing:
            continue
        for n, value in enumerate(MALFORMED):
            row = list(template)
            row[column] = value
            row[email_at] = f"c{column}v{n}@example.com"
            rows.append(row)
            reported = value != MALFORMED[0] or name in case.parsed
            expected[len(rows) + 1] = (row[email_at], name, reported)
    assert _recipients(store) >= {email for email, _, _ in expected.values()}

    report = lib.import_csv(store, _write(tmp_path / case.file_name, case.header, rows), "weekly")

    assert report.format != "plain"
    assert (report.invalid, report.invalid_rows) == (0, [])
    assert _recipients(store).isdisjoint(e for e, _, _ in expected.values())  # all suppressed
    reported = {r.line: r.what for r in report.cleaned_rows}
    for line, (email, column, cell_is_bad) in expected.items():
        if cell_is_bad:
            assert "left out, the suppression applied" in reported.get(line, ""), (column, email)
        else:
            assert line not in reported, (column, reported[line])


@pytest.mark.parametrize("case", _cases()[2:], ids=lambda c: c.file_name.split("_")[0])
def test_a_bad_date_on_a_subscribing_row_is_still_invalid(
    store: Store, tmp_path: Path, case: Case
) -> None:
    row = list(case.row)
    row[case.header.index(case.standing[1])] = "enabled" if "status" in case.standing else ""
    row[case.header.index("created_at")] = "not-a-value"
    report = lib.import_csv(store, _write(tmp_path / case.file_name, case.header, [row]), "weekly")
    assert report.invalid == 1
    assert "created_at is 'not-a-value', not a date" in report.invalid_rows[0].reason
