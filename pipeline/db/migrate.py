"""Bring a database to the newest schema with Alembic: once, however many processes start.

The revisions are in `migrations/versions/`. `migrate` first looks (read-only) whether the
database is already at the head, which is the common case and takes no lock. Otherwise it
opens one write transaction, takes the migration lock (PostgreSQL: a transaction-level
advisory lock; SQLite: `BEGIN IMMEDIATE`, the database's write lock), looks again, and
upgrades: a second process starting at the same moment waits for the lock and then finds
nothing to do. PostgreSQL and SQLite both run DDL inside transactions, so a migration
that fails leaves the database as it was.

A database made before Alembic carries its version (1 to 4) in a `schema_version` table;
it is adopted by stamping the Alembic revision of the same number, then upgraded.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from pipeline.db.schema import LEGACY_VERSIONS
from pipeline.errors import StoreError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The advisory lock that serialises migrations on PostgreSQL ("nlmg" in ASCII).
LOCK_KEY = 0x6E6C6D67
# Alembic says "Context impl ..." at INFO on every upgrade; our commands speak for themselves.
logging.getLogger("alembic").setLevel(logging.WARNING)


def _config(location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(location))
    return config


@functools.cache
def _scripts(location: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(location))


def head(location: Path = MIGRATIONS) -> str:
    """The newest revision this program knows."""
    revision = _scripts(location).get_current_head()
    assert revision is not None, f"no migrations in {location}"
    return revision


def current(conn: Connection) -> str | None:
    """The database's revision (None for an empty database, or one made before Alembic)."""
    return MigrationContext.configure(conn).get_current_revision()


def _legacy_version(conn: Connection) -> int | None:
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    found = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
    return int(found) if found else None


def _known(revision: str, location: Path) -> bool:
    return revision in {script.revision for script in _scripts(location).walk_revisions()}


def _newer(found: str, knows: str) -> StoreError:
    return StoreError(
        f"the database is at schema revision {found}, newer than this program knows ({knows})",
        hint="upgrade newsletter, or point NEWSLETTER_DATABASE_URL elsewhere",
    )


def migrate(engine: Engine, location: Path = MIGRATIONS) -> str:
    """Upgrade the database to the head revision if it is not there yet; return the head."""
    target = head(location)
    with engine.connect() as conn:
        found = current(conn)
        conn.rollback()
    if found == target:
        return target
    if found is not None and not _known(found, location):
        raise _newer(found, target)
    with engine.connect() as conn:
        conn = conn.execution_options(newsletter_write=True)
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            found = current(conn)  # again, under the lock: another process may be done
            if found == target:
                return target
            config = _config(location)
            config.attributes["connection"] = conn
            if found is None:
                legacy = _legacy_version(conn)
                if legacy is not None:
                    if legacy > LEGACY_VERSIONS:
                        raise _newer(str(legacy), target)
                    log.info("adopting a database at schema version %d", legacy)
                    command.stamp(config, f"{legacy:04d}")
            log.info("migrating the database to revision %s", target)
            command.upgrade(config, "head")
    return target
