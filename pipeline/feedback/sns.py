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

import base64
import binascii
import json
import logging
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pipeline.errors import ConfigError, NewsletterError

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_CERT_HOST_PATTERN = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
MAX_ENVELOPE_BYTES = 1024 * 1024  # SNS messages are at most 256 KiB; JSON escaping inflates
MAX_FETCH_BYTES = 64 * 1024  # a signing certificate is ~2 KiB
FETCH_TIMEOUT = 10.0  # SNS gives up on our answer after about 15 s
FUTURE_SKEW = 300.0  # seconds a Timestamp may be ahead of our clock

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
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
# RFC 3986 characters only: no spaces, backslashes or controls that parsers read differently.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


class SnsError(NewsletterError):
    """An SNS request we refuse; `status` is the HTTP answer the endpoint should give."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


def _show(value: object, limit: int = 120) -> str:
    """An untrusted value, quoted and cut short, safe to put in a log line or a 403 body."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnsError(f"not an SNS message: invalid JSON ({exc})", status=400) from None
    if not isinstance(document, dict):
        raise SnsError("not an SNS message: the body is not a JSON object", status=400)
    kind = document.get("Type")
    if kind not in MESSAGE_TYPES:
        raise SnsError(f"unknown SNS message Type {_show(kind)}", status=400)
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
        raise SnsError(f"malformed SNS Timestamp {_show(document['Timestamp'])}") from None
    values: dict[str, Any] = {}
    for key, attribute in _ENVELOPE_FIELDS.items():
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise SnsError(f"malformed SNS {kind}: {key} is not a string", status=400)
        values[attribute] = value
    return SnsMessage(**values)


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """Proof that `message` passed `SnsVerifier.verify` (only verify should build one).

    `replay` is True when this MessageId was already verified recently (see the module doc).
    `trusted_hosts` is the host pattern it was verified under; `confirm_subscription` applies
    it to the SubscribeURL.
    """

    message: SnsMessage
    replay: bool
    trusted_hosts: re.Pattern[str] = field(repr=False)


def _trusted_url(url: str, hosts: re.Pattern[str], *, what: str, pem: bool) -> str | None:
    """Why `url` may not be fetched, or None when it may."""
    if not _URL_CHARS.fullmatch(url):
        return f"{what} {_show(url)} has characters a URL may not contain"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"{what} {_show(url)} is not https"
    if "@" in parts.netloc:
        return f"{what} {_show(url)} carries user info"
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return f"{what} {_show(url)} has an invalid port"
    host = parts.hostname or ""
    if not hosts.fullmatch(host):
        return f"{what} host {_show(host)} is not trusted (sns_cert_host_pattern)"
    if parts.fragment:
        return f"{what} {_show(url)} has a fragment"
    if pem and (parts.query or not parts.path.endswith(".pem")):
        return f"{what} {_show(url)} is not a .pem file"
    return None


