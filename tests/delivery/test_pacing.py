"""The pace against a simulated SES, on a simulated clock (no sleeps, no timing): sporadic
throttling costs about what it takes, another sender's share is found and kept, and a
throttling storm is over in seconds once SES stops throttling."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

import pytest

from pipeline.delivery.pacing import Pace

R = 40.0  # the account's MaxSendRate
HEADROOM = 0.97  # the send loop paces 3% under the limit


class SimulatedSes:
    """SES's rate limit as a sliding one-second window, plus throttling at random."""

    def __init__(self, limit: Callable[[float], float], random_share: float = 0.0, seed: int = 7):
        self.limit = limit
        self.random_share = random_share
        self.random = random.Random(seed)
        self.accepted: deque[float] = deque()
        self.requests = self.throttled = 0

    def send(self, now: float) -> bool:
        self.requests += 1
        while self.accepted and self.accepted[0] <= now - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.limit(now) or self.random.random() < self.random_share:
            self.throttled += 1
            return False
        self.accepted.append(now)
        return True


def run(ses: SimulatedSes, seconds: float, rate: float = R * HEADROOM) -> list[float]:
    """Send as fast as the pace allows for `seconds`; the times of the accepted requests."""
    now = [0.0]
    pace = Pace(rate, clock=lambda: now[0])
    sent: list[float] = []
    while now[0] < seconds:
        now[0] += pace.reserve()
        if ses.send(now[0]):
            sent.append(now[0])
            pace.succeeded()
        else:
            pace.throttled()
    return sent


def per_second(sent: list[float], start: float, end: float) -> float:
    return sum(start <= t < end for t in sent) / (end - start)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sporadic_throttling_costs_about_what_it_takes(seed: int) -> None:
    ses = SimulatedSes(lambda t: R, random_share=0.03, seed=seed)
    sent = run(ses, 120)
    assert per_second(sent, 10, 120) >= 0.9 * R


@pytest.mark.parametrize("share", [0.15, 0.3])
@pytest.mark.parametrize("seed", [1, 2])
def test_heavier_random_throttling_never_pins_the_pace_to_its_floor(
    share: float, seed: int
) -> None:
    ses = SimulatedSes(lambda t: R, random_share=share, seed=seed)
    sent = run(ses, 120)
    # A share refused whatever the pace: at best (1 - share) of the rate gets through.
    assert per_second(sent, 10, 120) >= 0.75 * R * (1 - share)


def test_another_sender_taking_half_the_account_is_found_and_kept() -> None:
    ses = SimulatedSes(lambda t: R / 2)
    sent = run(ses, 120)
    assert per_second(sent, 10, 120) >= 0.85 * R / 2
    assert ses.throttled / ses.requests < 0.05


def test_after_a_throttling_storm_the_pace_is_back_within_ten_seconds() -> None:
    ses = SimulatedSes(lambda t: 0 if 20 <= t < 30 else R)
    sent = run(ses, 60)
    assert per_second(sent, 10, 20) >= 0.9 * R
    assert per_second(sent, 38, 40) >= 0.9 * R  # within 10 s of the storm's end
    assert per_second(sent, 40, 60) >= 0.9 * R


def test_room_that_opens_up_is_found_again() -> None:
    ses = SimulatedSes(lambda t: R / 2 if t < 30 else R)  # the other sender finishes at 30 s
    sent = run(ses, 90)
    assert per_second(sent, 60, 90) >= 0.9 * R


def test_a_new_limit_caps_the_pace_at_once() -> None:
    now = [0.0]
    pace = Pace(40.0, clock=lambda: now[0])
    pace.set_limit(10.0)
    assert pace.rate == 10.0
    assert pace.reserve() == 0.0 and pace.reserve() == pytest.approx(0.1)


def test_a_burst_of_throttles_is_one_overload_judged_once_per_window() -> None:
    """Sixteen workers throttled at the same moment change the rate once, not sixteen
    times, and never more often than once a window."""
    now = [100.0]
    pace = Pace(14.0, clock=lambda: now[0])
    for _ in range(4):
        pace.succeeded()
    now[0] += 1.0
    for _ in range(16):
        pace.throttled()
    assert pace.throttles == 16
    cut = pace.rate
    assert 14.0 * 0.5 <= cut < 14.0
    for _ in range(16):
        pace.throttled()
    assert pace.rate == cut


class SharedSes(SimulatedSes):
    """An account of `limit` per second that another client shares, sending `other` per
    second evenly and never backing off: its requests take their places in the window too."""

    def __init__(self, limit: float, other: float) -> None:
        super().__init__(lambda t: limit)
        self.other, self.next_other = other, -1.0
        self.other_accepted = 0

    def send(self, now: float) -> bool:
        while self.next_other <= now:
            at, self.next_other = self.next_other, self.next_other + 1.0 / self.other
            while self.accepted and self.accepted[0] <= at - 1.0:
                self.accepted.popleft()
            if len(self.accepted) < self.limit(at):
                self.accepted.append(at)
                self.other_accepted += 1
        return super().send(now)


def run_workers(
    ses: SimulatedSes, seconds: float, workers: int = 8, latency: float = 0.02
) -> list[float]:
    """The send loop's shape on the simulated clock: `workers` each wait for a slot, send,
    and hear the answer `latency` later; the times of the accepted requests."""
    now = [0.0]
    pace = Pace(R * HEADROOM, clock=lambda: now[0])
    answers: list[tuple[float, bool] | None] = [None] * workers  # (when heard, accepted)
    sent: list[float] = []
    step = 0.002
    while now[0] < seconds:
        for n, answer in enumerate(answers):
            if answer is not None and answer[0] <= now[0]:
                pace.succeeded() if answer[1] else pace.throttled()
                answers[n] = None
            if answers[n] is None and pace.take() == 0.0:
                accepted = ses.send(now[0])
                if accepted:
                    sent.append(now[0])
                answers[n] = (now[0] + latency, accepted)
        now[0] += step
    return sent


def test_workers_waiting_through_a_storm_follow_the_pace_back_up() -> None:
    """Eight workers waiting for slots while the pace is slowest: the rate that climbs
    after the storm counts for them at once, not after the slots they would have booked."""
    ses = SimulatedSes(lambda t: 0 if 20 <= t < 30 else R)
    sent = run_workers(ses, 50)
    assert per_second(sent, 10, 20) >= 0.9 * R
    assert per_second(sent, 34, 50) >= 0.9 * R  # seconds after the storm, not ten


@pytest.mark.parametrize("workers", [1, 8])
def test_a_client_that_never_backs_off_keeps_its_half(workers: int) -> None:
    """Another client sends half the account's rate and never backs off: we take the
    half it leaves, throttled rarely, and do not crowd it out."""
    ses = SharedSes(R, R / 2)
    sent = run_workers(ses, 60, workers=workers)
    assert per_second(sent, 5, 60) >= 0.85 * R / 2
    assert ses.throttled / ses.requests < 0.05
    assert ses.other_accepted / 60 >= 0.85 * R / 2
