"""`newsletter backup` and `newsletter db copy|upgrade`: the database as an operator
handles it (the work is in pipeline/db/backup.py and copy.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import kit
from pipeline.db import Store
from pipeline.db.copy import BATCH_ROWS, CopyProgress
from pipeline.output import Format, emit_rows
from pipeline.settings import hide_password

db_app = typer.Typer(
    help="The database: upgrade its schema, copy it to another (SQLite to PostgreSQL).",
    no_args_is_help=True,
)


def backup(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The backup file (replaced if it exists).")],
) -> None:
    """Back up the SQLite database while serve, worker and send keep running (SQLite's
    online backup API), check the copy opens whole, then put it at --out. On PostgreSQL
    it prints the pg_dump command for the configured database and exits 2."""
    from pipeline.db.backup import backup as run_backup
    from pipeline.db.backup import dump_command, uses_dump_tool

    database_url = kit.settings(ctx).database_url
    if uses_dump_tool(database_url):
        print(dump_command(database_url, out))  # stdout: the command alone, for a script
        kit.say(
            "a PostgreSQL database is backed up with pg_dump: run the command above "
            "(the password from PGPASSWORD or ~/.pgpass; restore with pg_restore)"
        )
        raise typer.Exit(2)
    made = run_backup(database_url, out)
    kit.say(
        f"backed up {made.subscribers} subscriber(s), {made.tables} tables "
        f"(schema revision {made.revision or 'none'}) to {made.path}: "
        f"{made.bytes / 1e6:.1f} MB, integrity check ok"
    )


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema to this version's newest revision (every command also does it on
    first use); says from which revision to which. See the README before running it while
    an older version's processes still run."""
    settings = kit.settings(ctx)
    with Store.open(settings.database_url, migrate=False) as store:
        before = store.schema_version()
        after = store.migrate()
    shown = hide_password(settings.database_url)
    if before == after:
        kit.say(f"{shown} is already at the newest revision, {after}")
    else:
        kit.say(f"upgraded {shown} from revision {before or 'none'} to {after}")


@contextmanager
def _progress() -> Iterator[Callable[[CopyProgress], None]]:
    """A bar per table on a terminal; otherwise a line per table and every few seconds."""
    if kit.err.is_terminal:
        from rich.progress import BarColumn, Progress, TaskID, TextColumn

        bar = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} rows"),
            console=kit.err,
        )
        tasks: dict[str, TaskID] = {}

        def update(progress: CopyProgress) -> None:
            if progress.table not in tasks:
                tasks[progress.table] = bar.add_task(progress.table, total=progress.total)
            bar.update(tasks[progress.table], completed=progress.done)

        with bar:
            yield update
        return
    last = [time.monotonic()]

    def log_line(progress: CopyProgress) -> None:
        now = time.monotonic()
        if progress.done == progress.total or now - last[0] >= 5:
            kit.say(f"{progress.table}: {progress.done}/{progress.total} rows")
            last[0] = now

    yield log_line


@db_app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The new, empty database: postgresql+psycopg://user:password@host/db, "
            "or sqlite:///path/new.db",
        ),
    ],
    batch: Annotated[int, typer.Option(min=1, help="Rows per batch.")] = BATCH_ROWS,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """Copy everything (subscribers, lists, consent, suppressions, campaigns, the send
    log, events, schedules, web versions, signups, the outbox...) from the configured
    database into an empty one, in one transaction; each table's rows are counted and
    checksummed on both sides before it commits. serve and send may keep running: the
    copy is of one moment; stop them before switching database_url to the copy."""
    from pipeline.db.copy import copy_database

    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as source, _progress() as on_progress:
        copied = copy_database(source, to, batch=batch, on_progress=on_progress)
    rows = [{"table": t.name, "rows": t.rows, "checksum": t.checksum[:16]} for t in copied]
    emit_rows(rows, ["table", "rows", "checksum"], fmt, title="Copied")
    kit.say(
        f"copied {sum(t.rows for t in copied)} rows in {len(copied)} tables to "
        f"{hide_password(to)}; counts and checksums match on both sides. Point "
        "database_url (NEWSLETTER_DATABASE_URL) at it, with serve and worker stopped"
    )


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.add_typer(db_app, name="db")
