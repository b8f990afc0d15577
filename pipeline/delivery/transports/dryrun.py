"""The dry run: every message is built and counted, nothing leaves (`send --dry-run`)."""

from __future__ import annotations

import uuid

from pipeline.delivery.transports.base import Gate, Quota, open_gate
from pipeline.issue.message import Message


class DryRunTransport:
    """Renders and logs every message without calling SES (`send --dry-run`)."""

    name = "dry run"

    def __init__(self) -> None:
        self.sent = 0

    def quota(self) -> Quota | None:
        return None

    def send(self, message: Message, tags: dict[str, str], *, gate: Gate | None = None) -> str:
        open_gate(gate)
        # Touch the whole message, as a transport would when serialising it.
        self.sent += len(message.html) > 0
        return f"dry-run-{uuid.uuid4().hex}"
