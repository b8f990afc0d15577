"""Whose address a signup counts against: the client's, as a trusted proxy reports it
(`forwarded_allow_ips`), and never what an untrusted peer claims in X-Forwarded-For.

Over a real socket, served as `serve` serves (`pipeline.web.server.configure`), with each
client bound to its own loopback address: 127.0.0.2 is the proxy, 127.0.0.3 a stranger."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from pipeline.web.server import configure
from tests.support import db
from tests.support.signup import make_public_lists

PROXY, STRANGER = "127.0.0.2", "127.0.0.3"
READERS = ("198.51.100.7", "2001:db8::7")

Post = Callable[..., httpx.Response]


@pytest.fixture
def site(project: Path, serve_app) -> Iterator[Callable[..., Post]]:
    """Serve the app with `settings`; returns `post(source, email, forwarded=None)`."""
    make_public_lists()
    stores: list[Store] = []
    clients: dict[str, httpx.Client] = {}

    def start(**settings: Any) -> Post:
        store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
        stores.append(store)
        app = create_app(load_settings(signup_ip_limit=2, **settings), store, issues=Path("."))
        allowed = load_settings(**settings).forwarded_allow_ips
        url = serve_app(
            app,
            lambda app: configure(
                app, host="127.0.0.1", port=0, log_level="warning", forwarded_allow_ips=allowed
            ),
        )

        def post(source: str, email: str, forwarded: str | None = None) -> httpx.Response:
            if source not in clients:
                transport = httpx.HTTPTransport(local_address=source)
                clients[source] = httpx.Client(base_url=url, transport=transport, timeout=10)
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            data = {"email": email, "list": "weekly"}
            return clients[source].post("/subscribe", data=data, headers=headers)

        return post

    yield start
    for client in clients.values():
        client.close()
    for store in stores:
        store.close()


def recorded_ip(email: str) -> str:
    return str(db.one("SELECT ip FROM signup_requests WHERE email = ?", email))


def test_behind_a_trusted_proxy_each_reader_has_their_own_limit(site) -> None:
    post = site(forwarded_allow_ips=[PROXY])
    for reader in READERS:
        for n in range(2):
            response = post(PROXY, f"r{n}-{reader.replace(':', '')}@example.com", reader)
            assert response.status_code == 200, response.text
            assert recorded_ip(f"r{n}-{reader.replace(':', '')}@example.com") == reader
    # Each reader's third is over their own limit; the proxy is no bucket of its own.
    assert post(PROXY, "third@example.com", READERS[0]).status_code == 429
    assert post(PROXY, "another@example.com", "203.0.113.50").status_code == 200


@pytest.mark.parametrize("source", [STRANGER, "127.0.0.1"])
def test_a_forged_header_from_an_untrusted_peer_is_ignored(site, source: str) -> None:
    post = site(forwarded_allow_ips=[PROXY])
    for n in range(2):
        forged = f"203.0.113.{n}"  # a new address each time, to dodge the limit
        assert post(source, f"f{n}@example.com", forged).status_code == 200
        assert recorded_ip(f"f{n}@example.com") == source
    assert post(source, "f3@example.com", "203.0.113.9").status_code == 429


def test_by_default_no_peer_is_trusted_not_even_loopback(site) -> None:
    post = site()
    assert post("127.0.0.1", "d@example.com", "203.0.113.1").status_code == 200
    assert recorded_ip("d@example.com") == "127.0.0.1"


@pytest.mark.parametrize("value", [["*"], ["proxy.example.com"], ["10.0.0.300"]])
@pytest.mark.single_backend  # never opens the store
def test_a_bad_forwarded_allow_ips_is_named(
    project: Path, value: list[str], cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_FORWARDED_ALLOW_IPS", json.dumps(value))
    result = cli("config")
    assert result.code != 0 and "forwarded_allow_ips" in result.output
    assert "is not an IP address or network" in result.output
    assert "Traceback" not in result.output
