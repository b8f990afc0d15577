"""One clock-based pace shared by every send worker, steered by how often SES throttles.

Slots are handed out `1/rate` seconds apart on the monotonic clock (virtual scheduling,
as in GCRA), so workers that wait on the network never bunch up into bursts above the
account's per-second limit. A worker takes its slot only when it is due, never ahead: a
rate that changes while workers wait counts for all of them at once (slots booked at the
slow pace of a throttling storm would hold the pace down for seconds after it).

The rate is steered once per window (one second: SES counts its rate per second) from the
share of requests SES throttled in it, never from single throttles:

- Above what the account lets through, the rate is cut to the room left to us (a little
  under it), never by more than half at once. What got through overstates that room when
  another client of the account never backs off: each of our requests above the room took
  a place from it. Sharing the window in proportion to what each asked, the others asked
  `offered * (limit - got) / got`, and the room is the limit less that. Another sender
  taking half of the account is found in a window or two, and kept: the room found is the
  rate to climb back to, unless nothing got through (a storm says nothing of the room).
- The window after a cut is not judged (it still holds requests sent at the old rate).
  If the one after it is throttled about as much as before, the cut did not help: the
  throttling goes on whatever the campaign does (transactional mail on the same account),
  so the cut is undone and that share is learned as the background, which only what
  exceeds it steers. Sporadic throttling then costs the retries it takes, no more.
- A clean window climbs: quickly (four times a window) back to the last rate that ran
  clean, so a throttling storm is over in seconds once SES stops throttling, then gently
  (2% a window) above it, up to `max_rate`, to find room that has opened up.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

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
CLIMB = 4.0  # a clean window below the last clean rate multiplies the rate by this...
GENTLE_CLIMB = 1.25  # ...or this, after a cut at about that rate (others took some room)
NEAR_GOOD = 0.5  # throttled at this share of the last clean rate or more: the room shrank
POLL = 0.1  # seconds a waiting worker sleeps at most before it looks at `stop` again


class _Trial(NamedTuple):
    """Throttling that cuts are being tried on: where it began, and how many so far."""

    rate: float
    share: float
    good: float  # the last clean rate then
    cuts: int


class Pace:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
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
        self._window_start = clock()
        self._last = -math.inf  # the last slot taken: the next one is free
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the rate went up: look again
        self._answered = 0  # requests answered in the current window
        self._refused = 0  # of which throttled
        self._good = rate  # the last rate that ran a clean window: climb back to it
        self._climbing = False  # on the way back up to it
        self._climb = CLIMB  # by this factor a clean window
        self._clean_rate = rate  # the rate of the last clean window, and its share
        self._clean_share = 0.0
        self.background = 0.0  # the share of requests SES throttles whatever the rate
        self._trial: _Trial | None = None  # the cuts being tried, to undo them
        self._settling = False
        self._clean_run = 0  # clean windows in a row at the last clean rate
        self._probe = PROBE  # the next step up
        self.throttles = 0

    def reserve(self) -> float:
        """Book the next slot, however far ahead; returns how long the caller must wait for
        it (for one caller alone: a booked slot does not follow later changes of rate)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._last + 1.0 / self.rate)
            self._last = slot
            return slot - now

    def take(self) -> float:
        """Take the next slot if it is due (0.0); else the seconds until it is due, and
        nothing is taken: ask again then, at whatever the rate is by that time."""
        with self._lock:
            return self._take(self._clock())

    def _take(self, now: float) -> float:
        interval = 1.0 / self.rate
        due = self._last + interval
        if now < due:
            return due - now
        # A worker that woke a little late keeps the schedule; after an idle spell the
        # schedule starts again from now (no burst to make up for lost time).
        self._last = due if now - due < interval else now
        return 0.0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until a slot is taken; False if `stop` was set first."""
        with self._wake:
            while not (stop is not None and stop.is_set()):
                delay = self._take(self._clock())
                if delay <= 0:
                    return True
                self._wake.wait(min(delay, POLL))
        return False

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
            self._wake.notify_all()

    def _steer(self, now: float) -> None:
        """At the end of each window, set the rate from the share that was throttled."""
        elapsed = now - self._window_start
        if elapsed < self.window:
            return
        answered = self._answered
        share = self._refused / answered if answered else 0.0
        accepted = (answered - self._refused) / elapsed
        offered = answered / elapsed
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
            self._over(share, offered, accepted)
            return
        self._trial = None
        if self.background > 0:
            # A learned background follows the share of the windows it explains, both
            # ways: it fades when the other mail stops, and stays while it goes on.
            self.background += BACKGROUND_WEIGHT * (share - self.background)
        if excess <= CLEAN:
            self._clean_rate, self._clean_share = self.rate, share
            if self.rate < self._good:
                self._climbing = True
                self.rate = min(self._good, self.rate * self._climb)
                self._wake.notify_all()
                return
            self._climbing = False
            self._good = self.rate
            self._clean_run += 1
            if self._clean_run >= PROBE_AFTER and self.rate < self.max_rate:
                # Look for more room now and then, in growing steps while they succeed.
                self.rate = min(self.max_rate, self.rate * self._probe)
                self._clean_run = 0
                self._probe = 1.0 + 2 * (self._probe - 1.0)
                self._wake.notify_all()

    def _over(self, share: float, offered: float, accepted: float) -> None:
        """A window throttled above the background: cut, or learn the background."""
        trial = self._trial
        if trial is not None and share > trial.share / 2 and share <= MAX_BACKGROUND:
            if trial.cuts >= 2:
                # Two cuts did not lower the share: this throttling goes on whatever the
                # campaign's rate (other mail on the account). Learn it, undo the cuts.
                self.background = share
                self.rate, self._good = trial.rate, trial.good
                self._trial = None
                self._wake.notify_all()
                return
            # One cut may have been too small: what got through overstates the room when
            # another client never backs off. Cut again before deciding.
            trial = trial._replace(cuts=trial.cuts + 1)
        else:
            trial = _Trial(self.rate, share, self._good, 1)
        self._trial = trial
        room = HEADROOM * self._room(offered, accepted / (1.0 - self.background))
        # At least 10%: a cut too small to change the share would teach nothing.
        cut = max(self.rate * MAX_CUT, min(self.rate * MIN_CUT, room))
        if self._climbing and share <= MAX_BACKGROUND and self.rate >= NEAR_GOOD * self._good:
            # Throttled on the way back up, near the old clean rate, and not by a storm:
            # there is less room now. If the step before ran with no throttling at all,
            # the room is there (an estimate from this one window is noisier); under
            # background throttling, the cut.
            if self._clean_share <= CLEAN and self._clean_rate < self.rate:
                cut = self._clean_rate
            self._good = max(self.min_rate, cut)
        # Throttled at about the clean rate (not a storm): others may hold the room above
        # the cut, so climb back gently; after a storm, or from far below, quickly.
        near = share <= MAX_BACKGROUND and self.rate >= NEAR_GOOD * self._good
        self._climb = GENTLE_CLIMB if near and not self._climbing else CLIMB
        self._climbing = False
        self.rate = max(self.min_rate, cut)
        self._settling = True
        self._clean_run, self._probe = 0, PROBE

    def _room(self, offered: float, through: float) -> float:
        """The rate left to us when `through` of the `offered` requests per second got
        through: the limit less what the others asked, if they share the window in
        proportion to what each asks (never more than what got through)."""
        if through <= 0 or offered <= 0:
            return 0.0
        others = offered * max(0.0, self.max_rate - through) / through
        return min(through, max(0.0, self.max_rate - others))
