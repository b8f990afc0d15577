"""`newsletter serve` started the way a user starts it: its own process, configured only
from the environment, so the wiring from settings (the secret key, the database, the SNS
verifier's topics, certificate hosts and CA bundle, the access-log filter) is what is tested.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import add, create_list
from pipeline.audience.tokens import make_token
from pipeline.db import Store
from tests.support import db
from tests.support.cli import ROOT, TEST_SECRET
from tests.support.sns_fixtures import (
    CERT_PATH,
    LOOPBACK_HOSTS,
    TOPIC_ARN,
    SnsTestServer,
    bounce_permanent,
    new_signing_key,
    notification,
    self_signed_certificate,
    sign,
    to_body,
)

READER, BOUNCER = "reader@example.org", "bouncer@example.org"
SERVE = [sys.executable, "-m", "pipeline", "serve"]
PATIENCE = 30.0  # seconds: a cold start of the CLI on a busy machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    client: httpx.Client
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    sns: SnsTestServer
    key: rsa.RSAPrivateKey  # the key of the certificate `sns` serves
    token: str

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        return [tuple(row) for row in db.rows(sql, *params, url=self.url)]

    def post_sns(self, envelope: dict[str, object]) -> httpx.Response:
        headers = {"Content-Type": "text/plain; charset=UTF-8"}
        return self.client.post("/ses/events", content=to_body(envelope), headers=headers)


def wait_healthy(client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until `serve` answers /healthz; its log if it died or took longer than PATIENCE."""
    deadline = time.monotonic() + PATIENCE
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def serve_environment(url: str, sns: SnsTestServer, **settings: str) -> dict[str, str]:
    """`serve`'s whole environment: this run's without its settings and proxies, the
    database, the test key, SNS on loopback, and `settings` (NEWSLETTER_<KEY>=value)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("NEWSLETTER_") and "proxy" not in name.lower()
    }
    return env | {
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_SNS_TOPIC_ARNS": json.dumps([TOPIC_ARN]),
        "NEWSLETTER_SNS_CERT_HOST_PATTERN": LOOPBACK_HOSTS,
        "NEWSLETTER_SNS_CA_BUNDLE": sns.ca_bundle,
        "PYTHONPATH": str(ROOT),
        **{f"NEWSLETTER_{key.upper()}": value for key, value in settings.items()},
    }


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def served(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[Served]:
    key = new_signing_key()
    url = database_url
    with Store.open(url) as store:
        create_list(store, "weekly")
        add(store, READER, "weekly")
        add(store, BOUNCER, "weekly")
        with store.begin(AudienceTx, write=False) as tx:
            reader = tx.subscriber_by_key(READER)
            weekly = tx.list_by_name("weekly")
            assert reader is not None and weekly is not None
            token = make_token(TEST_SECRET.encode(), reader.id, weekly.id)
    with SnsTestServer(certificate=self_signed_certificate(key)) as sns:
        env = serve_environment(url, sns)
        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            # The working folder has no newsletter.toml and no .env: the environment only.
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(request.param),
                ],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        try:
            wait_healthy(client, process, log)
            yield Served(client, process, log, url, sns, key, token)
        finally:
            client.close()
            if process.poll() is None:
                process.kill()
                process.wait()


def test_serve_as_a_user_runs_it(served: Served) -> None:
    for _ in range(4):  # with --workers 2, both workers answer some of these
        assert served.client.get("/healthz").text == "ok\n"

    # One-click unsubscribe, checked in the database itself.
    response = served.client.post(
        f"/unsubscribe/{served.token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200, response.text
    status = "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
    assert served.query(status + "WHERE s.email_key = ?", READER) == [("unsubscribed",)]

    # A signed SES event through SNS: verified with the settings' topic, host and CA.
    envelope = notification(bounce_permanent(recipient=BOUNCER), cert_url=served.sns.cert_url)
    unsigned = served.post_sns(envelope)
    assert unsigned.status_code == 403, unsigned.text
    assert served.query("SELECT count(*) FROM events") == [(0,)]

    signed = served.post_sns(sign(envelope, served.key))
    assert signed.status_code == 200, signed.text
    assert served.query("SELECT event_type, bounce_type FROM events") == [("Bounce", "Permanent")]
    assert served.query("SELECT status FROM subscribers WHERE email_key = ?", BOUNCER) == [
        ("bounced",)
    ]
    assert served.sns.count(CERT_PATH) == 1  # fetched from the settings' host, once

    # SIGTERM: a graceful stop. uvicorn finishes what is in flight, then re-raises the
    # signal so that a supervisor sees the process end by it (systemd counts that a success).
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=PATIENCE) in (0, -signal.SIGTERM)
    log = served.log.read_text(encoding="utf-8")
    assert "Finished server process" in log, log
    assert '"POST /unsubscribe/… HTTP/1.1" 200' in log, log
    assert served.token not in log
    assert '"POST /ses/events HTTP/1.1" 403' in log and '"POST /ses/events HTTP/1.1" 200' in log
    assert "Traceback" not in log, log
    # No SES here: the signup outbox says so once, in a line, and the app served on.
    assert "signup mail waits: no AWS region is set" in log, log


def test_sigterm_with_slow_bodies_in_flight_stops_at_once_and_quietly(
    tmp_path: Path, database_url: str
) -> None:
    """Clients that sent their headers and part of a body hold no stop: SIGTERM ends the
    process in well under the graceful timeout (10 s), with no traceback for them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env |= {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "PYTHONPATH": str(ROOT),
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port)], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
    slow: list[socket.socket] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            wait_healthy(client, process, log)
        for path in ("/subscribe", "/ses/events", "/unsubscribe/x") * 2:
            sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
            head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
            sock.sendall(head.encode() + b"email=slow")
            slow.append(sock)
        time.sleep(0.3)  # the server reads the heads; not a deciding wait
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) in (0, -signal.SIGTERM)
        stopped = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text(encoding="utf-8")
    assert stopped < 5, output  # the graceful timeout is 10 s
    assert "Traceback" not in output and "Exception in ASGI" not in output, output
    assert "Finished server process" in output, output
