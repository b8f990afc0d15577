"""`newsletter lists`: public lists and their descriptions, and counts that keep
unconfirmed signups apart from subscribers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import db
from tests.support.cli import ok, refused


def test_create_and_update_public_lists(project: Path, cli) -> None:
    created = ok(
        cli("lists", "create", "weekly", "--public", "--description", "매주  토요일\n아침")
    )
    assert "public list" in created.stderr
    assert tuple(db.rows("SELECT public, description FROM lists")[0]) == (True, "매주 토요일 아침")
    ok(cli("lists", "create", "staff"))
    assert "now public" in ok(cli("lists", "update", "staff", "--public")).stderr
    assert "nothing changed" in ok(cli("lists", "update", "staff", "--public")).stderr
    changed = ok(cli("lists", "update", "staff", "--private", "--description", "내부용"))
    assert "now private" in changed.stderr and "description set" in changed.stderr
    assert "description removed" in ok(cli("lists", "update", "staff", "--description", "")).stderr
    rows = {r["name"]: r for r in json.loads(ok(cli("lists", "--format", "json")).stdout)}
    assert rows["weekly"]["public"] is True and rows["staff"]["public"] is False
    assert rows["staff"]["description"] is None and rows["weekly"]["unconfirmed"] == 0
    table = ok(cli("lists")).stdout
    assert "public" in table and "unconfirmed" in table


def test_bad_list_changes_are_refused(project: Path, cli) -> None:
    ok(cli("lists", "create", "weekly"))
    refused(cli("lists", "update", "weekly"), "nothing to change")
    refused(cli("lists", "update", "nope", "--public"), "no list named 'nope'")
    refused(cli("lists", "create", "x", "--description", "y" * 600), "at most 500")
    refused(cli("lists", "create", "x", "--description", "bell\x07"), "printable")
    assert db.one("SELECT count(*) FROM lists") == 1
