"""Exports are safe to open in a spreadsheet and still round-trip with import, for any
name that cleaning leaves; numbers that are not JSON never get in or out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.audience import subscribers as lib
from pipeline.audience.cleaning import clean_name
from pipeline.audience.queries import AudienceTx
from pipeline.db import Store
from pipeline.errors import InputError
from tests.audience.hostile_input import HOSTILE_TEXT as _HOSTILE_TEXT
from tests.audience.hostile_input import NOW
from tests.audience.hostile_input import SETTINGS as _SETTINGS
from tests.audience.hostile_input import names as _names
from tests.audience.hostile_input import write as _write
from tests.support import db
from tests.support.properties import examples


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


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
def two_stores(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[Store, Store, Path]]:
    with (
        Store.open(database_url) as first,
        Store.open(db.another_database(request)) as second,
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
    with first.begin(AudienceTx) as tx:
        sub = tx.subscriber_by_key("kim@example.com")
        assert sub is not None
        tx.update_subscribers([(sub.id, sub.name, attributes)], NOW)
    exported = _export(first, fmt, excel=excel)
    path = folder / f"out.{fmt}"
    path.write_bytes(exported.encode())
    report = lib.import_csv(second, path, "weekly")
    assert (report.added, report.invalid, report.cleaned) == (1, 0, 0)
    assert _export(second, fmt, excel=excel) == exported
    with second.begin(AudienceTx) as tx:
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
    _SETTINGS,
    max_examples=examples(100),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
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


def test_a_lone_carriage_return_in_a_value_is_quoted_on_export(
    store: Store, tmp_path: Path
) -> None:
    record = {"email": "kim@example.com", "attributes": {"note": "a\rb", "other": "c\nd"}}
    lib.import_csv(store, _write(tmp_path, json.dumps(record) + "\n", "in.jsonl"), "weekly")
    assert _export(store) == 'email,name,note,other\nkim@example.com,,"a\rb","c\nd"\n'
