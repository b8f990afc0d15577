"""A campaign's send flow without the database: worker threads send through the one
`deliver()` with the real SES transport and one shared `Pace`, against an SES endpoint
(the stub), for a given time. The pace test and `bench/bench_pace.py` both measure with it.

Every answer is recorded with its time, so the throttled share and the accepted rate of
any stretch of the run are read afterwards, as ratios measured within the one run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipeline.delivery.pacing import Pace
from pipeline.delivery.send import RATE_HEADROOM, deliver
from pipeline.delivery.transports.ses import SesTransport
from pipeline.issue.message import Message
from pipeline.retry import RetryPolicy


@dataclass
class PacedRun:
    """What happened, on the run's own clock (seconds since it started)."""

    accepted: list[float] = field(default_factory=list)
    throttled: list[float] = field(default_factory=list)
    pace_rates: list[tuple[float, float]] = field(default_factory=list)  # (time, pace.rate)

    def accepted_rate(self, start: float, end: float) -> float:
        return sum(start <= t < end for t in self.accepted) / (end - start)

    def throttled_share(self, start: float, end: float) -> float:
        ok = sum(start <= t < end for t in self.accepted)
        refused = sum(start <= t < end for t in self.throttled)
        return refused / (ok + refused) if ok + refused else 0.0

    def pace_at(self, t: float) -> float:
        return min(self.pace_rates, key=lambda sample: abs(sample[0] - t))[1]


class _RecordingPace(Pace):
    """The pace as the send loop has it, also noting the time of each answer."""

    def __init__(self, rate: float, run: PacedRun, started: float) -> None:
        super().__init__(rate)
        self._run, self._started = run, started

    def throttled(self) -> None:
        self._run.throttled.append(time.monotonic() - self._started)
        super().throttled()

    def succeeded(self) -> None:
        self._run.accepted.append(time.monotonic() - self._started)
        super().succeeded()


def paced_run(
    account_rate: float,
    seconds: float,
    *,
    workers: int = 8,
    actions: Sequence[tuple[float, Callable[[], object]]] = (),
) -> PacedRun:
    """Send for `seconds` at the pace a campaign takes on an account of `account_rate`
    (AWS_ENDPOINT_URL_SESV2 and credentials from the environment); each of `actions` is
    called once at its time (a storm starting, say)."""
    todo = sorted(actions, key=lambda action: action[0])
    run = PacedRun()
    started = time.monotonic()
    pace = _RecordingPace(account_rate * RATE_HEADROOM, run, started)
    transport = SesTransport(max_connections=workers)
    stop = threading.Event()
    retry = RetryPolicy(give_up_after=seconds + 60)
    message = Message(
        from_address="news@example.com",
        to="reader@example.com",
        subject="pace",
        html="<p>pace</p>",
        text="pace",
    )

    def worker() -> None:
        while not stop.is_set():
            deliver(transport, message, {}, pace, stop, retry)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    while (now := time.monotonic() - started) < seconds:
        run.pace_rates.append((now, pace.rate))
        while todo and todo[0][0] <= now:
            todo.pop(0)[1]()
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    return run
