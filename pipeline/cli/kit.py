"""Small pieces every command module shares: the settings in force, options, consoles,
an issue named by its file or its number."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline.errors import InputError
from pipeline.issue.limits import MAX_NUMBER
from pipeline.issue.source import read_issue
from pipeline.output import Format
from pipeline.settings import Settings, load_settings

# Human messages go to stderr so that stdout stays clean for --format json/jsonl/csv.
err = Console(stderr=True, soft_wrap=True)


@dataclass
class State:
    config: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def settings(ctx: typer.Context) -> Settings:
    return state(ctx).settings


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help="Output: table for people; json, jsonl or csv for scripts."
    ),
]


def say(message: str) -> None:
    """A progress or result line for people (stderr, so scripts can read stdout)."""
    err.print(message, highlight=False)


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal (`--yes` skips it); with no terminal, refuse rather than guess."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("not confirmed: no terminal to ask on", hint="pass --yes to go ahead")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def issue_number(value: str) -> int:
    """An issue given as its number or its file (`log`, `schedule cancel`, `report`)."""
    if value.isascii() and value.isdigit():
        # Checked as text first: int() of 5,000 digits raises, and SQLite stops at 2**63.
        if len(value) > len(str(MAX_NUMBER)) or int(value) > MAX_NUMBER:
            raise InputError(
                f"issue number {value[:20]}{'...' if len(value) > 20 else ''} is too large",
                hint=f"issue numbers go up to {MAX_NUMBER}",
            )
        return int(value)
    issue, problems = read_issue(Path(value))
    if issue is None or not issue.front_matter_ok:
        first = problems[0] if problems else f"{value}: cannot read the issue"
        raise InputError(f"{first}", hint="give the issue file or its number")
    return issue.number
