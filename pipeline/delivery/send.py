"""The campaign loop: fixed recipients, one shared pace, concurrent sends, every delivery
checkpointed as it happens.

The main thread owns the database: it claims a few `pending` rows at a time (marking them
`sending` in one commit), hands them to worker threads, and records each outcome as it
comes back. A row is `sending` exactly while its message may be in SES's hands, so after a
crash those rows, and only those, become `unknown`: never resent without `--retry-unknown`,
and never more of them than the messages in flight.
"""

from __future__ import annotations

import functools
import gc
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.audience.tokens import make_token, unsubscribe_url
from pipeline.clock import utcnow
from pipeline.delivery import harm
from pipeline.delivery.claims import Claimed, Outcome
from pipeline.delivery.pacing import Pace
from pipeline.delivery.senders import LEASE_SECONDS
from pipeline.delivery.sendlog import SendLog
from pipeline.delivery.settling import DELIVERY_TAG, campaign_tag
from pipeline.delivery.transports.base import NotSent, SendFailure, Transport
from pipeline.issue.message import Addressee, Message, personalise
from pipeline.issue.render import Rendered
from pipeline.retry import RetryPolicy, Tries
from pipeline.settings import Settings

log = logging.getLogger(__name__)

RATE_HEADROOM = 0.97
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class SendOptions:
    rate: float
    concurrency: int = 16
    # The knobs of the one retry policy (pipeline/retry.py), as `retry` puts them together.
    transient_attempts: int = RetryPolicy.attempts  # tries for 5xx / connection errors
    backoff_base: float = RetryPolicy.base_delay
    backoff_cap: float = RetryPolicy.max_delay
    max_consecutive_failures: int = 50  # then pause: something is wrong beyond one address
    throttle_give_up: float = RetryPolicy.give_up_after  # seconds of throttling, then pause
    window: int | None = None  # rows marked `sending` at once; default the concurrency
    lease_seconds: float = LEASE_SECONDS  # a sender silent this long is taken for dead
    watch_seconds: float = 2.0  # how often the campaign's bounce and complaint rates are read

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.transient_attempts,
            base_delay=self.backoff_base,
            max_delay=self.backoff_cap,
            give_up_after=self.throttle_give_up,
        )


@dataclass
class Progress:
    """What the loop reports as it goes (a progress bar or log lines listen to it)."""

    total: int
    done: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    throttled: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0


@dataclass
class RunResult:
    stopped_by_user: bool = False
    pause_reason: str | None = None
    progress: Progress | None = None


@functools.cache
def _freeze_long_lived() -> None:
    """Everything loaded by the first send of a process (botocore's service models are
    large) is long-lived: keep it out of the collector, whose full passes over it stalled
    every worker for tens of milliseconds, bunching requests up into bursts above the
    rate. Once per process: a full collection costs a quarter of a second in a process
    that has run many sends (a scheduler, the tests)."""
    gc.collect()
    gc.freeze()


