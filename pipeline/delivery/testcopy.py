"""Test copies (`newsletter send-test`): the issue to any address, subscriber or not, with
[TEST] in the subject, logged apart from campaigns and checked address by address before
anything is sent."""

from __future__ import annotations

import time

from pipeline.audience.addresses import normalise_email
from pipeline.audience.tokens import make_test_token, unsubscribe_url
from pipeline.db import Store
from pipeline.delivery.sendlog import SendLog
from pipeline.delivery.transports.base import SendFailure, Transport
from pipeline.errors import InputError
from pipeline.issue.message import WIRE, Addressee, personalise
from pipeline.issue.render import Rendered
from pipeline.retry import RetryPolicy
from pipeline.settings import Settings
from pipeline.text import CONTROLS

# Someone is waiting at the terminal and there is no shared pace to wait for: throttling
# backs off like a 5xx, five tries in all (at most about 15 s of waiting).
RETRY = RetryPolicy(max_delay=8.0, backoff=frozenset({"throttle", "transient"}), paced=frozenset())


def send_test(
    store: Store,
    settings: Settings,
    rendered: Rendered,
    transport: Transport,
    addresses: list[str],
    retry: RetryPolicy = RETRY,
) -> list[tuple[str, str | None, str | None]]:
    """A test copy to each address (subscriber or not), subject prefixed [TEST], logged
    apart from campaigns. Returns (address, message id, error) per address."""
    sendlog = SendLog(store)
    # A signed test token: the tester's link works and unsubscribes nobody (tokens.py).
    secret = settings.require_secret_key()
    link = unsubscribe_url(settings.public_url, make_test_token(secret, rendered.issue.number))
    recipients = parse_test_addresses(addresses, link)
    results = []
    for recipient in recipients:
        address = recipient.email
        message = personalise(rendered, recipient, settings, subject_prefix="[TEST] ")
        message_id: str | None = None
        error: str | None = None
        tries = retry.start()
        while True:
            try:
                message_id = transport.send(message, {"campaign": f"test-{rendered.issue.number}"})
                error = None
                break
            except SendFailure as failure:
                error = failure.reason
                if (wait := tries.after(failure.kind)) is None:
                    break
                time.sleep(wait)
        sendlog.record_test_send(rendered.issue.number, address, message_id=message_id, error=error)
        results.append((address, message_id, error))
    return results


def parse_test_addresses(addresses: list[str], unsubscribe: str = "") -> list[Addressee]:
    """`a@example.com` or `Name <a@example.com>`, each checked before anything is sent: a
    malformed address would otherwise go out as a mangled one. Parsed by the same header
    machinery that writes the To header; one address per --to, on one line."""
    recipients: list[Addressee] = []
    problems: list[str] = []
    for address in addresses:
        if CONTROLS.search(address):
            problems.append(f"{address[:80]!r}: a line break or control character in it")
            continue
        parsed = WIRE.header_factory("To", address).addresses
        if len(parsed) > 1:
            problems.append(f"{address[:80]!r} holds {len(parsed)} addresses; give one per --to")
            continue
        name, email = (parsed[0].display_name, parsed[0].addr_spec) if parsed else ("", "")
        try:
            valid = normalise_email(email if "@" in email else address)
        except InputError as exc:
            problems.append(exc.message)
            continue
        recipients.append(Addressee(valid.email, name, unsubscribe))
    if problems:
        raise InputError(
            "; ".join(problems) + "; no test copy sent",
            hint="give addresses like a@example.com or 'Name <a@example.com>'",
        )
    return recipients
