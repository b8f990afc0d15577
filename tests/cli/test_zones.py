"""Zone names that are no zone, wherever a person gives one (`--tz`, the `timezone`
setting, the TZ environment variable): a clear message naming where, never an internal
error. zoneinfo opens a name as a file, so the class is long names, paths, folders and
NUL, not only unknown names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT, ok, refused
from tests.support.scheduling import Cli, at, issue_copy, listed, tomorrow

NOT_ZONES = [
    "A" * 300,
    "Asia/" + "x" * 250,
    "a/" * 120,
    "Asia",  # a folder of the tz database
    "..",
    "../../etc/passwd",
    "/etc/passwd",
    "Asia/Seoul/",
    "UTC\x00",
    "No/Such_Zone",
]


def _short(name: str) -> str:
    return f"{name[:12]!r}({len(name)})"


IN_ENVIRONMENT = [name for name in NOT_ZONES if "\x00" not in name]  # NUL cannot be in one


@pytest.mark.parametrize("name", NOT_ZONES, ids=_short)
def test_tz_option(cli: Cli, project: Path, name: str) -> None:
    ok(cli("lists", "create", "weekly"))
    issue = issue_copy(project)
    result = cli("schedule", issue, "--list", "weekly", "--at", at(tomorrow()), "--tz", name)
    refused(result, "--tz: unknown time zone", "IANA zone name")
    assert len(result.stderr) < 400
    assert listed(cli) == []


@pytest.mark.parametrize("name", NOT_ZONES, ids=_short)
def test_timezone_setting(cli: Cli, project: Path, name: str) -> None:
    with (project / "newsletter.toml").open("a", encoding="utf-8") as toml:
        toml.write(f"\ntimezone = {json.dumps(name)}\n")  # a TOML basic string
    refused(cli("config"), "timezone")


@pytest.mark.parametrize("name", IN_ENVIRONMENT, ids=_short)
def test_tz_variable_refused_when_a_schedule_needs_it(
    cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    ok(cli("lists", "create", "weekly"))
    issue = issue_copy(project)
    monkeypatch.setenv("TZ", name)
    result = cli("schedule", issue, "--list", "weekly", "--at", at(tomorrow()))
    refused(result, "the TZ environment variable is not a time zone name", "--tz")
    # --tz or the setting answer the question TZ could not.
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(tomorrow()), "--tz", "UTC"))


@pytest.mark.parametrize("name", ["A" * 300, "..", "/etc/passwd"], ids=_short)
def test_a_process_starts_whatever_tz_holds(project: Path, name: str) -> None:
    """TZ is read when the process starts (Babel reads it on import): `config` works."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"TZ": name, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "config", "--format", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert any(row["key"] == "timezone" for row in json.loads(done.stdout))
