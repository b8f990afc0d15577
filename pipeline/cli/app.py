"""Command-line interface: argument parsing and printing only; the work is in the library."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from pipeline import __version__
from pipeline.cli import kit
from pipeline.cli.kit import State, err
from pipeline.errors import NewsletterError
from pipeline.output import Format, emit_rows
from pipeline.settings import hide_password

app = typer.Typer(
    name="newsletter",
    help="Write, check, preview, render and send an email newsletter.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"newsletter {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: ./newsletter.toml; env NEWSLETTER_CONFIG).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Write, check, preview, render and send an email newsletter."""
    ctx.obj = State(config=config)


@app.command("config")
def config_cmd(ctx: typer.Context, fmt: kit.FormatOption = Format.table) -> None:
    """Show the settings in force (secrets masked)."""
    settings = kit.settings(ctx)
    values = settings.model_dump()
    if settings.secret_key is not None:
        values["secret_key"] = "********"
    # How many, never what: each still verifies the links it signed (see the README).
    count = len(settings.old_secret_keys)
    values["old_secret_keys"] = f"{count} in force" if count else "none"
    values["database_url"] = hide_password(settings.database_url)
    theme = values.pop("theme")
    rows = [{"key": key, "value": value} for key, value in values.items()]
    rows += [{"key": f"theme.{key}", "value": value} for key, value in theme.items()]
    emit_rows(rows, ["key", "value"], fmt, title="Settings")


def _register() -> None:
    from pipeline.cli import (
        archive,
        aws,
        database,
        events,
        imports,
        issue,
        lists,
        new,
        schedule,
        segments,
        send,
        serve,
        signup,
        subscribers,
    )

    new.register(app)
    issue.register(app)
    lists.register(app)
    imports.register(subscribers.subscribers_app)  # `subscribers import`
    subscribers.register(app)
    segments.register(app)
    signup.register(app)
    send.register(app)
    schedule.register(app)
    serve.register(app)
    events.register(app)
    archive.register(app)
    aws.register(app)
    database.register(app)


_register()


@functools.cache
def command() -> Callable[..., Any]:
    """The click command typer builds from the functions above: built once per process
    (typer rebuilds it on every call, reading every signature of every command again)."""
    return typer.main.get_command(app)


def main() -> None:
    """Entry point: user mistakes become one clean message and a non-zero exit."""
    try:
        command()(prog_name="newsletter")
    except NewsletterError as exc:
        # Messages quote user values (a pattern like `[a-z]`, a name): never read as markup.
        err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err.print(f"  hint: {escape(exc.hint)}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # a bug, not a user mistake: say so, keep the details short
        if os.environ.get("NEWSLETTER_DEBUG"):
            raise
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "  this is a bug in newsletter; run again with NEWSLETTER_DEBUG=1 for the "
            "traceback and report it",
            highlight=False,
        )
        sys.exit(70)