def https_fetcher(
    ca_bundle: str | None = None,
    *,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = MAX_FETCH_BYTES,
) -> Callable[[str], bytes]:
    """A GET for https URLs only: verified TLS (`ca_bundle`, default the system's), no
    redirects, `timeout` seconds per socket operation, at most `max_bytes` of body.

    Raises SnsError 403 when the server refuses (4xx, a redirect, too big) and 503 when it
    cannot be reached (network, TLS, timeout, 5xx): SNS retries those.
    """
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"sns_ca_bundle {ca_bundle}: cannot load it ({exc})") from None
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _RefuseRedirects()
    )

    def fetch(url: str) -> bytes:
        if urlsplit(url).scheme != "https":
            raise SnsError(f"refusing to fetch {_show(url)}: not https", status=403)
        request = urllib.request.Request(url, headers={"User-Agent": "newsletter-sns/1"})
        try:
            with opener.open(request, timeout=timeout) as response:
                body: bytes = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            status = 503 if exc.code >= 500 else 403
            raise SnsError(f"GET {_show(url)} answered HTTP {exc.code}", status=status) from None
        except (OSError, ValueError) as exc:  # URLError, TLS, timeouts, bad URLs
            reason = getattr(exc, "reason", exc)
            raise SnsError(f"GET {_show(url)} failed: {reason}", status=503) from None
        if len(body) > max_bytes:
            raise SnsError(f"GET {_show(url)}: more than {max_bytes} bytes", status=403)
        return body

    return fetch


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """SNS never redirects; following one would leave the host we checked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class SnsVerifier:
    """Checks SNS messages (see the module doc). Thread-safe; keep one per process so the
    certificate cache and the replay set are shared."""

    def __init__(
        self,
        topic_arns: Iterable[str],
        *,
        cert_host_pattern: str = DEFAULT_CERT_HOST_PATTERN,
        ca_bundle: str | None = None,
        fetch: Callable[[str], bytes] | None = None,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.time,
        max_certificates: int = 32,
        remember: int = 10_000,
    ) -> None:
        self.topic_arns = frozenset(topic_arns)
        self.trusted_hosts = re.compile(cert_host_pattern)
        self.fetch = fetch or https_fetcher(ca_bundle)
        self.max_age = max_age
        self.clock = clock
        self._max_certificates = max_certificates
        self._remember = remember
        self._certificates: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SnsVerifier:
        return cls(
            settings.sns_topic_arns,
            cert_host_pattern=settings.sns_cert_host_pattern,
            ca_bundle=settings.sns_ca_bundle,
            **kwargs,
        )

    def verify(self, message: SnsMessage) -> VerifiedMessage:
        """Check `message`; SnsError 403 (503 when the certificate cannot be reached)."""
        self._check_topic(message)
        algorithm = _HASHES.get(message.signature_version)
        if algorithm is None:
            raise SnsError(
                f"unsupported SignatureVersion {_show(message.signature_version)} "
                "(expected 1 or 2)",
                status=403,
            )
        problem = _trusted_url(
            message.signing_cert_url, self.trusted_hosts, what="SigningCertURL", pem=True
        )
        if problem:
            raise SnsError(problem, status=403)
        self._check_age(message)
        certificate = self._certificate(message.signing_cert_url)
        self._check_validity(certificate, message.signing_cert_url)
        self._check_signature(message, certificate, algorithm())
        return VerifiedMessage(message, self._remember_id(message.message_id), self.trusted_hosts)

    def _check_topic(self, message: SnsMessage) -> None:
        if not self.topic_arns:
            raise SnsError(
                "no SNS topic is trusted, so every message is refused: configure "
                "sns_topic_arns with the ARN of the topic SES publishes to",
                status=403,
            )
        if message.topic_arn not in self.topic_arns:
            raise SnsError(
                f"SNS topic {_show(message.topic_arn)} is not in sns_topic_arns", status=403
            )

    def _check_age(self, message: SnsMessage) -> None:
        age = self.clock() - message.sent_at.timestamp()
        if age > self.max_age:
            raise SnsError(
                f"SNS message {_show(message.message_id)} is stale: sent {age:.0f} s ago, "
                f"more than {self.max_age:.0f} s",
                status=403,
            )
        if age < -FUTURE_SKEW:
            raise SnsError(
                f"SNS message {_show(message.message_id)} is dated {-age:.0f} s in the future",
                status=403,
            )

    def _certificate(self, url: str) -> x509.Certificate:
        with self._lock:
            cached = self._certificates.get(url)
            if cached is not None:
                self._certificates.move_to_end(url)
                return cached
        # Fetched outside the lock: a slow host must not stall other requests. Two requests
        # racing on a cold cache may both fetch; both get the same certificate.
        try:
            pem = self.fetch(url)
        except SnsError as exc:
            raise SnsError(
                f"cannot get the signing certificate: {exc}", status=exc.status
            ) from None
        except OSError as exc:
            raise SnsError(f"cannot get the signing certificate: {exc}", status=503) from None
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise SnsError(f"{_show(url)} is not a PEM certificate", status=403) from None
        with self._lock:
            self._certificates[url] = certificate
            while len(self._certificates) > self._max_certificates:
                self._certificates.popitem(last=False)
        log.info("SNS signing certificate %s loaded", url)
        return certificate

    def _check_validity(self, certificate: x509.Certificate, url: str) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        if now < certificate.not_valid_before_utc:
            raise SnsError(f"signing certificate {_show(url)} is not valid yet", status=403)
        if now > certificate.not_valid_after_utc:
            raise SnsError(
                f"signing certificate {_show(url)} expired on "
                f"{certificate.not_valid_after_utc:%Y-%m-%d}",
                status=403,
            )

    def _check_signature(
        self, message: SnsMessage, certificate: x509.Certificate, algorithm: hashes.HashAlgorithm
    ) -> None:
        try:
            signature = base64.b64decode(message.signature, validate=True)
        except (binascii.Error, ValueError):
            raise SnsError("SNS Signature is not base64", status=403) from None
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsError("the signing certificate does not hold an RSA key", status=403)
        try:
            key.verify(signature, message.string_to_sign(), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise SnsError(
                f"SNS message {_show(message.message_id)}: the signature does not match",
                status=403,
            ) from None

    def _remember_id(self, message_id: str) -> bool:
        with self._lock:
            replay = message_id in self._seen
            self._seen[message_id] = None
            self._seen.move_to_end(message_id)
            while len(self._seen) > self._remember:
                self._seen.popitem(last=False)
        if replay:
            log.info("SNS message %s seen before (a retry or a replay)", message_id)
        return replay


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What `confirm_subscription` did: `confirmed` (SubscribeURL visited) or `ignored`."""

    action: Literal["confirmed", "ignored"]
    topic_arn: str
    detail: str


