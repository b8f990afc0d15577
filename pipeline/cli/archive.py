"""`newsletter archive --out DIR`: the archive of sent issues as a static site."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Filled in by the work on issue 12 (the archive)."""
