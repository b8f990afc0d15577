"""`newsletter form` and `newsletter signups ...`: readers who join on their own."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the work on issue 11 (signup)."""
