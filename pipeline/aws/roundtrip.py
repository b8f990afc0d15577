"""`doctor --round-trip`: one message each to SES's mailbox simulator, through the
configuration set, and the wait until their Delivery, Bounce and Complaint events have
come back through the wiring (SNS to `serve`, or SQS to `events poll`) and been recorded.

The simulator's addresses are never anyone's: their events suppress nobody and count in no
report (`feedback.eventstore`), and the round trip deletes the events it waited for, so
what is left is the doctor's own log line.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from pipeline.aws.clients import Aws, AwsError, call
from pipeline.db import Store
from pipeline.db.schema import events
from pipeline.delivery.transports.ses import encode_address
from pipeline.errors import ConfigError
from pipeline.feedback import ingest
from pipeline.feedback.eventstore import SIMULATOR_DOMAIN
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# The simulator's mailbox and the event that proves its message came back.
MAILBOXES: Final = {
    "success": "Delivery",
    "bounce": "Bounce",
    "complaint": "Complaint",
}
TAG: Final = "newsletter-doctor"


@dataclass
class Trip:
    address: str
    expected: str
    message_id: str
    seconds: float | None = None  # from the send until the event was recorded


def round_trip(
    settings: Settings,
    aws: Aws,
    store: Store,
    *,
    timeout: float = 120.0,
    poll: float = 0.5,
    progress: Callable[[str], None] = lambda line: None,
) -> list[Trip]:
    """Send, wait (at most `timeout` seconds, a progress line each second), clean up.
    The trips whose `seconds` is None did not come back in time.

    With `events_queue_url` set, the wait drains that queue as `events poll` does (any
    other event in it is recorded as usual), so a set-up without `serve` is proved too."""
    if not settings.configuration_set:
        raise ConfigError(
            "configuration_set is not set: SES would publish no event",
            hint="run `newsletter aws setup` first",
        )
    run = uuid.uuid4().hex[:12]
    sender = encode_address(settings.from_address, "From")
    trips: list[Trip] = []
    started = time.monotonic()
    for mailbox, expected in MAILBOXES.items():
        address = f"{mailbox}@{SIMULATOR_DOMAIN}"
        answer = call(
            aws.ses,
            "ses:SendEmail",
            FromEmailAddress=sender,
            Destination={"ToAddresses": [address]},
            Content={
                "Simple": {
                    "Subject": {"Data": "newsletter doctor: round trip", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": f"round trip {run}\n", "Charset": "UTF-8"}},
                }
            },
            ConfigurationSetName=settings.configuration_set,
            EmailTags=[{"Name": TAG, "Value": run}],
        )
        trips.append(Trip(address, expected, str(answer["MessageId"])))
        progress(f"sent to {address} ({answer['MessageId']})")
    drain = _drainer(settings, aws, store)
    try:
        _wait(store, trips, started, timeout, poll, progress, drain)
    finally:
        ids = [trip.message_id for trip in trips]
        with store.begin() as tx:
            tx.conn.execute(sa.delete(events).where(events.c.message_id.in_(ids)))
    log.info("doctor round trip %s: %s", run, ", ".join(map(_took, trips)))
    return trips


def _drainer(settings: Settings, aws: Aws, store: Store) -> Callable[[], None]:
    queue = settings.events_queue_url
    if not queue:
        return lambda: None

    def drain() -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            report = ingest.poll(store, queue, client=aws.sqs, wait_seconds=0, once=True)
        except (BotoCoreError, ClientError) as exc:
            raise AwsError(
                f"cannot read the events queue {queue}: {exc}",
                hint="the credentials need sqs:ReceiveMessage and sqs:DeleteMessage on it",
            ) from None
        for _line, reason in report.invalid:
            log.warning("events queue: %s", reason)

    return drain


def _took(trip: Trip) -> str:
    return f"{trip.expected} " + ("missing" if trip.seconds is None else f"{trip.seconds:.1f} s")


def _wait(
    store: Store,
    trips: list[Trip],
    started: float,
    timeout: float,
    poll: float,
    progress: Callable[[str], None],
    drain: Callable[[], None],
) -> None:
    said = 0.0
    while True:
        waiting = [trip for trip in trips if trip.seconds is None]
        if not waiting:
            return
        drain()
        with store.begin(write=False) as tx:
            found = {
                (row.message_id, row.event_type)
                for row in tx.conn.execute(
                    sa.select(events.c.message_id, events.c.event_type).where(
                        events.c.message_id.in_([t.message_id for t in waiting])
                    )
                )
            }
        elapsed = time.monotonic() - started
        for trip in waiting:
            if (trip.message_id, trip.expected) in found:
                trip.seconds = elapsed
                progress(f"{trip.expected} from {trip.address} after {elapsed:.1f} s")
        if all(trip.seconds is not None for trip in trips):
            return
        if elapsed >= timeout:
            return
        if elapsed - said >= 1.0:
            said = elapsed
            names = ", ".join(t.expected for t in trips if t.seconds is None)
            progress(f"waiting for {names} ({elapsed:.0f} s of {timeout:.0f})")
        time.sleep(poll)
