"""Benchmarks of the account's rate in the real world; prints a table.

Against the SES stub in its own process, limited to R messages per second (a strict
one-second sliding window, as SES counts) and reporting R as the account's MaxSendRate:

1. two and three `send` processes on one campaign, sharing the rate through the database
   (PostgreSQL, and SQLite on one machine): together >= 0.9 R, with no throttling;
2. one sender while SES throttles 3% of requests at random: >= 0.9 R;
3. one sender while another client takes half of the account's rate: >= 0.85 of the
   remaining half, under 5% of its requests throttled;
4. one sender through a 10-second throttling storm: back to >= 0.9 R within 10 s.

Rates are read from the stub's count of accepted messages, sampled four times a second,
over the steady part of each run (start-up and the tail left out).

Run: `make bench` (or `.venv/bin/python bench/bench_senders.py [--quick]`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import print_table  # noqa: E402

SAMPLE = ROOT / "issues" / "2024-06-22-article-weekly-25.md"


def start_stub(rate: float, *args: str) -> tuple[subprocess.Popen[str], str]:
    from tests.support.ses_stub import default_account

    account = json.dumps(default_account(max_send_rate=rate))
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ses_stub", "--port", "0", "--max-rate", f"{rate:g}",
         "--account-json", account, "--delay", "0.01", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert stub.stdout is not None
    return stub, stub.stdout.readline().strip()


def stats(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/_stub/stats", timeout=10) as response:
        return dict(json.load(response)["counts"])


def configure(endpoint: str, **values: object) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_stub/config", data=json.dumps(values).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


def make_list(url: str, people: int) -> None:
    """A list `bench` of `people` active subscribers, on either backend."""
    import sqlalchemy as sa

    from pipeline.audience import subscribers as lib
    from pipeline.audience.queries import AudienceTx
    from pipeline.db import Store
    from pipeline.db.schema import memberships, subscribers

    now = datetime.now(UTC)
    with Store.open(url) as store:
        lib.create_list(store, "bench")
        with store.begin(AudienceTx) as tx:
            list_id = tx.require_list("bench").id
            tx.conn.execute(
                sa.insert(subscribers),
                [
                    {"email": f"reader{i}@example.com", "email_key": f"reader{i}@example.com",
                     "name": f"독자 {i}", "attributes": "{}", "status": "active",
                     "created_at": now, "updated_at": now}
                    for i in range(1, people + 1)
                ],
            )  # fmt: skip
            ids = tx.conn.scalars(sa.select(subscribers.c.id)).all()
            tx.conn.execute(
                sa.insert(memberships),
                [
                    {"subscriber_id": i, "list_id": list_id, "status": "subscribed",
                     "subscribed_at": now, "updated_at": now, "source": "bench"}
                    for i in ids
                ],
            )  # fmt: skip


def spawn_send(url: str, endpoint: str, secret: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": secret,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL_SESV2": endpoint,
    }
    command = [sys.executable, "-m", "pipeline", "send", str(SAMPLE), "--list", "bench", "--yes"]
    return subprocess.Popen(
        [*command, "--concurrency", "8"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Sampler:
    """The stub's accepted and throttled counts, four times a second, in a thread."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            counts = stats(self.endpoint)
            t = time.monotonic() - self.started
            self.samples.append((t, counts.get("accepted", 0), counts.get("throttled", 0)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> tuple[int, int]:
        best = min(self.samples, key=lambda s: abs(s[0] - t))
        return best[1], best[2]

    def rate(self, start: float, end: float) -> float:
        return (self.at(end)[0] - self.at(start)[0]) / (end - start)

    def steady(self, total: int) -> tuple[float, float]:
        """From 2 s after the first acceptance to when 90% of `total` were accepted."""
        first = next(t for t, accepted, _ in self.samples if accepted > 0)
        last = next(t for t, accepted, _ in self.samples if accepted >= 0.9 * total)
        return first + 2.0, last


def sent_per_second(stderr: str) -> float:
    """The loop's own figure (sent / time spent sending), from its last progress line."""
    lines = [line for line in stderr.splitlines() if line.startswith("sent ")]
    return float(lines[-1].split("(")[1].split("/s")[0]) if lines else 0.0


def several_senders(url: str, n_senders: int, rate: float, people: int) -> tuple[float, int]:
    make_list(url, people)
    stub, endpoint = start_stub(rate)
    secret = secrets.token_hex(16)
    try:
        sampler = Sampler(endpoint)
        processes = []
        for _ in range(n_senders):
            processes.append(spawn_send(url, endpoint, secret))
            time.sleep(0.5)
        for process in processes:
            _, err = process.communicate(timeout=600)
            if process.returncode != 0:
                raise SystemExit(f"send failed:\n{err[-3000:]}")
        sampler.stop()
        counts = stats(endpoint)
    finally:
        stub.terminate()
        stub.wait()
    assert counts["accepted"] == people, counts
    start, end = sampler.steady(people)
    start = max(start, 0.5 * n_senders + 2.0)  # once every sender has joined
    return sampler.rate(start, end), counts.get("throttled", 0)


def competitor(endpoint: str, rate: float, stop: threading.Event, result: dict[str, int]) -> None:
    """Another client of the same account, sending at `rate` with no backing off."""
    import boto3
    from botocore.config import Config

    ses = boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    sent = throttled = 0
    next_at = time.monotonic()
    while not stop.is_set():
        next_at += 1.0 / rate
        time.sleep(max(0.0, next_at - time.monotonic()))
        try:
            ses.send_email(
                FromEmailAddress="other@example.com",
                Destination={"ToAddresses": [f"other{sent}@elsewhere.example"]},
                Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
            )
            sent += 1
        except ses.exceptions.TooManyRequestsException:
            throttled += 1
    result.update(sent=sent, throttled=throttled)


def one_sender(
    url: str, rate: float, people: int, *stub_args: str, storm_at: float | None = None,
    share: float | None = None,
) -> dict[str, float]:  # fmt: skip
    make_list(url, people)
    stub, endpoint = start_stub(rate, *stub_args)
    stop = threading.Event()
    other: dict[str, int] = {}
    helper = None
    try:
        sampler = Sampler(endpoint)
        if share:
            helper = threading.Thread(target=competitor, args=(endpoint, rate * share, stop, other))
            helper.start()
            time.sleep(1.0)
        process = spawn_send(url, endpoint, secrets.token_hex(16))
        if storm_at is not None:
            time.sleep(storm_at)
            configure(endpoint, throttle_first=10**9)
            time.sleep(10.0)
            configure(endpoint, throttle_first=0)
            storm_end = time.monotonic() - sampler.started
        _, err = process.communicate(timeout=900)
        stop.set()
        if helper:
            helper.join()
        sampler.stop()
        if process.returncode != 0:
            raise SystemExit(f"send failed:\n{err[-3000:]}")
        counts = stats(endpoint)
    finally:
        stop.set()
        stub.terminate()
        stub.wait()
    ours_accepted = counts["accepted"] - other.get("sent", 0)
    assert ours_accepted == people, (counts, other)
    ours_throttled = counts.get("throttled", 0) - other.get("throttled", 0)
    out: dict[str, float] = {"throttled": ours_throttled, "requests": people + ours_throttled}
    if storm_at is not None:
        # the first full second after the storm at >= 0.9 R, and the rate 8-10 s after it
        back = next(
            (t - storm_end for t in (storm_end + x / 4 for x in range(0, 60))
             if sampler.rate(t, t + 1.0) >= 0.9 * rate),
            float("inf"),
        )  # fmt: skip
        out.update(back_after=back, rate_after=sampler.rate(storm_end + 8.0, storm_end + 10.0))
        out["rate"] = sampler.rate(2.0, storm_at)
    else:
        start, end = sampler.steady(people)
        # With another client on the stub, its counts mix both: take the loop's own figure.
        out["rate"] = sent_per_second(err) if share else sampler.rate(start, end)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    seconds = 25 if args.quick else 60
    rows: list[tuple[str, str, str, str]] = []
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-senders-") as folder:
            r_shared = 100.0
            for backend in ("postgresql", "sqlite"):
                for n in (2, 3):
                    url = (
                        server.create_database()
                        if backend == "postgresql"
                        else f"sqlite:///{folder}/senders-{n}.db"
                    )
                    people = int(r_shared * seconds * 0.6)
                    achieved, throttled = several_senders(url, n, r_shared, people)
                    ok = achieved >= 0.9 * r_shared and throttled == 0
                    rows.append((
                        f"{n} senders, one campaign, {backend}, R = {r_shared:g}/s",
                        f"{achieved:.1f} msg/s together ({achieved / r_shared:.0%} of R), "
                        f"{throttled} throttled",
                        ">= 0.9 R, 0 throttled",
                        "ok" if ok else "MISSED",
                    ))  # fmt: skip
            r = 40.0
            result = one_sender(
                server.create_database(), r, int(r * seconds), "--throttle-share", "0.03"
            )
            rows.append((
                f"3% random throttling, R = {r:g}/s",
                f"{result['rate']:.1f} msg/s ({result['rate'] / r:.0%} of R)",
                ">= 0.9 R",
                "ok" if result["rate"] >= 0.9 * r else "MISSED",
            ))  # fmt: skip
            result = one_sender(server.create_database(), r, int(r / 2 * seconds), share=0.5)
            share = result["throttled"] / result["requests"]
            ok = result["rate"] >= 0.85 * r / 2 and share < 0.05
            rows.append((
                f"another client takes R/2, R = {r:g}/s",
                f"{result['rate']:.1f} msg/s ({result['rate'] / (r / 2):.0%} of R/2), "
                f"{share:.1%} of requests throttled",
                ">= 0.85 R/2, < 5% throttled",
                "ok" if ok else "MISSED",
            ))  # fmt: skip
            result = one_sender(server.create_database(), r, int(r * 40), storm_at=8.0)
            ok = result["back_after"] <= 10.0
            rows.append((
                f"10-second throttling storm, R = {r:g}/s",
                f">= 0.9 R again {result['back_after']:.1f} s after it; "
                f"{result['rate_after']:.1f} msg/s 8-10 s after",
                ">= 0.9 R within 10 s",
                "ok" if ok else "MISSED",
            ))  # fmt: skip
    finally:
        server.stop()
    print_table(f"Sender benchmarks on {os.cpu_count()} cores", rows)


if __name__ == "__main__":
    main()
