"""Hostile and broken subscriber files: names that would break a mail header, unbounded
cells, odd files. Each class with several inputs, Hypothesis where the inputs are "any
text". Exports are `test_safe_export.py`'s."""

from __future__ import annotations

import csv
import json
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from pipeline.audience import subscribers as lib
from pipeline.audience.cleaning import MAX_NAME, clean_name
from pipeline.audience.listfile import unescape_cell
from pipeline.audience.queries import AudienceTx
from pipeline.db import Store
from pipeline.errors import InputError
from tests.audience.hostile_input import HOSTILE_TEXT as _HOSTILE_TEXT
from tests.audience.hostile_input import LINE_BREAKS
from tests.audience.hostile_input import SETTINGS as _SETTINGS
from tests.audience.hostile_input import names as _names
from tests.audience.hostile_input import write as _write


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


# --- names: cleaned where they enter --------------------------------------------------------


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_a_line_break_in_a_csv_name_becomes_one_space_and_is_reported(
    store: Store, tmp_path: Path, brk: str
) -> None:
    content = f'email,name\nok@example.com,Fine\nkim@example.com,"Kim{brk}Bcc: x@evil.test"\n'
    report = lib.import_csv(store, _write(tmp_path, content), "weekly")
    assert (report.added, report.invalid, report.cleaned) == (2, 0, 1)
    assert _names(store)["kim@example.com"] == "Kim Bcc: x@evil.test"
    [row] = report.cleaned_rows
    assert row.line == 3
    assert row.what == "name cleaned: line break replaced by a space"


@pytest.mark.parametrize(
    ("raw", "stored", "what"),
    [
        ("Kim\tLee", "Kim Lee", "tab replaced by a space"),
        ("Kim\x00Lee", "KimLee", "control character removed"),
        ("Kim\x1b[31mLee", "Kim[31mLee", "control character removed"),
        ("\u202eevil\u202c Kim", "evil Kim", "invisible formatting character removed"),
        ("Kim\u200bLee\ufeff", "KimLee", "invisible formatting character removed"),
        ("Kim  \r\n  Lee", "Kim Lee", "line break replaced by a space, repeated spaces collapsed"),
    ],
)
def test_control_and_invisible_characters_leave_names(
    store: Store, tmp_path: Path, raw: str, stored: str, what: str
) -> None:
    path = _write(tmp_path, json.dumps({"email": "kim@example.com", "name": raw}) + "\n", "a.jsonl")
    report = lib.import_csv(store, path, "weekly")
    assert _names(store) == {"kim@example.com": stored}
    assert [(r.line, r.what) for r in report.cleaned_rows] == [(1, f"name cleaned: {what}")]


@pytest.mark.parametrize(
    "name",
    [
        "می\u200cخواهم",  # Persian with a ZWNJ
        "क्\u200dष",  # Devanagari with a ZWJ
        "👩\u200d💻 Dev",  # an emoji ZWJ sequence
        "Mac \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # flag
        "김민준",
        "O'Brien-Smith, Jr.",
    ],
)
def test_real_names_are_stored_exactly(store: Store, tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, f'email,name\nkim@example.com,"{name}"\n')
    report = lib.import_csv(store, path, "weekly")
    assert report.cleaned == 0
    assert _names(store) == {"kim@example.com": name}


def test_a_name_made_only_of_controls_is_no_name(store: Store, tmp_path: Path) -> None:
    report = lib.import_csv(
        store, _write(tmp_path, 'email,name\na@example.com,"\x00\r\n"\n'), "weekly"
    )
    assert report.cleaned == 1 and _names(store) == {"a@example.com": None}


def test_a_name_too_long_is_an_invalid_row_and_strict_writes_nothing(
    store: Store, tmp_path: Path
) -> None:
    content = f"email,name\nok@example.com,Fine\nlong@example.com,{'x' * (MAX_NAME + 1)}\n"
    path = _write(tmp_path, content)
    report = lib.import_csv(store, path, "weekly", strict=True)
    assert not report.written and _names(store) == {}
    assert [(r.line, r.reason) for r in report.invalid_rows] == [
        (3, f"the name is {MAX_NAME + 1} characters long; at most {MAX_NAME} are allowed")
    ]
    report = lib.import_csv(store, path, "weekly")
    assert _names(store) == {"ok@example.com": "Fine"}  # the other row is unaffected


@given(_HOSTILE_TEXT)
def test_a_cleaned_name_is_one_line_of_visible_text_and_cleaning_is_stable(raw: str) -> None:
    cleaned = clean_name(raw)
    name = cleaned.name or ""
    assert name == name.strip() and "  " not in name
    assert len(name.splitlines()) <= 1 and "\t" not in name
    assert all(unicodedata.category(c) != "Cc" for c in name)
    assert all(
        unicodedata.category(c) != "Cf" or c in "\u200c\u200d" or 0xE0020 <= ord(c) <= 0xE007F
        for c in name
    )
    again = clean_name(cleaned.name)
    assert again == type(cleaned)(cleaned.name, ())  # clean stays clean, nothing to report
    if cleaned.changes == ():
        assert cleaned.name == (raw.strip() or None)  # an untouched name is kept exactly


# --- the way in on the command line -------------------------------------------------------


def test_add_cleans_a_name_and_says_so(store: Store) -> None:
    outcome = lib.add(store, "kim@example.com", "weekly", name="Kim\r\nBcc: x@evil.test")
    assert outcome.message.endswith("(name cleaned: line break replaced by a space)")
    assert _names(store) == {"kim@example.com": "Kim Bcc: x@evil.test"}
    with pytest.raises(InputError, match="at most 200"):
        lib.add(store, "kim@example.com", "weekly", name="x" * 201)
    assert _names(store) == {"kim@example.com": "Kim Bcc: x@evil.test"}


