"""`newsletter new`: start the next issue's file from the last one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import kit
from pipeline.issue.links import DEFAULT_TIMEOUT


def new(
    ctx: typer.Context,
    link: Annotated[
        list[str] | None,
        typer.Option(
            "--link",
            help="An article's address (repeatable): its heading is the page's own title.",
        ),
    ] = None,
    issues: Annotated[Path, typer.Option(help="The folder of issue files.")] = Path("issues"),
    timeout: Annotated[
        float, typer.Option(help="Seconds each --link page may take.", min=0.1)
    ] = DEFAULT_TIMEOUT,
) -> None:
    """Write the next issue's file in --issues: the next number, the period after the last
    issue's (same length), its language, its title with the number changed, and an
    article for each --link (or one to fill in). Never overwrites a file."""
    from pipeline.issue.new import new_issue

    settings = kit.settings(ctx)
    made = new_issue(issues, settings, link or [], timeout=timeout)
    for note in made.notes:
        kit.say(f"warning: {note}")
    period = f", {made.period.start} ~ {made.period.end}" if made.period else ""
    kit.say(
        f"wrote {made.path}: issue {made.number}{period}, {made.articles} article(s); "
        f"edit it, then `newsletter preview {made.path}`"
    )


def register(app: typer.Typer) -> None:
    app.command("new")(new)
