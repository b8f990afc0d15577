"""A backup of the database while everything keeps running.

SQLite: SQLite's online backup API copies every page of the database in one step, from
one read snapshot (in WAL mode, `serve` and `send` keep writing meanwhile and are never
blocked; a step-by-step copy would start over at each of their writes), into a file next
to the destination, which is then opened and checked
(`PRAGMA integrity_check`, the schema revision, the tables readable) and only then
renamed over the destination: a crash, a full disk or a failed check never leaves a
half-written file under the backup's name.

PostgreSQL has its own tool for this, `pg_dump`: `dump_command` says how to run it for
the configured database, without the password.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from pipeline.errors import NewsletterError, StoreError


class UseDumpTool(NewsletterError):
    """Not ours to do: the database has its own backup tool (the message says how)."""

    exit_code = 2


@dataclass(frozen=True)
class Backup:
    path: Path
    bytes: int
    revision: str | None
    tables: int
    subscribers: int


def dump_command(database_url: str, out: Path) -> str:
    """The `pg_dump` command line for a PostgreSQL database URL, password left out."""
    url = sa.make_url(database_url)
    plain = sa.URL.create(
        "postgresql", url.username, None, url.host, url.port, url.database, url.query
    )
    target = plain.render_as_string(hide_password=False)
    return f"pg_dump --format=custom --file {shlex.quote(str(out))} {shlex.quote(target)}"


def uses_dump_tool(database_url: str) -> bool:
    """True where the database has its own backup tool (PostgreSQL's pg_dump)."""
    return sa.make_url(database_url).get_backend_name() == "postgresql"


def _sqlite_path(database_url: str) -> Path:
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise StoreError(f"cannot back up {url.render_as_string(hide_password=True)}")
    return Path(url.database)


def backup(database_url: str, out: Path) -> Backup:
    """Back up the database at `database_url` into the file `out` (replaced if it exists)."""
    if uses_dump_tool(database_url):
        raise UseDumpTool(
            "a PostgreSQL database is backed up with pg_dump",
            hint="run: "
            + dump_command(database_url, out)
            + " (the password from PGPASSWORD or ~/.pgpass)",
        )
    source_path = _sqlite_path(database_url)
    if not source_path.is_file():
        raise StoreError(
            f"there is no database at {source_path}",
            hint="check database_url (NEWSLETTER_DATABASE_URL)",
        )
    out = out.expanduser()
    if out.is_dir():
        raise StoreError(f"{out} is a folder", hint="give --out a file name, like backup.db")
    if not out.parent.is_dir():
        raise StoreError(f"there is no folder {out.parent}", hint="create it first")
    if out.exists() and out.resolve() == source_path.resolve():
        raise StoreError(f"{out} is the database itself", hint="give --out another file")
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        _copy(source_path, partial)
        made = _verify(partial)
        os.replace(partial, out)
    except sqlite3.Error as exc:
        raise StoreError(
            f"the backup of {source_path} failed: {exc}; {out} was left as it was",
            hint="check the disk space and that the database opens (`newsletter lists`)",
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot write the backup {out}: {exc.strerror}; it was left as it was",
            hint="check the folder's permissions and the disk space",
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return Backup(out, out.stat().st_size, *made)


def _copy(source_path: Path, partial: Path) -> None:
    source = sqlite3.connect(source_path, timeout=10)
    try:
        target = sqlite3.connect(partial)
        try:
            # All pages in one step: one read snapshot, which a writer never restarts.
            source.backup(target)
            # One self-contained file (no -wal beside it), flushed before the rename.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        source.close()
    with partial.open("rb+") as written:
        os.fsync(written.fileno())


def _verify(partial: Path) -> tuple[str | None, int, int]:
    """Open the copy as a reader would: (schema revision, tables, subscribers)."""
    check = sqlite3.connect(f"file:{partial}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in check.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError(f"integrity check: {'; '.join(problems[:3])}")
        listed = check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = [row[0] for row in listed]
        for name in names:  # every table reads to its end
            check.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        revision = None
        if "alembic_version" in names:
            found = check.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = found[0] if found else None
        people = 0
        if "subscribers" in names:
            people = int(check.execute("SELECT count(*) FROM subscribers").fetchone()[0])
        return revision, len(names), people
    finally:
        check.close()
