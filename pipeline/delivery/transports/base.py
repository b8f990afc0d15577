"""What every transport is: the `Transport` protocol the campaign loop talks to, and the
failures and quota it reports. A transport knows no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pipeline.issue.message import Message

Kind = Literal["throttle", "transient", "ambiguous", "permanent", "account"]


Gate = Callable[[], bool]


class NotSent(Exception):
    """The gate stayed closed (the campaign is stopping): the request never went out."""


def open_gate(gate: Gate | None) -> None:
    """For transports without a request hook: wait for the pace now."""
    if gate is not None and not gate():
        raise NotSent


class SendFailure(Exception):
    """Why one message was not sent; `kind` decides what the campaign loop does next."""

    def __init__(self, kind: Kind, reason: str) -> None:
        super().__init__(reason)
        self.kind: Kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Quota:
    sending_enabled: bool
    max_24_hour_send: float
    max_send_rate: float
    sent_last_24_hours: float

    @property
    def remaining_24h(self) -> float:
        return max(0.0, self.max_24_hour_send - self.sent_last_24_hours)


class Transport(Protocol):
    """What the campaign loop needs from a mail service: SES, a dry run or a test stub."""

    name: str

    def quota(self) -> Quota | None: ...

    def send(self, message: Message, tags: dict[str, str], *, gate: Gate | None = None) -> str:
        """Send one message; wait for `gate()` just before it goes out (NotSent if False)."""
        ...
