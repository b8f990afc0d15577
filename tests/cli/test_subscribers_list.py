"""`subscribers list`: everyone, a list's members or a filter's matches, in every format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import Result, ok, refused

Cli = Callable[..., Result]


def test_list_filters_limits_and_formats(cli: Cli, project: Path) -> None:
    ok(cli("lists", "create", "weekly"))
    (project / "in.csv").write_text(
        "email,name,tags,city\n"
        "kim@example.com,Kim,vip,Busan\n"
        "lee@example.com,Lee,,Seoul\n"
        "park@example.com,Park,vip,Busan\n"
    )
    ok(cli("subscribers", "import", "in.csv", "-l", "weekly"))
    ok(cli("subscribers", "unsubscribe", "park@example.com", "-l", "weekly"))

    lines = ok(cli("subscribers", "list", "-f", "jsonl")).stdout.splitlines()
    assert [json.loads(x)["email"] for x in lines] == [
        "kim@example.com",
        "lee@example.com",
        "park@example.com",
    ]
    where = 'attr.city = "Busan" and tag:VIP'
    found = json.loads(
        ok(cli("subscribers", "list", "-l", "weekly", "-w", where, "-f", "json")).stdout
    )
    assert [(p["email"], p["list_status"], p["tags"]) for p in found] == [
        ("kim@example.com", "subscribed", ["vip"]),
        ("park@example.com", "unsubscribed", ["vip"]),
    ]
    active = ok(cli("subscribers", "list", "-l", "weekly", "--status", "active", "-f", "csv"))
    rows = list(csv.DictReader(io.StringIO(active.stdout)))
    assert [r["email"] for r in rows] == ["kim@example.com", "lee@example.com"]
    assert json.loads(rows[0]["attributes"]) == {"city": "Busan"}
    assert ok(cli("subscribers", "list", "--limit", "1", "-f", "jsonl")).stdout.count("\n") == 1
    table = ok(cli("subscribers", "list", "-l", "weekly", "-w", "tag:vip")).stdout
    assert "kim@example.com" in table and "lee@example.com" not in table

    bad = refused(cli("subscribers", "list", "-w", "attr.city = Busan", "-f", "csv"), "quotes")
    assert bad.stdout == ""  # the mistake is found before any output
    assert '--where: line 1, col 13: a text value needs quotes: "Busan"' in bad.stderr
    refused(cli("subscribers", "list", "-w", "opened in last 3 issues"), "--list")
    refused(cli("subscribers", "list", "--status", "gone"), "not a status")
