"""Import benchmark: generated CSVs of 100,000 and 1,000,000 rows into a fresh database,
on SQLite and on PostgreSQL (a throwaway server started for the run).

    .venv/bin/python bench/bench_import.py            # both sizes, both backends
    .venv/bin/python bench/bench_import.py 20000      # any sizes you like
    BENCH_BACKENDS=sqlite .venv/bin/python bench/bench_import.py

Each import runs in its own fresh process, so the peak memory (ru_maxrss) is that import's
own. Targets: 100,000 rows in under 10 s; 1,000,000 rows with peak memory under 200 MB; on
PostgreSQL at least as fast as on SQLite.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fresh import each_backend  # noqa: E402

SIZES = (100_000, 1_000_000)
FIRST = ("Minjun", "Seoyeon", "Jiho", "Alice", "Bob", "Hana", "Charlie", "Yuna", "Dana")
CITIES = ("Seoul", "Busan", "Incheon", "London", "New York", "Daejeon")


def generate(path: Path, rows: int) -> None:
    """A realistic-looking export: name, company and city columns, some 2% duplicates."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,company,city\n")
        for i in range(rows):
            n = i - 1 if i % 50 == 49 else i  # a duplicate every 50 rows
            first = FIRST[n % len(FIRST)]
            out.write(
                f"{first.lower()}.{n}@example.com,{first} {n},"
                f'"Company {n % 997}, Ltd",{CITIES[n % len(CITIES)]}\n'
            )


def database_bytes(store: Any) -> int:
    """The database's size on disk (SQLite: the file after a checkpoint)."""
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("CHECKPOINT"))
            query = "SELECT pg_database_size(current_database())"
            return int(conn.execute(sa.text(query)).scalar_one())
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        return int(pages * conn.exec_driver_sql("PRAGMA page_size").scalar_one())


def run_one(rows: int, folder: Path, url: str) -> dict[str, float]:
    """Generate, import, measure: runs in the child process."""
    sys.path.insert(0, str(ROOT))
    from pipeline.audience import subscribers as lib
    from pipeline.db import Store

    csv_path = folder / f"people-{rows}.csv"
    generate(csv_path, rows)
    from pipeline.delivery.sendlog import SendLog

    with Store.open(url) as store:
        lib.create_list(store, "bench")
        started = time.perf_counter()
        report = lib.import_csv(store, csv_path, "bench")
        seconds = time.perf_counter() - started
        size = database_bytes(store)
        # One campaign's send log: a delivery row per recipient.
        log = SendLog(store)
        log.start(1, log.list_of("bench"), "bench", dry_run=False)
        campaign_size = database_bytes(store) - size
    assert report.written and report.invalid == 0, report.as_dict()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "rows": rows,
        "added": report.added,
        "duplicates": report.duplicates,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_mb": peak_kb / 1024,
        "file_mb": csv_path.stat().st_size / 1e6,
        "db_mb": size / 1e6,
        "campaign_mb": campaign_size / 1e6,
    }


def main(sizes: list[int]) -> None:
    results = each_backend(__file__, sizes, "bench-import-")
    print("| backend | rows | file | seconds | rows/s | peak RSS | database | +1 campaign |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['rows']:,} | {r['file_mb']:.0f} MB | {r['seconds']:.1f} "
            f"| {r['rows_per_s']:,.0f} | {r['peak_mb']:.0f} MB | {r['db_mb']:.0f} MB "
            f"| {r['campaign_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(run_one(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
    else:
        main([int(a) for a in sys.argv[1:]] or list(SIZES))
