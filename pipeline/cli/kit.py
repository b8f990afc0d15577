"""Small pieces every command module shares: the settings in force, options, consoles."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
