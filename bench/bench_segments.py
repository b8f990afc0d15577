"""Segments benchmark: a list of generated subscribers carrying attributes and tags, on
SQLite and on PostgreSQL (a throwaway server started for the run).

    .venv/bin/python bench/bench_segments.py             # 100,000 subscribers
    .venv/bin/python bench/bench_segments.py 1000000     # the issue's million
    BENCH_BACKENDS=sqlite .venv/bin/python bench/bench_segments.py

For each backend, in a fresh process: counting a segment (`tag:vip and attr.orders > 5`,
a tenth of the list) and starting a campaign to it, against the same for the whole list
(target: within 3x); an engagement filter's count; and `subscribers list --format jsonl`
of everyone in a process of its own (target: peak memory under 200 MB).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fresh import each_backend  # noqa: E402

SIZES = (100_000,)
CITIES = ("Seoul", "Busan", "Incheon", "London", "New York", "Daejeon")
SEGMENT = "tag:vip and attr.orders > 5"
ENGAGED = "not opened in last 2 issues"


def generate(path: Path, rows: int) -> None:
    """Attributes of three kinds (text, a number as text, a date) and tags on a tenth."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name,tags,city,orders,renews\n")
        for i in range(rows):
            tags = "vip;reader" if i % 10 == 0 else "reader"
            out.write(
                f"p{i}@example.com,Person {i},{tags},{CITIES[i % len(CITIES)]},"
                f"{i % 13},2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
            )


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def run_one(rows: int, folder: Path, url: str) -> dict[str, Any]:
    """Generate, import, measure: runs in the child process."""
    sys.path.insert(0, str(ROOT))
    from pipeline.audience import subscribers as lib
    from pipeline.audience.segments import Audience
    from pipeline.audience.selection import Filter
    from pipeline.db import Store
    from pipeline.delivery import overlap
    from pipeline.delivery.sendlog import SendLog

    csv_path = folder / f"segments-{rows}.csv"
    generate(csv_path, rows)
    whole, segment = Audience(), Audience(Filter.parse(SEGMENT), "vip")
    with Store.open(url) as store:
        lib.create_list(store, "bench")
        lib.import_csv(store, csv_path, "bench")
        log = SendLog(store)
        weekly = log.list_of("bench")
        count_all, counted_all = timed(lambda: overlap.count(store, 1, weekly.id, whole))
        count_seg, counted_seg = timed(lambda: overlap.count(store, 1, weekly.id, segment))
        start_all, _ = timed(lambda: log.start(1, weekly, "bench", dry_run=False))
        start_seg, _ = timed(lambda: log.start(2, weekly, "bench", dry_run=False, audience=segment))
        engaged = Audience(Filter.parse(ENGAGED))
        count_eng, counted_eng = timed(lambda: overlap.count(store, 3, weekly.id, engaged))
    env = {**os.environ, "NEWSLETTER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        subprocess.run(
            [sys.executable, "-m", "pipeline", "subscribers", "list", "--format", "jsonl"],
            check=True,
            stdout=sink,
            env=env,
            cwd=folder,
        )
    list_seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {
        "rows": rows,
        "matching": counted_seg.to_send,
        "engaged_matching": counted_eng.to_send,
        "whole": counted_all.to_send,
        "count_all": count_all,
        "count_seg": count_seg,
        "count_eng": count_eng,
        "start_all": start_all,
        "start_seg": start_seg,
        "list_seconds": list_seconds,
        "list_peak_mb": peak_kb / 1024,
    }


def main(sizes: list[int]) -> None:
    results = each_backend(__file__, sizes, "bench-segments-")
    print(f"segment: `{SEGMENT}`; engagement: `{ENGAGED}` (2 campaigns in the log)\n")
    print(
        "| backend | subscribers | count: list / segment | start: list / segment "
        "| engagement count | list --format jsonl | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['rows']:,} "
            f"| {r['count_all']:.2f} / {r['count_seg']:.2f} s "
            f"({r['count_seg'] / r['count_all']:.1f}x) "
            f"| {r['start_all']:.2f} / {r['start_seg']:.2f} s "
            f"({r['start_seg'] / r['start_all']:.1f}x) "
            f"| {r['count_eng']:.2f} s | {r['list_seconds']:.1f} s | {r['list_peak_mb']:.0f} MB |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(run_one(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])))
    else:
        main([int(a) for a in sys.argv[1:]] or list(SIZES))
