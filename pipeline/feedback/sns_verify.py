"""Verifying SNS messages and confirming subscriptions (see `sns.py` for the checks).

Nothing in a posted message is believed until `SnsVerifier.verify` has checked it, and only
a `VerifiedMessage` may lead to a fetch (`confirm_subscription`).
"""

from __future__ import annotations

import base64
import binascii
import functools
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

from pipeline.errors import ConfigError
from pipeline.feedback.sns import DEFAULT_CERT_HOST_PATTERN, SnsError, SnsMessage
from pipeline.text import shown

if TYPE_CHECKING:
    from pipeline.settings import Settings

log = logging.getLogger(__name__)

MAX_FETCH_BYTES = 64 * 1024  # a signing certificate is ~2 KiB


FETCH_TIMEOUT = 10.0  # SNS gives up on our answer after about 15 s


FUTURE_SKEW = 300.0  # seconds a Timestamp may be ahead of our clock


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


# RFC 3986 characters only: no spaces, backslashes or controls that parsers read differently.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


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
        return f"{what} {shown(url)} has characters a URL may not contain"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"{what} {shown(url)} is not https"
    if "@" in parts.netloc:
        return f"{what} {shown(url)} carries user info"
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return f"{what} {shown(url)} has an invalid port"
    host = parts.hostname or ""
    if not hosts.fullmatch(host):
        return f"{what} host {shown(host)} is not trusted (sns_cert_host_pattern)"
    if parts.fragment:
        return f"{what} {shown(url)} has a fragment"
    if pem and (parts.query or not parts.path.endswith(".pem")):
        return f"{what} {shown(url)} is not a .pem file"
    return None


@functools.cache
def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """One verifying context per bundle and process (reading a bundle takes 25-50 ms; a
    context is safe to share between threads). A bundle that fails is not remembered."""
    return ssl.create_default_context(cafile=ca_bundle)


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
        context = _tls_context(ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"sns_ca_bundle {ca_bundle}: cannot load it ({exc})") from None
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), _RefuseRedirects()
    )

    def fetch(url: str) -> bytes:
        if urlsplit(url).scheme != "https":
            raise SnsError(f"refusing to fetch {shown(url)}: not https", status=403)
        request = urllib.request.Request(url, headers={"User-Agent": "newsletter-sns/1"})
        try:
            with opener.open(request, timeout=timeout) as response:
                body: bytes = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            status = 503 if exc.code >= 500 else 403
            raise SnsError(f"GET {shown(url)} answered HTTP {exc.code}", status=status) from None
        except (OSError, ValueError) as exc:  # URLError, TLS, timeouts, bad URLs
            reason = getattr(exc, "reason", exc)
            raise SnsError(f"GET {shown(url)} failed: {reason}", status=503) from None
        if len(body) > max_bytes:
            raise SnsError(f"GET {shown(url)}: more than {max_bytes} bytes", status=403)
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
                f"unsupported SignatureVersion {shown(message.signature_version)} "
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
                f"SNS topic {shown(message.topic_arn)} is not in sns_topic_arns",
                status=403,
            )

    def _check_age(self, message: SnsMessage) -> None:
        age = self.clock() - message.sent_at.timestamp()
        if age > self.max_age:
            raise SnsError(
                f"SNS message {shown(message.message_id)} is stale: sent {age:.0f} s ago, "
                f"more than {self.max_age:.0f} s",
                status=403,
            )
        if age < -FUTURE_SKEW:
            raise SnsError(
                f"SNS message {shown(message.message_id)} is dated {-age:.0f} s in the future",
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
            raise SnsError(f"{shown(url)} is not a PEM certificate", status=403) from None
        with self._lock:
            self._certificates[url] = certificate
            while len(self._certificates) > self._max_certificates:
                self._certificates.popitem(last=False)
        log.info("SNS signing certificate %s loaded", url)
        return certificate

    def _check_validity(self, certificate: x509.Certificate, url: str) -> None:
        now = datetime.fromtimestamp(self.clock(), UTC)
        if now < certificate.not_valid_before_utc:
            raise SnsError(f"signing certificate {shown(url)} is not valid yet", status=403)
        if now > certificate.not_valid_after_utc:
            raise SnsError(
                f"signing certificate {shown(url)} expired on "
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
                f"SNS message {shown(message.message_id)}: the signature does not match",
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
