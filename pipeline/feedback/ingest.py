"""SES events, whichever way they arrive (SNS push, SQS poll, a saved file): parse them and
apply what they mean to the subscriber store.

A permanent bounce marks the address `bounced`, a complaint `complained`: both stop all
mail to it at once. A transient bounce is counted; an address that soft-bounces on three
campaigns in a row becomes `bounced` too. The same event twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.feedback import jsondoc
from pipeline.feedback.eventstore import EventStore, RecordedEvent, SesEvent
from pipeline.text import shown

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1024 * 1024  # an SNS envelope is at most 256 KiB, about 1 MiB escaped

# SES event publishing says `eventType`; classic SNS notifications say `notificationType`.
_DETAIL_KEY = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "DeliveryDelay": "deliveryDelay",
    "Open": "open",
    "Click": "click",
    "Rendering Failure": "failure",
    "RenderingFailure": "failure",
    "Subscription": "subscription",
}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def unwrap(document: Any) -> dict[str, Any] | None:
    """The SES event inside an SNS envelope, or a bare SES event as it is. None for SNS
    messages that carry no event (subscription confirmations)."""
    if not isinstance(document, dict):
        raise InputError("not a JSON object")
    if "Type" in document and "TopicArn" in document:  # an SNS envelope
        if document["Type"] != "Notification":
            return None
        inner_text = document.get("Message")
        if not isinstance(inner_text, str):
            raise InputError("the SNS Message is missing or not a string")
        try:
            inner = jsondoc.load(inner_text)
        except jsondoc.JsonRefused as exc:
            raise InputError(f"the SNS Message is not JSON: {exc.reason}") from None
        return unwrap(inner)
    if "eventType" in document or "notificationType" in document:
        return document
    raise InputError("neither an SNS notification nor an SES event (no eventType)")


def _object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (events are read defensively)."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _tags(value: Any) -> dict[str, str]:
    """`mail.tags` ({name: [value, ...]}) as one value a name."""
    tags = {}
    for name, values in _object(value).items():
        first = values[0] if isinstance(values, list) and values else values
        if isinstance(first, str):
            tags[str(name)] = first
    return tags


def parse(event: dict[str, Any]) -> SesEvent:
    """An SES event (event publishing or classic notification) as the store records it."""
    kind = event.get("eventType") or event.get("notificationType")
    if not isinstance(kind, str) or kind not in _DETAIL_KEY:  # a list or dict is unhashable
        raise InputError(f"unknown SES event type {shown(kind, 60)}")
    kind = "RenderingFailure" if kind == "Rendering Failure" else kind
    mail = _object(event.get("mail"))
    detail = _object(event.get(_DETAIL_KEY[kind]))
    recipients: list[str] = []
    bounce_type = bounce_subtype = note = None
    if kind == "Bounce":
        bounce_type = str(detail.get("bounceType") or "Undetermined")
        bounce_subtype = str(detail.get("bounceSubType") or "")
        bounced = _objects(detail.get("bouncedRecipients"))
        recipients = [str(r.get("emailAddress", "")) for r in bounced]
        note = (
            "; ".join(str(r.get("diagnosticCode")) for r in bounced if r.get("diagnosticCode"))
            or None
        )
    elif kind == "Complaint":
        complained = _objects(detail.get("complainedRecipients"))
        recipients = [str(r.get("emailAddress", "")) for r in complained]
        note = detail.get("complaintFeedbackType")
    elif kind == "Click":
        note = detail.get("link")
    elif kind == "Reject":
        note = detail.get("reason")
    elif kind == "DeliveryDelay":
        note = detail.get("delayType")
    elif kind == "RenderingFailure":
        note = detail.get("errorMessage")
    if not recipients:
        destination = mail.get("destination")
        if isinstance(destination, list):
            recipients = [r for r in destination if isinstance(r, str)]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        encoded = canonical.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a caller that skipped jsondoc
        raise InputError("the event holds a string that is not valid Unicode") from None
    return SesEvent(
        key=hashlib.sha256(encoded).hexdigest(),
        event_type=kind,
        message_id=str(mail["messageId"]) if mail.get("messageId") else None,
        recipients=[r for r in recipients if r],
        bounce_type=bounce_type,
        bounce_subtype=bounce_subtype,
        detail=str(note) if note is not None else None,
        occurred_at=_time(detail.get("timestamp")) or _time(mail.get("timestamp")),
        tags=_tags(mail.get("tags")),
    )


def process(store: Store, document: Any) -> RecordedEvent | None:
    """Record one SES event (an SNS envelope or a bare event) and apply its effects."""
    event = unwrap(document)
    if event is None:
        return None
    return EventStore(store).record(parse(event))


@dataclass
class IngestReport:
    recorded: int = 0
    duplicates: int = 0
    unmatched: int = 0
    skipped: int = 0  # SNS messages that carry no event
    invalid: list[tuple[int, str]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def add(self, result: RecordedEvent | None) -> None:
        if result is None:
            self.skipped += 1
        elif result.duplicate:
            self.duplicates += 1
        else:
            self.recorded += 1
            self.unmatched += not result.matched
            self.changes.extend(result.changes)

    def summary(self) -> str:
        return (
            f"{self.recorded} event(s) recorded ({self.unmatched} for unknown messages), "
            f"{self.duplicates} duplicate(s), {self.skipped} without an event, "
            f"{len(self.invalid)} invalid"
        )


class _LongLine(Exception):
    pass


def _lines(path: Path) -> Iterator[tuple[int, bytes | _LongLine]]:
    """Each line's bytes, or _LongLine for one over MAX_LINE_BYTES (skipped without ever
    holding it whole: one endless line must not take all memory)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file of events") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    with handle:
        number = 0
        while raw := handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
                yield number, raw
                continue
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield number, _LongLine()