@contextmanager
def _stop_on_signals(result: RunResult, stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop a campaign cleanly. The first one only sets flags, which the
    loop sees within 0.2 s: an exception raised there could land between taking outcomes
    off the queue and recording them, and the loop would then wait for them forever. A
    second one leaves at once (KeyboardInterrupt); the rows in flight become `unknown`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if result.stopped_by_user:
            raise KeyboardInterrupt
        result.stopped_by_user = True
        stop.set()

    previous = {number: signal.signal(number, handler) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, before in previous.items():
            signal.signal(number, before)


@dataclass(frozen=True)
class Delivered:
    """What became of one message: `status` is what its row records."""

    status: str  # sent | failed | unknown | pending (never handed over: safe to send later)
    attempts: int
    message_id: str | None = None
    error: str | None = None
    pause: str | None = None  # why all sending should stop: the account, not the message


def deliver(
    transport: Transport,
    message: Message,
    tags: dict[str, str],
    pace: Pace,
    stop: threading.Event,
    retry: RetryPolicy,
) -> Delivered:
    """Send one message at the shared pace, trying again as `retry` says: the one way a
    campaign's delivery and the outbox's transactional mail are sent."""
    attempts = 0
    tries = retry.start()

    def gate() -> bool:
        # Called by the transport right before the request goes on the wire, after it is
        # built and signed, so that building it cannot bunch requests up.
        return pace.wait(stop)

    while True:
        attempts += 1
        try:
            message_id = transport.send(message, tags, gate=gate)
        except NotSent:
            # Never handed to SES on this attempt: back to pending, safe to send later.
            return Delivered("pending", attempts - 1)
        except SendFailure as failure:
            if failure.kind == "throttle":
                pace.throttled()  # the next try waits for its slot in the slower pace
            wait = tries.after(failure.kind)
            if wait is None:
                return _given_up(failure, attempts, tries)
            if wait and stop.wait(wait):
                return Delivered("pending", attempts, error=failure.reason)
            continue
        pace.succeeded()
        return Delivered("sent", attempts, message_id=message_id)


def _given_up(failure: SendFailure, attempts: int, tries: Tries) -> Delivered:
    """A message the retry policy tries no more, recorded by why it failed."""
    if failure.kind == "throttle":
        # Not sent: it stays pending for the next run, and sending stops until then.
        why = f"SES kept throttling for {tries.policy.give_up_after:.0f} s"
        return Delivered("pending", attempts, error=failure.reason, pause=why)
    if failure.kind == "transient":
        reason = f"{failure.reason} (after {tries.backoff_failures} attempts)"
        return Delivered("failed", attempts, error=reason)
    if failure.kind == "ambiguous":
        # The request went out and the answer was lost: SES may have sent it.
        return Delivered("unknown", attempts, error=failure.reason)
    if failure.kind == "account":
        return Delivered("pending", attempts, error=failure.reason, pause=failure.reason)
    return Delivered("failed", attempts, error=failure.reason)


# The pause reason of a campaign stopped because its process shut down (SIGTERM to
# `serve` or `worker`), not by a person: the scheduler resumes such a campaign.
STOPPED_AT_SHUTDOWN = "stopped when the process sending it shut down"


class CampaignRunner:
    def __init__(
        self,
        sendlog: SendLog,
        settings: Settings,
        rendered: Rendered,
        transport: Transport,
        campaign_id: int,
        list_id: int,
        options: SendOptions,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        sender_id: int | None = None,
        asked_to_stop: threading.Event | None = None,
    ) -> None:
        self.sendlog = sendlog
        self.sender_id = sender_id
        self.settings = settings
        self.rendered = rendered
        self.transport = transport
        self.campaign_id = campaign_id
        self.list_id = list_id
        self.options = options
        self.retry = options.retry
        # Pace 3% under the limit: SES counts per second as requests arrive, and
        # network jitter can bunch requests that left evenly spaced.
        self.pace = Pace(options.rate * RATE_HEADROOM)
        self.progress = Progress(total=0)
        self.stop = threading.Event()
        # Set from outside (a scheduler shutting down, in a thread that gets no signals):
        # what is in flight is finished and recorded, then the campaign pauses with
        # STOPPED_AT_SHUTDOWN, which the scheduler resumes when it starts again.
        self.asked_to_stop = asked_to_stop
        self.pause_reason: str | None = None
        self.on_progress = on_progress or (lambda progress: None)
        self.secret = settings.require_secret_key()
        self.tags = {"campaign": campaign_tag(rendered.issue.number, campaign_id)}
        self._work: queue.Queue[Claimed | None] = queue.Queue()
        self._results: queue.Queue[Outcome] = queue.Queue()
        self._reason_lock = threading.Lock()

    # --- workers ------------------------------------------------------------------------

    def _pause(self, reason: str) -> None:
        with self._reason_lock:
            if self.pause_reason is None:
                self.pause_reason = reason
        self.stop.set()

    def _message(self, item: Claimed) -> Message:
        token = make_token(self.secret, item.subscriber_id, self.list_id)
        recipient = Addressee(
            item.email, item.name or "", unsubscribe_url(self.settings.public_url, token)
        )
        return personalise(self.rendered, recipient, self.settings)

    def _deliver(self, item: Claimed, message: Message) -> Outcome:
        # The delivery's id goes to SES with the message, and comes back in its events:
        # how a row left `unknown` by a crash is settled (settling.py).
        tags = {**self.tags, DELIVERY_TAG: str(item.delivery_id)}
        done = deliver(self.transport, message, tags, self.pace, self.stop, self.retry)
        if done.pause:
            self._pause(done.pause)
        return Outcome(item.delivery_id, done.status, done.attempts, done.message_id, done.error)

    def _worker(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            if self.stop.is_set():
                self._results.put(Outcome(item.delivery_id, "pending", 0))
                continue
            self._results.put(self._attempt(item))

    def _attempt(self, item: Claimed) -> Outcome:
        try:
            message = self._message(item)
        except Exception as exc:
            # Nothing left: this one row fails with the reason and the campaign goes on
            # (the reason is in the log; no traceback on the terminal).
            log.debug("delivery %s: cannot build the message", item.delivery_id, exc_info=True)
            reason = f"cannot build the message: {type(exc).__name__}: {exc}"
            return Outcome(item.delivery_id, "failed", 0, error=reason[:500])
        try:
            return self._deliver(item, message)
        except Exception as exc:  # a bug must not leave a row in `sending` forever
            # Raised inside the transport, so the request may have gone out: `unknown`.
            log.exception("delivery %s crashed", item.delivery_id)
            self._pause(f"internal error: {exc}")
            return Outcome(item.delivery_id, "unknown", 1, error=f"internal error: {exc}")

    # --- the main loop (database owner) -------------------------------------------------

    def run(self, total: int) -> RunResult:
        progress = self.progress = Progress(total=total)
        # Rows marked `sending` at once: all a crash can leave `unknown`. One per worker,
        # so that --concurrency is also the bound on what a kill can leave unknown.
        window = self.options.window or self.options.concurrency
        workers = [
            threading.Thread(target=self._worker, name=f"send-{n}", daemon=True)
            for n in range(self.options.concurrency)
        ]
        _freeze_long_lived()
        for worker in workers:
            worker.start()
        in_flight = 0
        exhausted = False
        consecutive_failures = 0
        result = RunResult(progress=progress)
        last_report = 0.0
        last_watch, since = time.monotonic(), utcnow()  # this run's rates: see harm.py
        with _stop_on_signals(result, self.stop):
            while True:
                try:
                    asked = self.asked_to_stop
                    if asked is not None and asked.is_set() and not self.stop.is_set():
                        self._pause(STOPPED_AT_SHUTDOWN)
                    outcomes = self._collect(in_flight)
                    claim = 0
                    waiting = in_flight - len(outcomes)
                    if not self.stop.is_set() and not exhausted and waiting < window:
                        claim = window - waiting
                    if outcomes or claim:
                        # One commit records the outcomes and claims the next rows.
                        claimed, skipped = self.sendlog.checkpoint(
                            self.campaign_id, self.list_id, outcomes, claim, self.sender_id
                        )
                        in_flight = waiting + len(claimed)
                        for item in claimed:
                            self._work.put(item)
                        if claim and not claimed and not skipped:
                            exhausted = True
                        progress.skipped += skipped
                        progress.done += skipped
                        consecutive_failures = self._count(outcomes, progress, consecutive_failures)
                    if in_flight == 0 and (exhausted or self.stop.is_set()):
                        break
                    progress.throttled = self.pace.throttles
                    now = time.monotonic()
                    if now - last_watch >= self.options.watch_seconds and not self.stop.is_set():
                        last_watch = now
                        self._watch(since)
                    if now - last_report > 0.1:
                        self.on_progress(progress)
                        last_report = now
                except KeyboardInterrupt:
                    if result.stopped_by_user:
                        raise  # a second Ctrl-C: leave now; rows in flight become unknown
                    result.stopped_by_user = True
                    self.stop.set()
        for _ in workers:
            self._work.put(None)
        for worker in workers:
            worker.join(timeout=30)
        gc.unfreeze()
        self.on_progress(progress)
        result.pause_reason = self.pause_reason
        return result

    def _watch(self, since: datetime) -> None:
        """Pause when this run's own bounce or complaint rate hurts the account (harm.py)."""
        reason = harm.watch(self.sendlog.store, self.campaign_id, since).verdict(self.settings)
        if reason:
            log.warning("campaign %s pauses: %s", self.campaign_id, reason)
            self._pause(reason)

    def _count(self, outcomes: list[Outcome], progress: Progress, failures_in_a_row: int) -> int:
        for outcome in outcomes:
            if outcome.status == "sent":
                progress.sent += 1
                progress.done += 1
                failures_in_a_row = 0
            elif outcome.status in ("failed", "unknown"):
                progress.failed += 1
                progress.done += 1
                failures_in_a_row += 1
        if failures_in_a_row >= self.options.max_consecutive_failures:
            self._pause(f"{failures_in_a_row} messages in a row failed; last: {outcomes[-1].error}")
        return failures_in_a_row

    def _collect(self, in_flight: int) -> list[Outcome]:
        """Wait for the next outcome, then gather what else arrives within a few
        milliseconds, so that one commit covers a batch."""
        if in_flight == 0:
            return []
        try:
            outcomes = [self._results.get(timeout=0.2)]
        except queue.Empty:
            return []
        # Short: a worker whose outcome waits here is idle until the next claim.
        deadline = time.monotonic() + 0.005
        while len(outcomes) < in_flight:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                outcomes.append(self._results.get(timeout=remaining))
            except queue.Empty:
                break
        return outcomes
