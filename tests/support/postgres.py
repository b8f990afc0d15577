"""A throwaway PostgreSQL server for the tests: started once per test run, on 127.0.0.1 and
a free port, with its data in a temporary folder, and stopped at the end.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system
user (Debian's package creates it) and `initdb`/`pg_ctl` run through `runuser`. Durability is
off (`fsync=off`): the data is thrown away anyway.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL's server is not installed: `make test` installs Debian's postgresql package"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One cluster; `create_database()` gives each test a fresh, empty database."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        # In memory where there is a tmpfs: hundreds of test databases are written and
        # thrown away, and deleting them from a disk took seconds at the end of a run.
        shm = Path("/dev/shm")
        where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="newsletter-pg-", dir=where))
        self.data = self.root / "data"
        self._as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        self._started = False
        self._template: str | None = None

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "start")  # fmt: skip
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, *, migrated: bool = False) -> str:
        """A new database, empty or (`migrated`) a copy of one at the newest schema made
        once per server; its SQLAlchemy URL."""
        template = self._migrated_template() if migrated else "template0"
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._create(name, template)
        return self.url(name)

    def _create(self, name: str, template: str) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            # FILE_COPY is the quick way when fsync is off (WAL_LOG writes every page).
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')

    def _migrated_template(self) -> str:
        # Migrating takes ~0.2 s a database; copying a migrated one a few milliseconds.
        # Nothing stays connected to the template (a copy needs that).
        if self._template is None:
            from tests.support.db import migrate

            self._create("newsletter_template", "template0")
            migrate(self.url("newsletter_template"))
            self._template = "newsletter_template"
        return self._template
