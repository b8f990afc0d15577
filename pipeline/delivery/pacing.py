"""One clock-based pace shared by every send worker, slowed by throttling, recovered slowly.

Slots are handed out `1/rate` seconds apart on the monotonic clock (virtual scheduling,
as in GCRA), so workers that wait on the network never bunch up into bursts above the
account's per-second limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# A throttle cuts the pace by 15% (at most once a second); 50 successes win back 5%. SES
# throttles only above the account's rate, so a gentle cut finds the line again quickly.
CUT = 0.85
RECOVER = 1.05


class Pace:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_rate: float = 0.5,
        recover_after: int = 50,
        cooldown: float = 1.0,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self.recover_after = recover_after
        self.cooldown = cooldown
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()
        self._successes = 0
        self._last_cut: float | None = None
        self.throttles = 0

    def reserve(self) -> float:
        """Take the next slot; returns how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
            return slot - now

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until the next slot; False if `stop` was set while waiting."""
        delay = self.reserve()
        if delay > 0:
            if stop is not None:
                return not stop.wait(delay)
            self._sleep(delay)
        return not (stop is not None and stop.is_set())

    def throttled(self) -> None:
        """SES said slow down: push the next slot back by one interval, and cut the rate,
        at most once per `cooldown` (SES counts its rate per second): the throttles the
        other workers get in that time answer requests sent before the cut, and cutting
        for each of them would drop the pace to its floor after a single burst."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            self._successes = 0
            if self._last_cut is None or now - self._last_cut >= self.cooldown:
                self.rate = max(self.min_rate, self.rate * CUT)
                self._last_cut = now
            self._next = max(self._next, now) + 1.0 / self.rate

    def succeeded(self) -> None:
        """After a run of successes, creep back up toward the configured rate."""
        if self.rate >= self.max_rate:
            return
        with self._lock:
            self._successes += 1
            if self._successes >= self.recover_after:
                self._successes = 0
                self.rate = min(self.max_rate, self.rate * RECOVER)
