"""`newsletter db copy` benchmark: a SQLite database with N subscribers (imported, each with
a membership and a consent record) and one campaign's send log (N delivery rows), copied
to a fresh PostgreSQL database (a throwaway server), and that copy back to a new SQLite file.

    .venv/bin/python bench/bench_copy.py            # 100,000 subscribers
    .venv/bin/python bench/bench_copy.py 20000      # any sizes you like

Each copy runs in its own process, so the peak memory (ru_maxrss) and the CPU time are that
copy's own (the CPU time is the fairer figure on a shared machine).
Targets: at least 10,000 rows/s; peak memory that does not grow with the database (the
copy streams in batches).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIZES = (100_000,)


def populate(url: str, rows: int, folder: Path) -> None:
    from bench_import import generate

    from pipeline.audience import subscribers as lib
    from pipeline.db import Store
    from pipeline.delivery.sendlog import SendLog

    csv_path = folder / f"people-{rows}.csv"
    generate(csv_path, rows)
    with Store.open(url) as store:
        lib.create_list(store, "bench")
        lib.import_csv(store, csv_path, "bench")
        log = SendLog(store)
        log.start(1, log.list_of("bench"), "bench", dry_run=False)


def copy_one(source: str, target: str) -> dict[str, float]:
    """Runs in the child process."""
    from pipeline.db import Store
    from pipeline.db.copy import copy_database

    with Store.open(source) as store:
        started, cpu = time.perf_counter(), time.process_time()
        copied = copy_database(store, target)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    total = sum(table.rows for table in copied)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": total,
        "seconds": seconds,
        "rows_per_s": total / seconds,
        "cpu_per_1000": cpu / total * 1000,
        "peak_mb": peak_kb / 1024,
    }


def child(source: str, target: str) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, __file__, "--child", source, target],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(run.stdout))


def main(sizes: list[int]) -> None:
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-copy-") as name:
            folder = Path(name)
            for rows in sizes:
                source = f"sqlite:///{folder}/source-{rows}.db"
                populate(source, rows, folder)
                postgres = server.create_database()
                results.append(("SQLite -> PostgreSQL", rows, child(source, postgres)))
                back = f"sqlite:///{folder}/back-{rows}.db"
                results.append(("PostgreSQL -> SQLite", rows, child(postgres, back)))
    finally:
        server.stop()
    print("| copy | subscribers | rows in all | seconds | rows/s | CPU per 1,000 rows | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for direction, rows, r in results:
        print(
            f"| {direction} | {rows:,} | {r['rows']:,.0f} | {r['seconds']:.1f} "
            f"| {r['rows_per_s']:,.0f} | {r['cpu_per_1000'] * 1000:.0f} ms "
            f"| {r['peak_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(copy_one(sys.argv[2], sys.argv[3])))
    else:
        main([int(a) for a in sys.argv[1:]] or list(SIZES))
