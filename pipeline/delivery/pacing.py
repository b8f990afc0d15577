"""One clock-based pace shared by every send worker, steered by how often SES throttles.

Slots are handed out `1/rate` seconds apart on the monotonic clock (virtual scheduling,
as in GCRA), so workers that wait on the network never bunch up into bursts above the
account's per-second limit.

The rate is steered once per window (one second: SES counts its rate per second) from the
share of requests SES throttled in it, never from single throttles:

- Above what the account lets through, the rate is cut to what got through in the window
  (a little under it), never by more than half at once. Another sender taking half of
  the account is found in a window or two.
- The window after a cut is not judged (it still holds requests sent at the old rate).
  If the one after it is throttled about as much as before, the cut did not help: the
  throttling goes on whatever the campaign does (transactional mail on the same account),
  so the cut is undone and that share is learned as the background, which only what
  exceeds it steers. Sporadic throttling then costs the retries it takes, no more.
- A clean window climbs: quickly (doubling) back to the last rate that ran clean, so a
  short throttling storm costs seconds, then gently (2% a window) above it, up to
  `max_rate`, to find room that has opened up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
WINDOW = 1.0  # seconds; SES counts its rate per second
TOLERATE = 0.03  # a throttled share up to this holds the rate
CLEAN = 0.01  # a throttled share up to this lets the rate climb
PROBE = 1.02  # the first step above the last clean rate; each step that works doubles
PROBE_AFTER = 3  # clean windows in a row before a step up
MAX_CUT = 0.5  # never cut by more than half in one window
MIN_CUT = 0.9  # and never by less than a tenth
HEADROOM = 0.97  # after a cut, pace a little under what got through
BACKGROUND_WEIGHT = 0.1  # a learned background share fades over about ten quieter windows
MAX_BACKGROUND = 0.5  # more than this is never taken for background: it is a storm


class Pace:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_rate: float = 0.5,
        window: float = WINDOW,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self.min_rate = min(min_rate, rate)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()
        self._window_start = self._next
        self._answered = 0  # requests answered in the current window
        self._refused = 0  # of which throttled
        self._good = rate  # the last rate that ran a clean window: climb back to it
        self._climbing = False
        self.background = 0.0  # the share of requests SES throttles whatever the rate
        self._trial: tuple[float, float] | None = None  # (rate, share) before the last cut
        self._settling = False
        self._clean_run = 0  # clean windows in a row at the last clean rate
        self._probe = PROBE  # the next step up
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
        """SES said slow down for one request: it is retried in the next free slot, and
        the window's count decides whether the rate changes."""
        with self._lock:
            now = self._clock()
            self.throttles += 1
            self._refused += 1
            self._answered += 1
            self._steer(now)

    def succeeded(self) -> None:
        with self._lock:
            self._answered += 1
            self._steer(self._clock())

    def set_limit(self, rate: float) -> None:
        """A new ceiling: another sender joined the account's rate, or one left it (then
        climb to the new ceiling as quickly as back to a rate that ran clean)."""
        with self._lock:
            rate = max(rate, self.min_rate)
            if rate > self.max_rate:
                self._good = rate
            self.max_rate = rate
            self.rate = min(self.rate, rate)
            self._good = min(self._good, rate)

    def _steer(self, now: float) -> None:
        """At the end of each window, set the rate from the share that was throttled."""
        elapsed = now - self._window_start
        if elapsed < self.window:
            return
        answered = self._answered
        share = self._refused / answered if answered else 0.0
        accepted = (answered - self._refused) / elapsed
        log.debug(
            "pace %.1f/s: %d of %d throttled in %.2f s (background %.1f%%)",
            self.rate, self._refused, self._answered, elapsed, 100 * self.background,
        )  # fmt: skip
        self._window_start = now
        self._answered = self._refused = 0
        if self._settling:
            # The window after a cut still holds requests sent at the old rate (and SES
            # remembers the last second): judge the cut by the window after it.
            self._settling = False
            return
        # A background share is noisy: allow two standard deviations of a binomial count.
        noise = 2.0 * math.sqrt(self.background * (1.0 - self.background) / max(1, answered))
        excess = share - self.background - noise
        if excess > TOLERATE:
            trial = self._trial
            if trial is not None and share > trial[1] / 2 and share <= MAX_BACKGROUND:
                # The last cut did not lower the share: this throttling goes on whatever
                # the campaign's rate (other mail on the account). Learn it, undo the cut.
                self.background = share
                self.rate = trial[0]
                self._trial = None
                return
            # Above what the account lets through: go to what got through.
            self._trial = (self.rate, share)
            room = HEADROOM * accepted / (1.0 - self.background)
            # At least 10%: a cut too small to change the share would teach nothing.
            cut = max(self.rate * MAX_CUT, min(self.rate * MIN_CUT, room))
            if self._climbing:  # throttled on the way back up: there is less room now
                self._good = cut
                self._climbing = False
            self.rate = max(self.min_rate, cut)
            self._settling = True
            self._clean_run, self._probe = 0, PROBE
            return
        self._trial = None
        if share < self.background:
            self.background += BACKGROUND_WEIGHT * (share - self.background)
        if excess <= CLEAN:
            if self.rate < self._good:
                self._climbing = True
                self.rate = min(self._good, self.rate * 2)
                return
            self._climbing = False
            self._good = self.rate
            self._clean_run += 1
            if self._clean_run >= PROBE_AFTER and self.rate < self.max_rate:
                # Look for more room now and then, in growing steps while they succeed.
                self.rate = min(self.max_rate, self.rate * self._probe)
                self._clean_run = 0
                self._probe = 1.0 + 2 * (self._probe - 1.0)
