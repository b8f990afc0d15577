"""Amazon SNS messages for `POST /ses/events`: parse, verify, confirm subscriptions.

SES publishes its events to an SNS topic and SNS POSTs each one to us as a JSON envelope.
Anyone can POST to that URL, so nothing in a message is believed until `SnsVerifier.verify`
has checked, cheapest first:

1. the topic is one the publisher configured (`sns_topic_arns`);
2. SignatureVersion is "1" (SHA1withRSA) or "2" (SHA256withRSA);
3. SigningCertURL is https on a trusted host (`sns_cert_host_pattern`, a full match on the
   host name), with no userinfo, query or fragment, and a path ending in `.pem`; a valid
   explicit port is allowed (TLS must still prove the host; the tests need one). The
   signature does not cover this URL, so this check is what stops a forger from pointing us
   at a certificate of their own;
4. Timestamp is at most `max_age` seconds old (and not from the future);
5. the certificate (fetched once per URL over verified TLS, then cached) is valid now, and
   its RSA key verifies Signature over AWS's canonical "string to sign".

Replays. `verify` returns a `VerifiedMessage` whose `replay` flag says this MessageId was
already verified recently (a bounded in-memory LRU set). SNS itself redelivers a message with
the same MessageId whenever our answer was slow or a 5xx, so a replay is usually a retry, not
an attack: process it anyway (event processing is idempotent downstream) and use the flag for
logging. Signature + `max_age` + idempotency are the protection; the flag is a diagnostic.

This module parses envelopes and reads the SES event they carry; `sns_verify.py` holds the
verifier and the subscription confirmation.

Answers (`SnsError.status`): 400 malformed, 403 unsigned / untrusted / badly signed,
413 too large, 503 the certificate or SubscribeURL could not be reached (SNS retries 5xx,
never 4xx). Typical use in the endpoint (blocking I/O: run it in a worker thread):

    message = parse_envelope(body)
    verified = verifier.verify(message)
    if message.type == "SubscriptionConfirmation":
        confirm_subscription(verified, fetch=verifier.fetch)
    elif message.type == "Notification":
        event = ses_events(message)  # then record it, idempotently
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.errors import NewsletterError
from pipeline.feedback import jsondoc
from pipeline.text import shown

log = logging.getLogger(__name__)

DEFAULT_CERT_HOST_PATTERN = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
MAX_ENVELOPE_BYTES = 1024 * 1024  # SNS messages are at most 256 KiB; JSON escaping inflates

MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")

# AWS's "string to sign": these keys, in this (alphabetical) order, each key and value
# followed by "\n"; Subject only when present.
_SIGNED_KEYS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_SIGNED_KEYS["UnsubscribeConfirmation"] = _SIGNED_KEYS["SubscriptionConfirmation"]


class SnsError(NewsletterError):
    """An SNS request we refuse; `status` is the HTTP answer the endpoint should give."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


@dataclass(frozen=True, slots=True)
class SnsMessage:
    """One SNS envelope, as posted. Fields are the JSON's, in snake_case, unaltered."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: str
    signature_version: str
    signature: str
    signing_cert_url: str
    subscribe_url: str | None = None
    token: str | None = None
    subject: str | None = None
    unsubscribe_url: str | None = None

    @property
    def sent_at(self) -> datetime:
        """When SNS published it (parse_envelope already checked the format)."""
        return _parse_time(self.timestamp)

    def string_to_sign(self) -> bytes:
        """The canonical bytes SNS signed, exactly as AWS documents them."""
        values = {
            "Message": self.message,
            "MessageId": self.message_id,
            "Subject": self.subject,
            "SubscribeURL": self.subscribe_url,
            "Timestamp": self.timestamp,
            "Token": self.token,
            "TopicArn": self.topic_arn,
            "Type": self.type,
        }
        parts = []
        for key in _SIGNED_KEYS[self.type]:
            value = values[key]
            if value is not None:
                parts.append(f"{key}\n{value}\n")
        return "".join(parts).encode("utf-8")


_ENVELOPE_FIELDS = {
    "Type": "type",
    "MessageId": "message_id",
    "TopicArn": "topic_arn",
    "Message": "message",
    "Timestamp": "timestamp",
    "SignatureVersion": "signature_version",
    "Signature": "signature",
    "SigningCertURL": "signing_cert_url",
    "SubscribeURL": "subscribe_url",
    "Token": "token",
    "Subject": "subject",
    "UnsubscribeURL": "unsubscribe_url",
}
_REQUIRED = ("Type", "MessageId", "TopicArn", "Message", "Timestamp")
_REQUIRED_CONFIRMATION = ("SubscribeURL", "Token")
_SIGNATURE_FIELDS = ("SignatureVersion", "Signature", "SigningCertURL")


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)  # SNS: 2024-06-22T09:00:00.123Z
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


def parse_envelope(body: bytes) -> SnsMessage:
    """Read an SNS POST body. SnsError 413 too large, 400 malformed, 403 unsigned.

    Nothing here is trusted yet: pass the result to `SnsVerifier.verify`.
    """
    if len(body) > MAX_ENVELOPE_BYTES:
        raise SnsError(f"SNS message too large ({len(body)} bytes)", status=413)
    try:
        document = jsondoc.load(body)
    except jsondoc.JsonRefused as exc:
        raise SnsError(f"not an SNS message: invalid JSON ({exc.reason})", status=400) from None
    if not isinstance(document, dict):
        raise SnsError("not an SNS message: the body is not a JSON object", status=400)
    kind = document.get("Type")
    if kind not in MESSAGE_TYPES:
        raise SnsError(f"unknown SNS message Type {shown(kind)}", status=400)
    required = _REQUIRED + (_REQUIRED_CONFIRMATION if kind != "Notification" else ())
    missing = [key for key in required if not isinstance(document.get(key), str)]
    if missing:
        raise SnsError(f"malformed SNS {kind}: missing {', '.join(missing)}", status=400)
    unsigned = [key for key in _SIGNATURE_FIELDS if not isinstance(document.get(key), str)]
    if unsigned:
        raise SnsError(f"unsigned SNS {kind}: missing {', '.join(unsigned)}", status=403)
    try:
        _parse_time(document["Timestamp"])
    except ValueError:
        raise SnsError(f"malformed SNS Timestamp {shown(document['Timestamp'])}") from None
    values: dict[str, Any] = {}
    for key, attribute in _ENVELOPE_FIELDS.items():
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise SnsError(f"malformed SNS {kind}: {key} is not a string", status=400)
        values[attribute] = value
    return SnsMessage(**values)


def ses_events(message: SnsMessage) -> dict[str, Any]:
    """The SES event a Notification carries (its Message is a JSON document). SnsError 400
    when it is not one: not JSON, not an object, or neither `eventType` (event publishing)
    nor `notificationType` (classic identity notifications)."""
    if message.type != "Notification":
        raise SnsError(f"an SNS {message.type} carries no SES event", status=400)
    try:
        event = jsondoc.load(message.message)
    except jsondoc.JsonRefused as exc:
        raise SnsError(
            f"SNS message {shown(message.message_id)}: Message is not JSON ({exc.reason})",
            status=400,
        ) from None
    if not isinstance(event, dict):
        raise SnsError(
            f"SNS message {shown(message.message_id)}: Message is not a JSON object",
            status=400,
        )
    kind = event.get("eventType", event.get("notificationType"))
    if not isinstance(kind, str):
        raise SnsError(
            f"SNS message {shown(message.message_id)}: not an SES event "
            "(no eventType or notificationType)",
            status=400,
        )
    return event