# The database is made once per test (not per example): a function-scoped fixture is fine.
@settings(_SETTINGS, suppress_health_check=[*_SETTINGS.suppress_health_check,
                                             HealthCheck.function_scoped_fixture])  # fmt: skip
@given(_HOSTILE_TEXT)
@example("'=")  # an escaped formula cell, found by this test
def test_any_name_imported_from_a_csv_is_stored_clean(store: Store, raw: str) -> None:
    with store.engine.begin() as conn:  # each example starts with nobody on the list
        conn.exec_driver_sql("DELETE FROM memberships")
        conn.exec_driver_sql("DELETE FROM subscribers")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([["email", "name"], ["kim@example.com", raw]])
        report = lib.import_csv(store, path, "weekly")
        assert (report.added, report.invalid) == (1, 0)
        # A cell the export escaped against formulas (`'=...`) loses that one quote on import,
        # as the README says; the rest is cleaned as any name.
        cell = unescape_cell(raw.strip()).strip()
        assert _names(store)["kim@example.com"] == clean_name(cell or None).name


# --- odd files, odd cells ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "email,comp\x00any\na@example.com,1\n",
            "column 2 of the header, 'comp\\x00any', contains",
        ),
        ("email,\u202ename\na@example.com,1\n", "column 2 of the header, '\\u202ename', contains"),
        (f"email,{'c' * 101}\na@example.com,1\n", "is 101 characters long (at most 100)"),
        ("email," + ",".join(f"c{i}" for i in range(1000)) + "\n", "1,001 columns"),
        ("email\n" + "a" * 1_000_001 + "\n", "list.csv:2: a line longer than 1,000,000"),
        ("x" * 2_000_000, "list.csv:1: a line longer than 1,000,000"),
        ('email,name\na@example.com,"' + "x" * 200_000 + '"\n', "no real cell holds more"),
        ("".join(f"c{i}," for i in range(99)) + "c99\nA,B\n", "(the header has: c0, c1, c2,"),
    ],
)
def test_files_that_are_not_list_files_are_refused_with_the_place(
    store: Store, tmp_path: Path, content: str, message: str
) -> None:
    with pytest.raises(InputError) as raised:
        lib.import_csv(store, _write(tmp_path, content), "weekly")
    assert message in str(raised.value)
    assert len(str(raised.value)) < 500  # bounded, whatever the file holds
    assert _names(store) == {}


def test_a_jsonl_line_too_long_is_refused(store: Store, tmp_path: Path) -> None:
    content = '{"email": "a@example.com"}\n{"email": "' + "x" * 1_000_001 + '"}\n'
    with pytest.raises(InputError, match=r"in\.jsonl:2: a line longer than 1,000,000"):
        lib.import_csv(store, _write(tmp_path, content, "in.jsonl"), "weekly")
    assert _names(store) == {}


def test_a_header_only_file_imports_nobody(store: Store, tmp_path: Path) -> None:
    for content in ("email,name\n", "\ufeffemail;name\r\n\r\n", "sep=;\nemail;name"):
        report = lib.import_csv(store, _write(tmp_path, content), "weekly")
        assert (report.added, report.invalid, report.written) == (0, 0, True)


@pytest.mark.parametrize(
    "cell",
    [
        '"a@example.com\nBcc: x@evil.test"',
        '"a@example.com\r\nSubject: hi"',
        '"a@example.com\x00"',
        "a@exam\u2028ple.com",
        '"' + "a" * 100_000 + '@example.com"',
    ],
)
def test_an_email_cell_with_a_line_break_or_worse_is_an_invalid_row(
    store: Store, tmp_path: Path, cell: str
) -> None:
    content = f"email,name\nok@example.com,OK\n{cell},Evil\nlast@example.com,Last\n"
    report = lib.import_csv(store, _write(tmp_path, content), "weekly")
    [bad] = report.invalid_rows
    assert bad.line == 3 and "is not a valid email address" in bad.reason
    assert "\n" not in bad.reason and "\r" not in bad.reason and len(bad.reason) < 300
    assert _names(store) == {"ok@example.com": "OK", "last@example.com": "Last"}


def test_attribute_values_lose_control_characters_and_are_bounded(
    store: Store, tmp_path: Path
) -> None:
    content = (
        "email,note,city\n"
        'a@example.com,"one\x00two\r\nthree\tfour",Seoul\n'
        f"b@example.com,{'x' * 2001},Busan\n"
    )
    report = lib.import_csv(store, _write(tmp_path, content), "weekly")
    assert [(r.line, r.what) for r in report.cleaned_rows] == [
        (2, "attribute 'note' cleaned: control character removed")
    ]
    assert [(r.line, r.reason) for r in report.invalid_rows] == [
        (4, "attribute 'note' is 2001 characters long (at most 2000)")
    ]
    with store.begin(AudienceTx) as tx:
        sub = tx.subscriber_by_key("a@example.com")
    assert sub is not None and sub.attributes == {"note": "onetwo\r\nthree\tfour", "city": "Seoul"}


def test_the_consent_record_names_the_file_in_printable_text(store: Store, tmp_path: Path) -> None:
    name = "list\x1b[31m\n\t" + "x" * 240 + ".csv"
    lib.import_csv(store, _write(tmp_path, "email\na@example.com\n", name), "weekly")
    with store.engine.connect() as conn:
        [source] = conn.exec_driver_sql("SELECT source FROM memberships").scalars()
    assert source.startswith("import list?[31m??xxx") and source.isprintable()
    assert len(source) <= 200
