"""The filter language of `--where`: what it matches on both backends, the errors that
point at the column, and hostile values that only ever find "no match" or a clean error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.audience import selection
from pipeline.audience import subscribers as lib
from pipeline.audience.filters import MAX_DEPTH, parse, text_of
from pipeline.audience.selection import Filter
from pipeline.db import Store
from pipeline.errors import InputError
from tests.audience.hostile_input import HOSTILE_TEXT

PEOPLE = [
    {"email": "kim@example.com", "name": "Kim Minjun", "tags": ["VIP", "seoul"],
     "attributes": {"city": "Busan", "orders": 12, "renews": "2024-03-05", "paid": True}},
    {"email": "lee@example.com", "name": "Lee", "tags": ["vip"],
     "attributes": {"city": "Seoul", "orders": "9", "renews": "2023-12-31T23:00:00Z"}},
    {"email": "park@example.com", "name": "PARK Jiho",
     "attributes": {"city": "Busan", "orders": "many", "renews": "soon", "paid": False}},
    {"email": "choi@example.org", "name": None, "attributes": {"orders": -2.5}},
]  # fmt: skip


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


@pytest.fixture
def people(store: Store, tmp_path: Path) -> Store:
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in PEOPLE))
    lib.import_csv(store, path, "weekly")
    lib.unsubscribe(store, "choi@example.org", "weekly")
    return store


def matched(store: Store, where: str, list_name: str | None = "weekly") -> list[str]:
    found = selection.people(store, list_name=list_name, where=Filter.parse(where))
    return [p["email"].split("@")[0] for p in found]


# One store for every case: a store per case would cost a migrated database each.
CASES = [
    ('attr.city = "Busan"', ["kim", "park"]),
    ('ATTR.City = "Busan" AND tag:VIP', ["kim"]),
    ('attr.city != "Busan"', ["lee", "choi"]),  # no city is "not Busan" too
    ("attr.city exists", ["kim", "lee", "park"]),
    ("not attr.city exists", ["choi"]),
    # numbers compare as numbers, stored as JSON numbers or as numeric text; "many" never
    ("attr.orders > 9", ["kim"]),
    ("attr.orders >= 9", ["kim", "lee"]),
    ("attr.orders < 0", ["choi"]),
    ("attr.orders = 12", ["kim"]),
    ('attr.orders = "many"', ["park"]),
    # text order would put "12" before "9"
    ('attr.orders < "9"', ["kim", "choi"]),
    # dates compare as dates where the text begins with one
    ("attr.renews < 2024-01-01", ["lee"]),
    ("attr.renews >= 2024-01-01", ["kim"]),
    ('attr.paid = "true"', ["kim"]),
    ('email ~ "EXAMPLE.COM"', ["kim", "lee", "park"]),
    ('name ~ "park"', ["park"]),
    ('name ~ "%"', []),  # a LIKE wildcard is a plain character
    ('email = "Lee@Example.com"', ["lee"]),
    ('tag:seoul or (attr.city = "Seoul" and not tag:nobody)', ["kim", "lee"]),
    ('status = "unsubscribed"', ["choi"]),
    ('status != "active"', ["choi"]),
    ("joined within 1d", ["kim", "lee", "park", "choi"]),
    ("joined < 2020-01-01", []),
    ("received in last 3 issues", []),  # nothing sent yet
]


def test_what_a_filter_matches(people: Store) -> None:
    found = {where: matched(people, where) for where, _ in CASES}
    assert found == dict(CASES)


def test_without_a_list_status_is_the_persons(people: Store) -> None:
    assert matched(people, 'status = "active"', list_name=None) == ["kim", "lee", "park", "choi"]
    with pytest.raises(InputError, match="counts the issues of one list"):
        matched(people, "opened in last 2 issues", list_name=None)


@pytest.mark.single_backend  # never opens the store
@pytest.mark.parametrize(
    ("where", "error"),
    [
        ("attr.city = Busan", 'line 1, col 13: a text value needs quotes: "Busan"'),
        ('attr.city = "Busan', 'line 1, col 13: this text has no closing "'),
        ('attr.city == "x"', "line 1, col 12: expected a value, found '='"),
        ("tag:vip and", "line 1, col 12: expected a condition, found the end"),
        ("(tag:vip or tag:x", "line 1, col 18: expected ), found the end"),
        ("tag:vip tag:x", "line 1, col 9: expected and, or or the end, found 'tag'"),
        ("city = 'x'", "line 1, col 1: unknown condition 'city'"),
        ('status = "gone"', "line 1, col 10: unknown status 'gone'"),
        ("joined < yesterday", "line 1, col 10: expected a date (YYYY-MM-DD)"),
        ("joined < 2024-02-30", "line 1, col 10: 2024-02-30 is not a date"),
        ("opened in last 0 issues", "line 1, col 16: a number of issues from 1 to 1000"),
        ("opened last 3 issues", "line 1, col 8: expected in, found 'last'"),
        ("tag:a,b", "line 1, col 5: the tag 'a,b' contains ',' or ';'"),
        ('email ~ "a\x00b"', "line 1, col 9: a value cannot hold control characters"),
        ("", "line 1, col 1: the filter is empty"),
        ("tag:x & tag:y", "line 1, col 7: unexpected '&'"),
        ("(" * (MAX_DEPTH + 1) + "tag:x" + ")" * (MAX_DEPTH + 1), "nested too deeply"),
    ],
)
def test_mistakes_point_at_their_column(where: str, error: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(where)
    assert error in caught.value.message


@pytest.mark.single_backend  # never opens the store
def test_one_filter_has_one_spelling() -> None:
    spellings = [
        'attr.City = "Busan"  AND (TAG:VIP or tag:seoul)',
        "attr.city='Busan' and (tag:vip OR tag:Seoul)",
    ]
    texts = {text_of(parse(s)) for s in spellings}
    assert texts == {'attr.city = "Busan" and (tag:vip or tag:seoul)'}
    tricky = 'name ~ "say \\"hi\\" \\\\ bye" and not (opened in last 2 issues or joined within 1w)'
    assert text_of(parse(text_of(parse(tricky)))) == text_of(parse(tricky))


INJECTIONS = st.sampled_from(
    ["' OR 1=1 --", '" OR ""="', "x'); DROP TABLE subscribers; --", "\x00", "%", "_", "\\",
     "$.city", '$."city"', "a" * 10_000, "' || (SELECT email FROM subscribers) || '",
     "(" * 5000 + "tag:x" + ")" * 5000, "not " * 3000 + "tag:x", "tag:x or " * 2000 + "tag:y"]
)  # fmt: skip
HOSTILE = HOSTILE_TEXT | INJECTIONS


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The store is read only, so one per test (not per example) is right.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=HOSTILE, name=HOSTILE, template=st.integers(0, 5))
def test_hostile_values_find_no_match_or_a_clean_error(
    people: Store, value: str, name: str, template: int
) -> None:
    where = [
        f"attr.city = {_quoted(value)}",
        f"attr.{_quoted(name)} = {_quoted(value)}",
        f"email ~ {_quoted(value)} or name = {_quoted(value)}",
        f"tag:{_quoted(value)}",
        f"attr.{_quoted(name)} < {_quoted(value)} or attr.{_quoted(name)} exists",
        f"not ({value})",
    ][template]
    try:
        found = matched(people, where)
    except InputError as exc:
        assert exc.message.startswith("line 1, col ") or "characters long" in exc.message
        return
    before = len(PEOPLE)
    assert set(found) <= {"kim", "lee", "park", "choi"}
    assert len(list(selection.people(people, list_name="weekly"))) == before  # nothing changed
