"""The dry run: every message is built and counted, nothing leaves (`send --dry-run`)."""

from __future__ import annotations

import uuid

from pipeline.delivery.transports.base import Gate, Quota, open_gate
from pipeline.delivery.transports.ses import build_request
from pipeline.issue.message import Message


class DryRunTransport:
    """Renders and logs every message without calling SES (`send --dry-run`)."""

    name = "dry run"

    def __init__(self) -> None:
        self.sent = 0

    def quota(self) -> Quota | None:
        return None

    def send(self, message: Message, tags: dict[str, str], *, gate: Gate | None = None) -> str:
        # Build the request SES would get: a message that cannot be written fails here too.
        build_request(message, tags)
        open_gate(gate)
        self.sent += 1
        return f"dry-run-{uuid.uuid4().hex}"
