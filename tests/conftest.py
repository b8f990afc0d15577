"""Shared fixtures: run the real CLI entry point in-process, in a clean project folder, on
each database backend.

Tests in the folders of the parts that use the store run once per backend: SQLite, and a
real PostgreSQL server that the test run starts itself (tests/support/postgres.py).
`NEWSLETTER_TEST_BACKENDS=sqlite` runs SQLite alone. A test that touches no store, or that
tests SQLite's own behaviour, is marked `single_backend`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import ROOT, TEST_SECRET, Result, run_cli

BACKENDS = [
    name.strip()
    # popped: the settings refuse NEWSLETTER_* variables that name no setting
    for name in os.environ.pop("NEWSLETTER_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if name.strip()
]
STORE_FOLDERS = {"audience", "db", "delivery", "feedback", "web", "cli"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "single_backend: run on SQLite only (touches no store, or tests SQLite's own)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    if Path(metafunc.definition.path).parent.name not in STORE_FOLDERS:
        return
    if metafunc.definition.get_closest_marker("single_backend"):
        return
    metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgresql` (parametrised in the store's test folders)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole run, started on first use."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the test's backend: a SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_server").create_database())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    """A fresh project folder (the repo's newsletter.toml and templates) as the cwd."""
    shutil.copy(ROOT / "newsletter.toml", tmp_path / "newsletter.toml")
    (tmp_path / "issues").mkdir()
    (tmp_path / "subscribers").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    return tmp_path


@pytest.fixture
def cli() -> Callable[..., Result]:
    """`run_cli` as a fixture."""
    return run_cli


@pytest.fixture
def serve_app():
    """Serve an ASGI app on 127.0.0.1 (a free port) in a thread; yields a starter."""
    import threading
    import time

    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app) -> str:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not (server.started and server.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=5)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (Playwright's own browsers are not used)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(executable).exists(), "chromium is missing: `make test` installs Debian's package"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()
