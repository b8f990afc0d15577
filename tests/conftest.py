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
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import properties
from tests.support.cli import ROOT, TEST_SECRET, Result, run_cli

pytest_plugins = ["tests.support.fixtures"]

# Popped: the settings refuse NEWSLETTER_* variables that name no setting. Kept under
# another name for the xdist workers, which this process starts after reading it.
_CHOSEN = os.environ.pop("NEWSLETTER_TEST_BACKENDS", None)
if _CHOSEN is not None:
    os.environ["PYTEST_NEWSLETTER_BACKENDS"] = _CHOSEN
BACKENDS = [
    name.strip()
    for name in os.environ.get("PYTEST_NEWSLETTER_BACKENDS", "sqlite,postgresql").split(",")
    if name.strip()
]
STORE_FOLDERS = {"audience", "db", "delivery", "feedback", "web", "cli"}


def pytest_configure(config: pytest.Config) -> None:
    if properties.QUICK:  # the property tests that keep Hypothesis's default, as the rest
        from hypothesis import settings

        quick = properties.examples(properties.DEFAULT_EXAMPLES)
        settings.register_profile("quick", max_examples=quick)
        settings.load_profile("quick")
    for line in (
        "single_backend: run on SQLite only (touches no store, or tests SQLite's own)",
        "postgres: runs on the PostgreSQL server the test run starts (set from the backend)",
        "subprocess: starts a process of its own (a CLI, serve, a server); set from the fixtures",
        "slow: takes seconds by its nature; the marker says why where it is set",
        # pytest-xdist's own marker, declared for runs without xdist (`-p no:xdist`).
        "xdist_group(name): tests of one group run on one xdist worker",
    ):
        config.addinivalue_line("markers", line)


# Tests that start processes of their own (a CLI, serve, a server): besides those using
# the `processes` fixture, these modules and tests.
PROCESS_MODULES = {
    "tests/delivery/test_senders.py",
    "tests/delivery/test_send_crash.py",
    "tests/web/test_serve_process.py",
    "tests/web/test_serve_scheduler.py",
    "tests/web/test_worker_killed.py",
    "tests/web/test_behind_nginx.py",
    "tests/cli/test_container.py",
    "tests/web/test_upgrade_while_running.py",
    "tests/test_package.py",
}
PROCESS_TESTS = {
    "test_a_killed_import_leaves_nothing_written",
    "test_console_script_and_module_entry_point",
    "test_preview_as_serves_their_copy",
    "test_export_to_stdout_is_utf8_whatever_the_locale",
    "test_processes_starting_at_once_on_a_fresh_database_migrate_it_once",
    "test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_log_lines",
    "test_poll_as_a_service_stops_cleanly_on_sigterm",
    "test_cli_subprocess_record_file_and_control",
    "test_a_process_starts_whatever_tz_holds",
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that follow from what a test uses, so that `-m` selects without a list.

    Tests that start processes are marked `subprocess` (`make test-fast` leaves them out)
    and run one after another in two xdist groups (`--dist loadgroup`), the senders' and
    the servers': their waits on signals, heartbeats and leases are timing-sensitive, so
    at most two of them run at once on two cores; in one group they were the run's longest
    pole (six minutes of a seven-minute run). Every other
    test runs on the worker of its module, so that a module's own set-up (an issue sent
    once per module and backend) is done once, not once per worker."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
        module = item.nodeid.split("::")[0]
        name = getattr(item, "originalname", item.name)
        if "processes" in fixtures or module in PROCESS_MODULES or name in PROCESS_TESTS:
            item.add_marker(pytest.mark.subprocess)
            if module != "tests/test_package.py":  # builds a venv: CPU, not timing
                item.add_marker(pytest.mark.xdist_group(_process_group(module)))
                continue
        item.add_marker(pytest.mark.xdist_group(module))
    # The longest groups first (xdist hands groups out in this order): the processes
    # (minutes of waiting on children) and the package (a venv) must not be the last
    # ones started while the other workers sit idle.
    first = {SENDERS: 0, SERVERS: 0, "tests/test_package.py": 1}
    items.sort(key=lambda item: first.get(_group(item), 2))


SENDERS, SERVERS = "processes-senders", "processes-servers"


def _process_group(module: str) -> str:
    """Campaign and import processes in one group, servers and the other commands in the
    other: about half of the process tests' time each."""
    return SENDERS if module.startswith(("tests/delivery/", "tests/audience/")) else SERVERS


def _group(item: pytest.Item) -> str:
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0]) if mark is not None else ""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    if Path(metafunc.definition.path).parent.name not in STORE_FOLDERS:
        return
    if metafunc.definition.get_closest_marker("single_backend"):
        return
    if "browser" in metafunc.fixturenames:
        # What a browser shows (layout, keyboard, axe) does not depend on the backend; the
        # same pages' queries run on both backends in their HTTP-level tests.
        return
    metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgresql` (parametrised in the store's test folders)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the whole run (per xdist worker), started on
    first use, with a template database migrated once."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run (per worker); tests get copies of it."""
    from tests.support.db import migrate

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of the test's backend, for tests of what happens before and
    during the first migration: a SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("postgres_server").create_database())


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database of the test's backend at the newest schema, and empty of rows: a copy of
    one migrated once per run (a file copy, or PostgreSQL's CREATE DATABASE ... TEMPLATE),
    which is what the first command's automatic migration would have made."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("postgres_server").create_database(migrated=True))


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


@pytest.fixture(scope="session")
def _stopping_servers() -> Iterator[list[threading.Thread]]:
    """Test servers told to stop, joined once at the end of the run: a uvicorn server takes
    ~0.16 s to wind down, which no test needs to wait for."""
    stopping: list[threading.Thread] = []
    yield stopping
    # A server still holding a client's keep-alive connection may take a while: it is a
    # daemon thread, so the run need not wait for it beyond a moment.
    deadline = time.monotonic() + 2
    for thread in stopping:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


@pytest.fixture
def serve_app(_stopping_servers: list[threading.Thread]):
    """Serve an ASGI app on 127.0.0.1 (a free port) in a thread; yields a starter. For a
    real socket (a browser, a client of its own); `asgi_client` is quicker otherwise."""
    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app, configure: Callable[[Any], uvicorn.Config] | None = None) -> str:
        """`configure` builds the server's configuration for `app` (on port 0), when a
        test is about how `serve` configures uvicorn (`pipeline.web.server.configure`)."""
        if configure is None:
            config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        else:
            config = configure(app)
        config.lifespan = "off"
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
        _stopping_servers.append(thread)


@pytest.fixture
def asgi_client() -> Iterator[Callable[..., httpx.Client]]:
    """Call an ASGI app in-process (Starlette's TestClient): an httpx client that answers
    as a real server on 127.0.0.1 would, without a socket, a thread or a shutdown. The
    client is 127.0.0.1 (the per-IP signup limit sees an address); a server error is a
    500 answer, as from uvicorn, not an exception in the test."""
    with warnings.catch_warnings():
        # Starlette asks for httpx's successor; the tests' client is httpx, which it still takes.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    clients: list[TestClient] = []

    def start(app: Any, **options: Any) -> httpx.Client:
        options.setdefault("base_url", "http://127.0.0.1")
        options.setdefault("follow_redirects", False)
        client = TestClient(
            app, client=("127.0.0.1", 50000), raise_server_exceptions=False, **options
        )
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


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
