"""A burst of SES events on a real server: every notification is recorded, and the app runs
no more request threads than the store keeps connections, so that no request opens (and
closes) a database connection of its own. Before, anyio's 40 threads shared SQLAlchemy's
5 pooled connections: under a burst most requests made a connection for themselves, a
third of the endpoint's time (bench/bench_events.py)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.sns_fixtures import (
    LOOPBACK_HOSTS,
    TOPIC_ARN,
    SnsTestServer,
    delivery,
    new_signing_key,
    notification,
    self_signed_certificate,
    sign,
    to_body,
)

CONNECTIONS = 3
CLIENTS = 24


@pytest.fixture
def server(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any, Any, list[object]]]:
    """`serve`'s app on a real socket, its lifespan on (as uvicorn runs it), over a store
    of CONNECTIONS connections; yields (base URL, the SNS test server, the signing key,
    one item per connection the store opened)."""
    key = new_signing_key()
    with SnsTestServer(certificate=self_signed_certificate(key)) as sns:
        monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARNS", json.dumps([TOPIC_ARN]))
        monkeypatch.setenv("NEWSLETTER_SNS_CERT_HOST_PATTERN", LOOPBACK_HOSTS)
        monkeypatch.setenv("NEWSLETTER_SNS_CA_BUNDLE", sns.ca_bundle)
        store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"], connections=CONNECTIONS)
        opened: list[object] = []
        event.listen(store.engine, "connect", lambda *_: opened.append(1))
        app = create_app(load_settings(), store, issues=project / "issues")
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        running = uvicorn.Server(config)
        thread = threading.Thread(target=running.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not (running.started and running.servers):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        port = running.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}", sns, key, opened
        finally:
            running.should_exit = True
            thread.join(timeout=10)
            store.close()


def test_a_burst_of_events_uses_no_connection_beyond_the_pool(server) -> None:
    base, sns, key, opened = server
    bodies = [
        to_body(sign(notification(delivery(f"burst-{i}"), cert_url=sns.cert_url), key))
        for i in range(4 * CLIENTS)
    ]

    def post(body: bytes) -> int:
        return httpx.post(f"{base}/ses/events", content=body, timeout=30).status_code

    with ThreadPoolExecutor(CLIENTS) as clients:
        answers = list(clients.map(post, bodies))
    assert answers == [200] * len(bodies)
    assert db.one("SELECT COUNT(*) FROM events") == len(bodies)
    assert len(opened) <= CONNECTIONS, f"{len(opened)} connections for a pool of {CONNECTIONS}"
