"""Send benchmarks against a fast local SES stub (run as its own process); prints a table.

1. sustained messages/s with no rate cap (target >= 400/s) and CPU time per message;
2. with a cap R and a stub that throttles anything above R: achieved rate >= 0.95 R with
   no throttling errors;
3. a 1,000,000-recipient campaign with --dry-run through the whole pipeline: peak memory
   under 200 MB.

Run: `make bench` (or `.venv/bin/python bench/bench_send.py [--quick]`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import print_table  # noqa: E402

SAMPLE = ROOT / "issues" / "2024-06-22-article-weekly-25.md"


def start_stub(max_send_rate: float, *args: str) -> tuple[subprocess.Popen[str], str]:
    """The stub as its own process (so it does not share the sender's CPU or GIL), with an
    account whose MaxSendRate is `max_send_rate`."""
    account = {
        "SendingEnabled": True,
        "ProductionAccessEnabled": True,
        "EnforcementStatus": "HEALTHY",
        "SendQuota": {
            "Max24HourSend": 10_000_000,
            "MaxSendRate": max_send_rate,
            "SentLast24Hours": 0,
        },
    }
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.ses_stub",
            "--port",
            "0",
            "--account-json",
            json.dumps(account),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert stub.stdout is not None
    return stub, stub.stdout.readline().strip()


def stub_stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_stub/stats", timeout=10) as response:
        return json.load(response)["counts"]


def make_database(path: Path, people: int) -> str:
    """A list `bench` of `people` active subscribers, written straight into SQLite."""
    url = f"sqlite:///{path}"
    env = {**os.environ, "NEWSLETTER_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "pipeline", "lists", "create", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO subscribers (id, email, email_key, name, attributes, status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, '{}', 'active', ?, ?)",
            (
                (i, f"reader{i}@example.com", f"reader{i}@example.com", f"독자 {i}", now, now)
                for i in range(1, people + 1)
            ),
        )
        db.executemany(
            "INSERT INTO memberships (subscriber_id, list_id, status, subscribed_at,"
            " updated_at, source) VALUES (?, 1, 'subscribed', ?, ?, 'bench')",
            ((i, now, now) for i in range(1, people + 1)),
        )
    db.close()
    return url


def run_send(url: str, endpoint: str | None, *extra: str) -> tuple[float, float, float, str]:
    """Run `newsletter send` in a child; returns (wall s, child CPU s, peak RSS MB, stderr)."""
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(16),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    if endpoint:
        env["AWS_ENDPOINT_URL_SESV2"] = endpoint
    command = [sys.executable, "-m", "pipeline", "send", str(SAMPLE), "--list", "bench", "--yes"]
    # A small wrapper process runs the send, so that the peak RSS it reports for its one
    # child is this run's own (RUSAGE_CHILDREN keeps the maximum over all children).
    wrapper = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:])\n"
        "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(use.ru_utime + use.ru_stime, use.ru_maxrss, done.returncode)\n"
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    cpu_text, rss_text, code = done.stdout.split()[-3:]
    if code != "0":
        raise SystemExit(f"send failed ({code}):\n{done.stderr[-3000:]}")
    return wall, float(cpu_text), int(rss_text) / 1024, done.stderr


def sent_per_second(stderr: str) -> float:
    """The loop's own figure (sent / time spent sending), from its last progress line."""
    lines = [line for line in stderr.splitlines() if line.startswith("sent ")]
    return float(lines[-1].split("(")[1].split("/s")[0]) if lines else 0.0


FAST = ["--rate", "100000", "--concurrency", "16"]


def against_stub(
    db: Path,
    people: int,
    max_send_rate: float,
    stub_args: list[str],
    send_args: list[str],
    *,
    throttles: bool = False,
) -> Any:
    """Send to `people` through a fresh stub; (wall s, CPU s, sent/s[, throttled])."""
    url = make_database(db, people)
    stub, endpoint = start_stub(max_send_rate, *stub_args)
    try:
        wall, cpu, _, stderr = run_send(url, endpoint, *send_args)
        counts = stub_stats(endpoint)
    finally:
        stub.terminate()
        stub.wait()
    assert counts["accepted"] == people, counts
    rate = sent_per_second(stderr)
    if throttles:
        return wall, cpu, rate, counts.get("throttled", 0)
    return wall, cpu, rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    n_fast = 2_000 if args.quick else 6_000
    cap = 200.0
    n_capped = 1_000 if args.quick else 4_000
    n_dry = 100_000 if args.quick else 1_000_000
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        # 1. no cap
        wall, cpu, rate = against_stub(folder / "fast.db", n_fast, 100_000, [], FAST)
        rows.append(
            (
                f"sustained send rate, no cap ({n_fast:,} msgs)",
                f"{rate:,.0f} msg/s",
                ">= 400/s",
                "ok" if rate >= 400 else "MISSED",
            )
        )
        rows.append(
            ("  whole command incl. start-up, wall clock", f"{n_fast / wall:,.0f} msg/s", "", "")
        )
        rows.append(
            ("  CPU time per message (sender process)", f"{cpu / n_fast * 1000:.2f} ms", "", "")
        )

        # 1b. the same with 20 ms of network latency per request: concurrency hides it
        _, _, rate = against_stub(folder / "slow.db", n_fast, 100_000, ["--delay", "0.02"], FAST)
        rows.append(
            ("  same, with 20 ms SES latency, --concurrency 16", f"{rate:,.0f} msg/s", "", "")
        )

        # 2. capped: the stub throttles anything above the cap
        stub_args = ["--max-rate", f"{cap:g}"]
        _, _, achieved, throttled = against_stub(
            folder / "capped.db", n_capped, cap, stub_args, ["--rate", f"{cap:g}"], throttles=True
        )
        ok = achieved >= 0.95 * cap and throttled == 0
        rows.append(
            (
                f"capped at R = {cap:g}/s, stub throttles above R ({n_capped:,} msgs)",
                f"{achieved:.1f} msg/s ({achieved / cap:.1%} of R), {throttled} throttled",
                ">= 0.95 R, 0 throttled",
                "ok" if ok else "MISSED",
            )
        )

        # 3. a million-recipient dry run: memory stays flat
        start = time.perf_counter()
        url = make_database(folder / "million.db", n_dry)
        setup = time.perf_counter() - start
        wall, cpu, peak, _ = run_send(url, None, "--dry-run")
        rows.append(
            (
                f"{n_dry:,}-recipient --dry-run, peak memory",
                f"{peak:.0f} MB",
                "< 200 MB",
                "ok" if peak < 200 else "MISSED",
            )
        )
        rows.append(
            (
                f"  {n_dry:,}-recipient --dry-run, time",
                f"{wall:.0f} s ({n_dry / wall:,.0f} msg/s; database set-up {setup:.0f} s)",
                "",
                "",
            )
        )

    print_table(f"Send benchmarks on {os.cpu_count()} cores", rows)


if __name__ == "__main__":
    main()
