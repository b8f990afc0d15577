"""Running a benchmark's measurement in a fresh process per size and backend (so that its
peak memory is its own), on SQLite and on PostgreSQL (a throwaway server for the run);
`BENCH_BACKENDS=sqlite` drops PostgreSQL. The script runs `run_one` when called as
`SCRIPT --child ROWS FOLDER URL` and prints its result as one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def each_backend(script: str, sizes: list[int], prefix: str) -> list[dict[str, Any]]:
    """`script --child` for each size on each backend: their results, with `backend`."""
    backends = os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",")
    results = []
    server = None
    if "postgresql" in backends:
        sys.path.insert(0, str(ROOT))
        from tests.support.postgres import PostgresServer

        server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as folder:
            for rows in sizes:
                for backend in backends:
                    url = (
                        f"sqlite:///{folder}/bench-{rows}.db"
                        if backend == "sqlite"
                        else server.create_database()  # type: ignore[union-attr]
                    )
                    child = subprocess.run(
                        [sys.executable, script, "--child", str(rows), folder, url],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    results.append({"backend": backend, **json.loads(child.stdout)})
    finally:
        if server is not None:
            server.stop()
    return results