def ingest(store: Store, path: Path) -> IngestReport:
    """Events saved one JSON document a line (SNS envelopes or bare SES events). The
    operator's own file is trusted: no signature check. Each event is its own transaction;
    bad lines are reported with their numbers and skipped, so a rerun is safe."""
    report = IngestReport()
    for number, line in _lines(path):
        if isinstance(line, _LongLine):
            report.invalid.append((number, f"longer than {MAX_LINE_BYTES // 1024} KiB"))
            continue
        if not line.strip():
            continue
        try:
            report.add(process(store, jsondoc.load(line)))
        except jsondoc.JsonRefused as exc:
            report.invalid.append((number, f"not JSON: {exc.reason}"))
        except InputError as exc:
            report.invalid.append((number, exc.message))
    return report


def poll(
    store: Store,
    queue_url: str,
    *,
    client: Any = None,
    wait_seconds: int = 20,
    once: bool = False,
    on_batch: Callable[[IngestReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> IngestReport:
    """Pull events from an SQS queue (subscribed to the SES topic), process them, and
    delete each message only after its event is committed."""
    if client is None:
        import boto3

        client = boto3.client("sqs")
    report = IngestReport()
    while not should_stop():
        response = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = response.get("Messages", [])
        done: list[dict[str, str]] = []
        for message in messages:
            try:
                body = message.get("Body")
                if not isinstance(body, str):
                    raise InputError("no message body")
                report.add(process(store, jsondoc.load(body)))
            except (jsondoc.JsonRefused, InputError) as exc:
                # Left in the queue: after its retries SQS moves it to the dead-letter queue.
                reason = exc.message if isinstance(exc, InputError) else f"not JSON: {exc.reason}"
                report.invalid.append((0, f"SQS message {message.get('MessageId')}: {reason}"))
                continue
            done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        if done:
            client.delete_message_batch(QueueUrl=queue_url, Entries=done)
        if on_batch:
            on_batch(report)
        if once and not messages:
            break
    return report


def record_all(store: Store, documents: Iterable[Any]) -> IngestReport:
    report = IngestReport()
    for document in documents:
        report.add(process(store, document))
    return report
