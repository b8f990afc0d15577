"""The pace against a fault-injecting SES; prints a table.

The send flow without a database (`tests/support/pace_run.py`: worker threads, `deliver`,
the SES transport, one shared pace) against the SES stub in its own process, limited to
R messages per second in a sliding one-second window:

1. another client of the account sends R/2 per second, evenly, and never backs off: our
   throttled share (target < 5%), our accepted rate against the half left to us (target
   >= 0.85), and the other client's accepted rate (we should not crowd it out);
2. a 10-second storm in which SES throttles every request: seconds until the accepted rate
   is back at >= 0.9 R, and the pace 10 s after the storm (target >= 0.9 R within 10 s).

Run: `.venv/bin/python bench/bench_pace.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import print_table  # noqa: E402

R = 40.0
STORM_AT, STORM = 8.0, 10.0


def start_stub(*args: str) -> tuple[subprocess.Popen[str], str]:
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ses_stub", "--max-rate", f"{R:g}",
         "--delay", "0.01", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert stub.stdout is not None
    endpoint = stub.stdout.readline().strip()
    os.environ.update(
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ENDPOINT_URL_SESV2=endpoint,
    )
    return stub, endpoint


def counts(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/_stub/stats", timeout=10) as response:
        return dict(json.load(response)["counts"])


def storm(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_stub/config",
        data=json.dumps({"storm_seconds": STORM}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def shared_account(seconds: float, head_start: float) -> tuple[str, str, str, str]:
    from tests.support.pace_run import paced_run

    stub, endpoint = start_stub("--competitor-rate", f"{R / 2:g}")
    try:
        time.sleep(head_start)  # how long the other client has been sending already
        before = counts(endpoint)["competitor_accepted"]
        run = paced_run(R, seconds)
        other = (counts(endpoint)["competitor_accepted"] - before) / seconds
    finally:
        stub.terminate()
        stub.wait()
    share = run.throttled_share(0, seconds)
    ours = run.accepted_rate(0, seconds)
    ok = share < 0.05 and ours >= 0.85 * R / 2
    return (
        f"another client takes R/2, never backs off, R = {R:g}/s, {seconds:g} s "
        f"(it started {head_start:g} s before us)",
        f"{share:.1%} of our requests throttled; we {ours:.1f}/s ({ours / (R / 2):.0%} of "
        f"R/2), the other {other:.1f}/s ({other / (R / 2):.0%} of R/2)",
        "< 5% throttled, >= 0.85 R/2",
        "ok" if ok else "MISSED",
    )


def throttling_storm() -> tuple[str, str, str, str]:
    from tests.support.pace_run import paced_run

    stub, endpoint = start_stub()
    end = STORM_AT + STORM
    try:
        run = paced_run(R, end + 12.0, actions=[(STORM_AT, lambda: storm(endpoint))])
    finally:
        stub.terminate()
        stub.wait()
    back = next(
        (
            t - end
            for t in (end + x / 4 for x in range(48))
            if run.accepted_rate(t, t + 1) >= 0.9 * R
        ),
        float("inf"),
    )
    pace_after = run.pace_at(end + 10.0)
    return (
        f"{STORM:g}-second storm (every request throttled), R = {R:g}/s",
        f">= 0.9 R again {back:.1f} s after it; pace {pace_after:.1f}/s 10 s after it",
        ">= 0.9 R within 10 s",
        "ok" if back <= 10.0 else "MISSED",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a shorter shared-account run")
    args = parser.parse_args()
    seconds = 20.0 if args.quick else 60.0
    rows = [shared_account(seconds, 1.0), shared_account(seconds, 0.0), throttling_storm()]
    print_table(f"Pace benchmarks on {os.cpu_count()} cores (8 workers, 10 ms SES latency)", rows)


if __name__ == "__main__":
    main()
