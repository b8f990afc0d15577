"""`POST /ses/events` under load: signed SNS notifications from 32 clients into
`newsletter serve`, with one and two workers, on SQLite and PostgreSQL; prints a table.

Every notification is signed for real (SignatureVersion 1 with a certificate that a local
HTTPS server hands out, as SNS's would be) and carries its own SES event, so each must
end up as one row: "lost" counts the ones that got no 200 or left no row.

Run: `make bench` (or `.venv/bin/python bench/bench_events.py [--quick]`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLIENTS = 32
WARM_UP = 200  # notifications posted before the clock starts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def signed_bodies(n: int, cert_url: str, key: object) -> list[bytes]:
    from tests.support.sns_fixtures import delivery, notification, sign, to_body

    return [
        to_body(sign(notification(delivery(ses_message_id=f"bench-{i}"), cert_url=cert_url), key))  # type: ignore[arg-type]
        for i in range(n)
    ]


def serve(url: str, workers: int, sns: object, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.cli import TEST_SECRET
    from tests.support.sns_fixtures import LOOPBACK_HOSTS, TOPIC_ARN

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env |= {
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_SNS_TOPIC_ARNS": json.dumps([TOPIC_ARN]),
        "NEWSLETTER_SNS_CERT_HOST_PATTERN": LOOPBACK_HOSTS,
        "NEWSLETTER_SNS_CA_BUNDLE": sns.ca_bundle,  # type: ignore[attr-defined]
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--port", str(port), "--workers",
         str(workers)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("serve did not start")


def load(base: str, bodies: list[bytes]) -> tuple[float, list[float], int]:
    """Post every body from CLIENTS threads, each on one kept-alive connection; (seconds,
    latencies, failures). The standard library's client: it costs the shared cores a
    third of what httpx does, so the table measures the server more than its load."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(base)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def client() -> None:
        headers = {"Content-Type": "text/plain; charset=UTF-8"}
        connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                start = time.perf_counter()
                try:
                    connection.request("POST", "/ses/events", body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    connection.close()  # reconnects on the next request
                    ok = False
                took = time.perf_counter() - start
                with lock:
                    latencies.append(took)
                    failures[0] += not ok
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies, failures[0]


def main() -> None:
    from pipeline.db import Store
    from tests.support import db
    from tests.support.postgres import PostgresServer
    from tests.support.sns_fixtures import SnsTestServer, new_signing_key, self_signed_certificate

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer notifications")
    args = parser.parse_args()
    n = 1500 if args.quick else 4000
    key = new_signing_key()
    rows: list[str] = []
    server = PostgresServer().start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-events-") as tmp,
            SnsTestServer(certificate=self_signed_certificate(key)) as sns,
        ):
            folder = Path(tmp)
            bodies = signed_bodies(n, sns.cert_url, key)
            for backend in ("sqlite", "postgresql"):
                for workers in (1, 2):
                    url = (
                        f"sqlite:///{folder}/events-{workers}.db"
                        if backend == "sqlite"
                        else server.create_database()
                    )
                    Store.open(url).close()
                    process, base = serve(url, workers, sns, folder)
                    try:
                        wait_healthy(base, process)
                        # Untimed: each worker's first requests fetch the certificate and
                        # open its connections. Counted in "lost" all the same.
                        _, _, failed_warm = load(base, bodies[:WARM_UP])
                        seconds, latencies, failed = load(base, bodies[WARM_UP:])
                        failed += failed_warm
                    finally:
                        process.terminate()
                        process.wait(timeout=30)
                    stored = db.one("SELECT COUNT(*) FROM events", url=url)
                    lost = max(failed, n - int(stored))
                    latencies.sort()
                    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
                    rate = (n - WARM_UP) / seconds
                    rows.append(f"| {backend} | {workers} | {rate:,.0f} | {lost} | {p99:,.0f} ms |")
    finally:
        server.stop()
    print(f"POST /ses/events, {n:,} signed notifications from {CLIENTS} clients "
          f"(the first {WARM_UP} untimed), {os.cpu_count()} cores\n")  # fmt: skip
    print("| backend | workers | notifications/s | lost | p99 |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