def confirm_subscription(
    verified: VerifiedMessage, *, fetch: Callable[[str], bytes]
) -> Confirmation:
    """For a verified SubscriptionConfirmation, GET its SubscribeURL (once per call).

    Only a `VerifiedMessage` is accepted, and the SubscribeURL must be https on a host the
    verifier trusts, so a forged message can never make us fetch a URL of its choosing.
    Confirming twice is harmless (AWS's ConfirmSubscription is idempotent), so a replayed
    confirmation is confirmed again rather than risk never confirming after a failed GET.
    SnsError 403 for an untrusted SubscribeURL, 503 when it cannot be reached.
    """
    if not isinstance(verified, VerifiedMessage):
        raise TypeError("confirm_subscription needs the VerifiedMessage from SnsVerifier.verify")
    message = verified.message
    if message.type != "SubscriptionConfirmation":
        return Confirmation("ignored", message.topic_arn, f"{message.type}: nothing to confirm")
    url = message.subscribe_url or ""
    problem = _trusted_url(url, verified.trusted_hosts, what="SubscribeURL", pem=False)
    if problem:
        raise SnsError(problem, status=403)
    try:
        fetch(url)
    except SnsError as exc:
        raise SnsError(f"cannot confirm the subscription: {exc}", status=exc.status) from None
    except OSError as exc:
        raise SnsError(f"cannot confirm the subscription: {exc}", status=503) from None
    log.info("confirmed the SNS subscription to %s", message.topic_arn)
    return Confirmation("confirmed", message.topic_arn, f"subscribed to {message.topic_arn}")


def ses_events(message: SnsMessage) -> dict[str, Any]:
    """The SES event a Notification carries (its Message is a JSON document). SnsError 400
    when it is not one: not JSON, not an object, or neither `eventType` (event publishing)
    nor `notificationType` (classic identity notifications)."""
    if message.type != "Notification":
        raise SnsError(f"an SNS {message.type} carries no SES event", status=400)
    try:
        event = json.loads(message.message)
    except ValueError:
        raise SnsError(
            f"SNS message {_show(message.message_id)}: Message is not JSON", status=400
        ) from None
    if not isinstance(event, dict):
        raise SnsError(
            f"SNS message {_show(message.message_id)}: Message is not a JSON object",
            status=400,
        )
    kind = event.get("eventType", event.get("notificationType"))
    if not isinstance(kind, str):
        raise SnsError(
            f"SNS message {_show(message.message_id)}: not an SES event "
            "(no eventType or notificationType)",
            status=400,
        )
    return event
