"""One retry policy for everything that asks a service and may hear "not now": a
campaign's sends, the signup outbox, test copies.

A failure has a kind (for mail, the transport's classification: `throttle`, `transient`,
...). The policy says, after a failure of some kind, whether to try again and after how
long. Kinds fall in three groups:

- *paced* kinds (SES throttling) are tried again at once: the caller's shared pace spaces
  the tries, and throttling is about the account, not the message. They give up once
  `give_up_after` seconds have passed since the first of them;
- *backoff* kinds (a 5xx, a refused connection) are tried again after a growing, jittered
  delay ("full jitter": anywhere between 0 and `min(max_delay, base_delay * 2**n)`, so
  that workers failing together do not come back together), `attempts` tries at most;
- every other kind is final at once (a rejected address, a lost answer).

Giving up says nothing about what to record: the caller knows whether the request may
have gone out. `Tries` keeps the count for one operation; the policy itself is a value,
passed in, so that tests give it short delays instead of waiting seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def full_jitter(cap: float) -> float:
    return random.uniform(0, cap)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all while the failures are of backoff kinds
    base_delay: float = 0.5  # seconds; doubled after each backoff failure
    max_delay: float = 20.0  # the longest wait between two tries
    give_up_after: float = 600.0  # seconds from the first paced failure to giving up
    backoff: frozenset[str] = frozenset({"transient"})
    paced: frozenset[str] = frozenset({"throttle"})
    # The delay drawn for a cap: injectable, so that a test can make it exact.
    jitter: Callable[[float], float] = field(default=full_jitter, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.backoff & self.paced:
            raise ValueError(f"a kind is either paced or backs off: {self.backoff & self.paced}")

    def retryable(self, kind: str) -> bool:
        return kind in self.backoff or kind in self.paced

    def delay(self, kind: str, failures: int, elapsed: float = 0.0) -> float | None:
        """Seconds to wait before the next try, or None to give up, after a failure of
        `kind` that is the `failures`-th of the backoff kinds (counting from 1), or comes
        `elapsed` seconds after the first of the paced ones."""
        if kind in self.paced:
            return None if elapsed > self.give_up_after else 0.0
        if kind in self.backoff and failures < self.attempts:
            return self.jitter(min(self.max_delay, self.base_delay * 2**failures))
        return None

    def start(self, clock: Callable[[], float] = time.monotonic) -> Tries:
        """The count for one operation (one message), from its first try."""
        return Tries(self, clock)


class Tries:
    """The failures of one operation under a policy: `after(kind)` for each one."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float]) -> None:
        self.policy = policy
        self._clock = clock
        self.backoff_failures = 0
        self.paced_since: float | None = None  # when the first paced failure came

    def after(self, kind: str) -> float | None:
        """Seconds to wait before trying again after a failure of `kind`; None: give up."""
        elapsed = 0.0
        if kind in self.policy.paced:
            now = self._clock()
            if self.paced_since is None:
                self.paced_since = now
            elapsed = now - self.paced_since
        elif kind in self.policy.backoff:
            self.backoff_failures += 1
        return self.policy.delay(kind, self.backoff_failures, elapsed)


__all__ = ["RetryPolicy", "Tries", "full_jitter"]
