"""The background loops of `newsletter serve` and `newsletter worker`, each in its own
thread, all stopped together on Ctrl-C or SIGTERM.

A loop is a `Callable[[threading.Event], None]` that works until the event is set, then
returns. `loops()` is the one list of them: adding a loop is adding a line there.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from pipeline.db import Store
from pipeline.delivery.transports.base import Transport
from pipeline.errors import NewsletterError
from pipeline.settings import Settings

log = logging.getLogger(__name__)

Loop = Callable[[threading.Event], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
JOIN_SECONDS = 60.0
OUTBOX_RETRY_SECONDS = 60.0  # a campaign in flight finishes what SES holds, then pauses


def loops(settings: Settings, *, dry_run: bool = False) -> list[tuple[str, Loop]]:
    """Every background loop, by name: one line each."""
    return [
        ("scheduler", _with_store(settings, lambda store: _scheduler(store, settings, dry_run))),
        ("outbox", _with_store(settings, lambda store: _outbox(store, settings, dry_run))),
    ]


def _outbox(store: Store, settings: Settings, dry_run: bool) -> Loop:
    """The signup inbox and the confirmation and welcome mail. Without SES (no region or
    credentials yet) it says so once and tries again every minute: the web app and the
    scheduler go on, and the signups wait in the database."""
    from pipeline.delivery import outbox

    make = _transport(settings, dry_run)

    def run(stop: threading.Event) -> None:
        said = False
        while not stop.is_set():
            try:
                transport = make()
            except NewsletterError as exc:
                if not said:
                    log.warning(
                        "signup mail waits: %s (%s); trying again every minute",
                        exc.message,
                        exc.hint or "check the AWS settings",
                    )
                    said = True
                stop.wait(OUTBOX_RETRY_SECONDS)
                continue
            outbox.work(store, settings, transport, stop)
            return

    return run


def _scheduler(store: Store, settings: Settings, dry_run: bool) -> Loop:
    from pipeline.delivery.scheduler import Scheduler

    return Scheduler(store, settings, _transport(settings, dry_run), dry_run=dry_run).loop


def _transport(settings: Settings, dry_run: bool) -> Callable[[], Transport]:
    from pipeline.delivery.transports import make_transport

    return make_transport(settings, dry_run=dry_run)


def _with_store(settings: Settings, make: Callable[[Store], Loop]) -> Loop:
    """A loop with a store of its own, opened in its thread and closed when it ends."""

    def run(stop: threading.Event) -> None:
        with Store.open(settings.database_url) as store:
            make(store)(stop)

    return run


def log_to_stderr() -> None:
    """What the loops do (a campaign started, a schedule missed) as timestamped lines on
    stderr, unless logging is set up already (uvicorn sets up only its own loggers)."""
    package = logging.getLogger("pipeline")
    if package.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(handler)
    package.setLevel(logging.INFO)


@contextmanager
def running(named: list[tuple[str, Loop]]) -> Iterator[threading.Event]:
    """Start every loop in its own thread; on leaving (or on SIGINT/SIGTERM), set the stop
    event and wait for each loop to return. Yields the stop event."""
    log_to_stderr()
    stop = threading.Event()
    previous: dict[int, object] = {}

    def handler(number: int, frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(number).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    threads = [
        threading.Thread(target=_guarded(name, loop), args=(stop,), name=name, daemon=True)
        for name, loop in named
    ]
    for thread in threads:
        thread.start()
    try:
        yield stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s; leaving it", thread.name,
                            JOIN_SECONDS)  # fmt: skip
        for number, before in previous.items():
            signal.signal(number, before)  # type: ignore[arg-type]


def _guarded(name: str, loop: Loop) -> Loop:
    def run(stop: threading.Event) -> None:
        try:
            loop(stop)
        except Exception:  # one loop's crash is logged; the others and the web app go on
            log.exception("background loop %s stopped with an error", name)

    return run
