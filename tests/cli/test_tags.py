"""Tags: `subscribers tag/untag`, `import --tag`, a file's `tags` column, and `show` and
`export` carrying them back out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import db
from tests.support.cli import Result, ok, refused

Cli = Callable[..., Result]


@pytest.fixture
def weekly(cli: Cli, project: Path) -> None:
    ok(cli("lists", "create", "weekly"))


def tags(cli: Cli, email: str) -> list[str]:
    shown = json.loads(ok(cli("subscribers", "show", email, "--format", "json")).stdout)
    return shown["tags"]  # type: ignore[no-any-return]


def test_tags_from_a_file_and_from_the_command_line(cli: Cli, weekly: None, project: Path) -> None:
    (project / "in.csv").write_text(
        "email,name,tags,city\n"
        'kim@example.com,Kim,"VIP; Seoul , vip",Busan\n'
        "lee@example.com,Lee,,Seoul\n"
        'bad@example.com,Bad,"ok,' + "x" * 70 + '",Seoul\n'
    )
    imported = ok(cli("subscribers", "import", "in.csv", "-l", "weekly", "--tag", "Spring 2024"))
    assert "in.csv:4: the tag 'xxxx" in imported.stderr and "left out" in imported.stderr
    assert tags(cli, "kim@example.com") == ["seoul", "spring 2024", "vip"]
    assert tags(cli, "lee@example.com") == ["spring 2024"]
    assert tags(cli, "bad@example.com") == ["ok", "spring 2024"]  # the person is kept
    shown = json.loads(ok(cli("subscribers", "show", "kim@example.com", "-f", "json")).stdout)
    assert shown["attributes"] == {"city": "Busan"}  # tags are not an attribute

    assert (
        "tagged lee@example.com: 'editor'"
        in ok(cli("subscribers", "tag", "LEE@example.com", "Editor", "spring 2024")).stderr
    )
    assert "already has" in ok(cli("subscribers", "tag", "lee@example.com", "EDITOR")).stderr
    assert tags(cli, "lee@example.com") == ["editor", "spring 2024"]
    ok(cli("subscribers", "untag", "lee@example.com", "Spring 2024", "never"))
    assert tags(cli, "lee@example.com") == ["editor"]
    assert "editor" in ok(cli("subscribers", "show", "lee@example.com")).stdout
    refused(cli("subscribers", "tag", "lee@example.com", "a,b"), "separate tags")
    refused(cli("subscribers", "tag", "nobody@example.com", "x"), "no subscriber")
    ok(cli("subscribers", "forget", "kim@example.com"))
    assert db.one("SELECT COUNT(*) FROM tags WHERE tag = 'seoul'") == 0  # gone with them


def test_export_round_trips_tags_in_csv_and_json_lines(
    cli: Cli, weekly: None, project: Path
) -> None:
    (project / "in.jsonl").write_text(
        '{"email": "kim@example.com", "tags": ["VIP", "Seoul"], "plan": "gold"}\n'
        '{"email": "lee@example.com", "name": "Lee"}\n'
    )
    ok(cli("subscribers", "import", "in.jsonl", "-l", "weekly"))
    csv_out = ok(cli("subscribers", "export", "-l", "weekly")).stdout
    assert csv_out.splitlines() == [
        "email,name,tags,plan",
        'kim@example.com,,"seoul,vip",gold',
        "lee@example.com,Lee,,",
    ]
    lines = ok(cli("subscribers", "export", "-l", "weekly", "-f", "jsonl")).stdout.splitlines()
    assert json.loads(lines[0])["tags"] == ["seoul", "vip"]
    assert "tags" not in json.loads(lines[1])

    ok(cli("lists", "create", "copy"))
    (project / "out.csv").write_text(csv_out)
    ok(cli("subscribers", "untag", "kim@example.com", "vip"))
    ok(cli("subscribers", "import", "out.csv", "-l", "copy"))
    assert tags(cli, "kim@example.com") == ["seoul", "vip"]
