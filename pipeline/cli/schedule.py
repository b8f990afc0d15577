"""`newsletter schedule ...` and `newsletter worker`: campaigns that start at a given time."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the work on issue 12 (scheduled campaigns)."""
