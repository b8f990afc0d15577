"""The one retry policy: which failures are tried again, after how long, and when it gives
up. Jitter and the clock are injected, so every number here is exact."""

from __future__ import annotations

import pytest

from pipeline.retry import RetryPolicy, full_jitter


def no_jitter(cap: float) -> float:
    return cap


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_the_cap_and_gives_up_after_the_attempts() -> None:
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=5.0, jitter=no_jitter)
    waits = [policy.delay("transient", n) for n in range(1, 7)]
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0, None]


def test_full_jitter_waits_anywhere_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=20.0)
    assert policy.jitter is full_jitter
    waits = [policy.delay("transient", 2) for _ in range(200)]
    assert all(w is not None and 0.0 <= w <= 4.0 for w in waits)
    assert len(set(waits)) > 1


def test_a_paced_failure_is_tried_again_at_once_until_the_deadline() -> None:
    policy = RetryPolicy(give_up_after=600.0)
    assert policy.delay("throttle", 0, elapsed=0.0) == 0.0
    assert policy.delay("throttle", 0, elapsed=600.0) == 0.0
    assert policy.delay("throttle", 0, elapsed=600.1) is None


@pytest.mark.parametrize("kind", ["permanent", "ambiguous", "account", "anything else"])
def test_other_failures_are_never_tried_again(kind: str) -> None:
    policy = RetryPolicy()
    assert not policy.retryable(kind)
    assert policy.delay(kind, 1) is None


def test_the_defaults_are_a_campaigns() -> None:
    policy = RetryPolicy()
    assert policy.retryable("transient") and policy.retryable("throttle")
    assert (policy.attempts, policy.base_delay, policy.max_delay) == (5, 0.5, 20.0)
    assert policy.give_up_after == 600.0


def test_a_kind_is_either_paced_or_backs_off() -> None:
    with pytest.raises(ValueError, match="throttle"):
        RetryPolicy(backoff=frozenset({"throttle", "transient"}))
    policy = RetryPolicy(backoff=frozenset({"throttle", "transient"}), paced=frozenset())
    assert policy.delay("throttle", 1) is not None


def test_tries_count_one_operation() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=3, base_delay=1.0, give_up_after=10.0, jitter=no_jitter)
    tries = policy.start(clock)
    assert tries.after("throttle") == 0.0
    clock.now += 4
    assert tries.after("transient") == 2.0  # the first backoff failure
    clock.now += 6
    assert tries.after("throttle") == 0.0  # 10 s since the first throttle: not over it
    assert tries.after("transient") == 4.0
    assert tries.after("transient") is None  # the third try of backoff kinds failed
    assert tries.backoff_failures == 3
    clock.now += 0.5
    assert tries.after("throttle") is None  # 10.5 s since the first throttle
    assert tries.after("permanent") is None


def test_a_new_operation_starts_from_nothing() -> None:
    clock = FakeClock()
    policy = RetryPolicy(attempts=2, give_up_after=1.0, jitter=no_jitter)
    first = policy.start(clock)
    assert first.after("transient") == 1.0
    assert first.after("transient") is None
    clock.now += 5
    second = policy.start(clock)
    assert second.after("transient") == 1.0
    assert second.after("throttle") == 0.0


def test_policies_compare_by_their_numbers() -> None:
    assert RetryPolicy(jitter=no_jitter) == RetryPolicy()
    assert RetryPolicy(attempts=4) != RetryPolicy()
