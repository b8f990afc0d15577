"""Hostile and broken subscriber files: names that would break a mail header or a
spreadsheet, unbounded cells, odd files. Each class with several inputs, Hypothesis where
the inputs are "any text"."""

from __future__ import annotations

import csv
import json
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.audience import subscribers as lib
from pipeline.audience.cleaning import MAX_NAME, clean_name
from pipeline.audience.store import Store
from pipeline.errors import InputError

LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'test.db'}") as opened:
        lib.create_list(opened, "weekly")
        yield opened


def _write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _names(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT email, name FROM subscribers").all())


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


_HOSTILE_TEXT = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(
        [*(b for b in LINE_BREAKS if len(b) == 1), "\t", "\x00", "\u202e", "\u200b", "\u200d", " "]
    ),
    max_size=60,
)


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


# A Hypothesis test makes its own folder: pytest's tmp_path is one per test, not per example.
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_HOSTILE_TEXT)
def test_any_name_imported_from_a_csv_is_stored_clean(raw: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([["email", "name"], ["kim@example.com", raw]])
        with Store.open(f"sqlite:///{folder}/t.db") as store:
            lib.create_list(store, "weekly")
            report = lib.import_csv(store, path, "weekly")
            assert report.invalid == 0
            assert _names(store)["kim@example.com"] == clean_name(raw.strip() or None).name
