"""Hostile and broken subscriber files: names that would break a mail header or a
spreadsheet, unbounded cells, odd files. Each class with several inputs, Hypothesis where
the inputs are "any text"."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.audience import subscribers as lib
from pipeline.audience.cleaning import MAX_NAME, clean_name
from pipeline.audience.store import Store
from pipeline.errors import InputError

NOW = datetime(2024, 6, 1, tzinfo=UTC)
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


# --- exports are safe to open in a spreadsheet, and still round-trip --------------------------

FORMULAS = [
    '=HYPERLINK("http://evil.test","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "'=already quoted",
]


def _export(store: Store, fmt: str = "csv", *, excel: bool = False) -> str:
    out = io.StringIO(newline="")
    lib.export(store, "weekly", out, fmt, excel=excel)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_export_neutralises_formulas_and_jsonl_stays_exact(
    store: Store, tmp_path: Path, formula: str
) -> None:
    record = {"email": "kim@example.com", "name": formula, "attributes": {"note": formula}}
    lib.import_csv(store, _write(tmp_path, json.dumps(record) + "\n", "in.jsonl"), "weekly")
    rows = list(csv.reader(io.StringIO(_export(store))))
    assert rows[1] == ["kim@example.com", "'" + formula, "'" + formula]
    assert json.loads(_export(store, "jsonl")) == record


def test_email_and_number_cells_are_escaped_too(store: Store, tmp_path: Path) -> None:
    record = {"email": "-x@example.com", "name": "X", "attributes": {"score": -5, "=col": "a"}}
    lib.import_csv(store, _write(tmp_path, json.dumps(record) + "\n", "in.jsonl"), "weekly")
    rows = list(csv.reader(io.StringIO(_export(store))))
    assert rows == [["email", "name", "'=col", "score"], ["'-x@example.com", "X", "a", "'-5"]]


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[Store, Store, Path]]:
    with (
        Store.open(f"sqlite:///{tmp_path / 'a.db'}") as first,
        Store.open(f"sqlite:///{tmp_path / 'b.db'}") as second,
    ):
        lib.create_list(first, "weekly")
        lib.create_list(second, "weekly")
        yield first, second, tmp_path


def _round_trip(
    stores: tuple[Store, Store, Path], name: str | None, value: str, fmt: str, excel: bool = False
) -> None:
    """Export a person from one database, import the file into another: the same bytes."""
    first, second, folder = stores
    for store in (first, second):  # a fresh start for each example, without a new database
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM subscribers")
    attributes = {"note": value} if value else {}
    lib.add(first, "kim@example.com", "weekly", name=name)
    with first.begin() as tx:
        sub = tx.subscriber_by_key("kim@example.com")
        assert sub is not None
        tx.update_subscribers([(sub.id, sub.name, attributes)], NOW)
    exported = _export(first, fmt, excel=excel)
    path = folder / f"out.{fmt}"
    path.write_bytes(exported.encode())
    report = lib.import_csv(second, path, "weekly")
    assert (report.added, report.invalid, report.cleaned) == (1, 0, 0)
    assert _export(second, fmt, excel=excel) == exported
    with second.begin() as tx:
        copy = tx.subscriber_by_key("kim@example.com")
    assert copy is not None
    assert (copy.name, copy.attributes) == (name, attributes)


_NAMES = _HOSTILE_TEXT.map(lambda raw: clean_name(raw).name)  # any name that cleaning leaves
# Attribute values may keep line breaks and tabs (a notes column), a lone CR included.
_VALUES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc"]) | st.sampled_from("\r\n\t"),
    max_size=30,
).map(str.strip)
# The databases are made once per test (not per example): a function-scoped fixture is fine.
_SHARED = settings(
    _SETTINGS, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SHARED
@given(name=_NAMES, value=_VALUES | st.sampled_from(FORMULAS))
def test_any_clean_name_round_trips_through_csv(
    two_stores: tuple[Store, Store, Path], name: str | None, value: str
) -> None:
    _round_trip(two_stores, name, value, "csv")


@_SHARED
@given(name=_NAMES | st.sampled_from(FORMULAS), value=_VALUES)
def test_any_clean_name_round_trips_through_jsonl_and_excel_csv(
    two_stores: tuple[Store, Store, Path], name: str | None, value: str
) -> None:
    _round_trip(two_stores, name, value, "jsonl")
    _round_trip(two_stores, name, value, "csv", excel=True)


def test_excel_export_has_a_bom_and_crlf_and_imports_back(store: Store, tmp_path: Path) -> None:
    lib.add(store, "kim@example.com", "weekly", name="김민준")
    exported = _export(store, excel=True)
    assert exported == "\ufeffemail,name\r\nkim@example.com,김민준\r\n"
    with pytest.raises(InputError, match="--excel is for CSV"):
        _export(store, "jsonl", excel=True)


# --- numbers that are not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ('{"email": "a@example.com", "score": NaN}', "NaN is not a JSON number"),
        ('{"email": "a@example.com", "score": -Infinity}', "-Infinity is not a JSON number"),
        ('{"email": "a@example.com", "attributes": {"x": [1e400]}}', "1e400 is too large"),
        ('{"email": "a@example.com", "n": ' + "9" * 5000 + "}", "not usable JSON"),
        ('{"email": "a@example.com", "n": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
        ('{"email": "a@example.com", "email": "b@example.com"}', "appears twice"),
        ('{"email": "a@example.com", "Plan": 1, "attributes": {"plan": 2}}', "repeat"),
        ('{"email": "a@example.com", "": 1}', "attribute name '' is empty"),
        ('{"email": "a@example.com", "x": "\\ud800"}', "not valid UTF-8"),
        ('{"email": "a@example.com", "name": "\\udcff"}', "not valid UTF-8"),
    ],
)
def test_jsonl_rows_that_are_not_plain_json_are_invalid_rows(
    store: Store, tmp_path: Path, record: str, reason: str
) -> None:
    content = f'{record}\n{{"email": "ok@example.com", "score": 1.5}}\n'
    report = lib.import_csv(store, _write(tmp_path, content, "in.jsonl"), "weekly")
    assert [r.line for r in report.invalid_rows] == [1]
    assert reason in report.invalid_rows[0].reason
    assert report.added == 1 and _names(store) == {"ok@example.com": None}


def test_old_rows_holding_nan_still_export_valid_json(store: Store) -> None:
    lib.add(store, "kim@example.com", "weekly")
    with store.engine.begin() as conn:  # as an import made before NaN was refused stored it
        conn.exec_driver_sql('UPDATE subscribers SET attributes = \'{"a":NaN,"b":[Infinity]}\'')

    def strict(constant: str) -> None:
        raise AssertionError(f"{constant} in JSON output")

    [line] = _export(store, "jsonl").splitlines()
    assert json.loads(line, parse_constant=strict)["attributes"] == {"a": None, "b": [None]}
    assert _export(store).splitlines()[1] == "kim@example.com,,,[null]"


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
    with store.begin() as tx:
        sub = tx.subscriber_by_key("a@example.com")
    assert sub is not None and sub.attributes == {"note": "onetwo\r\nthree\tfour", "city": "Seoul"}


def test_the_consent_record_names_the_file_in_printable_text(store: Store, tmp_path: Path) -> None:
    name = "list\x1b[31m\n\t" + "x" * 240 + ".csv"
    lib.import_csv(store, _write(tmp_path, "email\na@example.com\n", name), "weekly")
    with store.engine.connect() as conn:
        [source] = conn.exec_driver_sql("SELECT source FROM memberships").scalars()
    assert source.startswith("import list?[31m??xxx") and source.isprintable()
    assert len(source) <= 200


def test_a_lone_carriage_return_in_a_value_is_quoted_on_export(
    store: Store, tmp_path: Path
) -> None:
    record = {"email": "kim@example.com", "attributes": {"note": "a\rb", "other": "c\nd"}}
    lib.import_csv(store, _write(tmp_path, json.dumps(record) + "\n", "in.jsonl"), "weekly")
    assert _export(store) == 'email,name,note,other\nkim@example.com,,"a\rb","c\nd"\n'
