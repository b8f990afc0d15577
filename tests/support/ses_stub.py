"""A fault-injecting Amazon SES v2 (``sesv2``) stub server for tests and benchmarks.

It speaks the real sesv2 REST-JSON wire protocol, so an unmodified boto3 client works
against it::

    with SesStub(max_rate=14) as stub:
        ses = boto3.client("sesv2", region_name="us-east-1", endpoint_url=stub.endpoint_url,
                           aws_access_key_id="test", aws_secret_access_key="test")
        ses.send_email(...)
        assert stub.accepted_to("a@example.com")

Standard library only (fast to import from a benchmark subprocess), one thread per
keep-alive connection, no per-request logging, signatures are not checked.

Routes
    ``POST /v2/email/outbound-emails``  SendEmail -> 200 ``{"MessageId": ...}`` or a fault.
    ``GET  /v2/email/account``          GetAccount -> 200 ``stub.account`` (or 404 if None).
    ``GET  /_stub/stats``               (stub control) counts, requests, per-recipient counts.
    ``POST /_stub/config``              (stub control) JSON object of fault attributes to set;
                                        lets a test retune a stub running as a subprocess.
    anything else                       404 ``UnknownOperationException`` (JSON body), unless a
                                        subclass's ``_route`` answers it (``aws_stub.AwsStub``:
                                        the rest of SES v2, SNS and SQS).

Errors are sent the way AWS REST-JSON services send them: HTTP status, header
``x-amzn-ErrorType: <Code>`` and body ``{"message": "..."}``; botocore turns that into a
``ClientError`` whose ``response["Error"]["Code"]`` is ``<Code>`` (and the modeled
``client.exceptions.<Code>`` class where sesv2 models one).  Status codes follow botocore's
sesv2 model (TooManyRequestsException 429; SendingPausedException, AccountSuspendedException,
MessageRejected, LimitExceededException, BadRequestException 400).

SendEmail decision order (first match wins), for each request:

 0. the JSON body is validated -> ``BadRequestException`` (400) for invalid JSON, missing
    ``Content``, no recipients, more than 50 recipients or, with ``strict_addresses``
    (default), an address that is not 7-bit ASCII or has no ``@domain`` (SES documents that
    display names must be RFC 2047 encoded-words and domains Punycode);
 1. ``delay`` + uniform(0, ``delay_jitter``) seconds of sleep (outside the lock);
 2. ``script``: the next scripted outcome is consumed (see ``OUTCOMES``); ``"ok"`` means
    "no injected fault for this request, apply the rules below";
 3. ``drop_connection_every`` = k: every k-th SendEmail request gets its socket closed with no
    answer (botocore raises ``ConnectionClosedError``);
 4. ``suspended`` -> ``AccountSuspendedException``; ``paused`` -> ``SendingPausedException``;
 5. ``throttle_first`` > 0: answer ``TooManyRequestsException`` and decrement it (so setting it
    at runtime starts a new "throttling storm" of that many requests); ``storm_seconds`` = s:
    every SendEmail is throttled for the next s seconds (a storm by the clock: assigning it
    starts one, reading it gives what is left);
 6. ``throttle_every`` = k: every k-th SendEmail request (1-based count since start/reset) is
    throttled;
 6b. ``throttle_share``: with that probability (``random.Random(seed)``), throttled: the
    sporadic throttling of an account that other mail shares;
 7. ``fail_rate``: with probability fail_rate (``random.Random(seed)``), a transient
    ``InternalFailure`` (500) or ``ServiceUnavailable`` (503), half and half;
 8. ``reject``: a recipient in the set (case-insensitive, on the bare address) -> 400
    ``MessageRejected`` ("Email address is not verified..." or the mapping's reason);
 9. ``daily_quota``: once that many messages were accepted -> 429 TooManyRequestsException
    "Daily message quota exceeded." (what SES reports for the 24-hour quota);
10. ``max_rate``: a strict sliding window; a send is accepted only if fewer than ``max_rate``
    sends were accepted in the last 1.0 s (the window is ``(now - 1, now]``), otherwise 429
    TooManyRequestsException "Maximum sending rate exceeded.". ``competitor_rate`` = c:
    another client of the same account sends c messages per second, evenly spaced, and
    never backs off: each of its requests takes a place in the window if there is one (it
    is not recorded in ``accepted``; counted as ``competitor_accepted`` or
    ``competitor_throttled``), so the room left for the client under test is what the
    competitor leaves, as on a shared SES account;
11. accepted: recorded in ``stub.accepted`` (and the ``record`` file, flushed) *before* the
    200 answer is written.

The rate counts messages (one SendEmail call), not recipients.  Every fault attribute can be
reassigned at runtime from any thread; assign new values rather than mutating containers in
place (``stub.reject = {...}``, ``stub.script = [...]``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import email
import email.policy
import json
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import formataddr, getaddresses, parseaddr
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Final, Self

__all__ = [
    "DEFAULT_ACCOUNT",
    "OUTCOMES",
    "AcceptedMessage",
    "SesStub",
    "default_account",
    "main",
]

SEND_PATH: Final = "/v2/email/outbound-emails"
ACCOUNT_PATH: Final = "/v2/email/account"
STATS_PATH: Final = "/_stub/stats"
CONFIG_PATH: Final = "/_stub/config"
MAX_RECIPIENTS: Final = 50

DEFAULT_ACCOUNT: Final[dict[str, Any]] = {
    "DedicatedIpAutoWarmupEnabled": False,
    "EnforcementStatus": "HEALTHY",
    "ProductionAccessEnabled": True,
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
    "SendingEnabled": True,
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}


def default_account(
    *,
    sending_enabled: bool = True,
    max_24_hour_send: float = 50000.0,
    max_send_rate: float = 14.0,
    sent_last_24_hours: float = 0.0,
    production_access: bool = True,
    enforcement_status: str = "HEALTHY",
) -> dict[str, Any]:
    """A GetAccount response body shaped like SES's, with the usual knobs."""
    return {
        **DEFAULT_ACCOUNT,
        "EnforcementStatus": enforcement_status,
        "ProductionAccessEnabled": production_access,
        "SendQuota": {
            "Max24HourSend": float(max_24_hour_send),
            "MaxSendRate": float(max_send_rate),
            "SentLast24Hours": float(sent_last_24_hours),
        },
        "SendingEnabled": sending_enabled,
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int
    code: str
    message: str
    counter: str


_THROTTLE = _Fault(429, "TooManyRequestsException", "Maximum sending rate exceeded.", "throttled")
_QUOTA = _Fault(429, "TooManyRequestsException", "Daily message quota exceeded.", "quota_exceeded")
_FAULTS: Final[dict[str, _Fault]] = {
    "throttle": _THROTTLE,
    "quota": _QUOTA,
    "500": _Fault(
        500,
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
        "server_error",
    ),
    "503": _Fault(503, "ServiceUnavailable", "Service is unavailable, try again.", "server_error"),
    "reject": _Fault(400, "MessageRejected", "Email address is not verified.", "rejected"),
    "paused": _Fault(
        400, "SendingPausedException", "Sending is paused for this account.", "paused"
    ),
    "suspended": _Fault(
        400,
        "AccountSuspendedException",
        "Your account has been shut down because of issues related to your email sending.",
        "suspended",
    ),
    "limit": _Fault(
        400, "LimitExceededException", "Maximum sending limit exceeded.", "limit_exceeded"
    ),
    "bad_request": _Fault(400, "BadRequestException", "Bad request.", "bad_request"),
}
#: Outcomes a ``script`` may contain: "ok" (no injected fault), "drop" (close the socket, the
#: message is not accepted), "lost" (accept and record the message, then close the socket
#: without answering: the client cannot know it was sent) and the error outcomes above.
OUTCOMES: Final[frozenset[str]] = frozenset({"ok", "drop", "lost", *_FAULTS})
_COUNTERS: Final = (
    "send_requests",
    "accepted",
    "throttled",
    "quota_exceeded",
    "server_error",
    "rejected",
    "paused",
    "suspended",
    "limit_exceeded",
    "bad_request",
    "dropped",
    "lost",
    "get_account",
    "not_found",
    "connections",
    "competitor_accepted",
    "competitor_throttled",
)
_CONFIG_FIELDS: Final = frozenset(
    {
        "max_rate",
        "throttle_first",
        "throttle_every",
        "throttle_share",
        "fail_rate",
        "reject",
        "paused",
        "suspended",
        "delay",
        "delay_jitter",
        "account",
        "drop_connection_every",
        "daily_quota",
        "script",
        "strict_addresses",
        "storm_seconds",
        "competitor_rate",
    }
)
_MOTO_404: Final = (
    b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on the server.</p>\n"
)
_JSON: Final = "application/json"


def _decode_address(value: str) -> str:
    """``=?utf-8?b?...?= <a@b>`` -> ``홍길동 <a@b>`` (RFC 2047 display names decoded)."""
    name, addr = parseaddr(value)
    if not name:
        return addr or value
    return f"{make_header(decode_header(name))} <{addr}>"


@dataclass(slots=True)
class AcceptedMessage:
    """One message the stub accepted (answered 200 to)."""

    message_id: str
    from_address: str | None
    to: list[str]
    subject: str | None
    text: str | None
    html: str | None
    headers: dict[str, str]
    """Name -> value (the last one wins); ``header_list`` keeps order and repeats."""
    header_list: list[tuple[str, str]]
    tags: dict[str, str]
    configuration_set: str | None
    raw: bytes | None
    received_at: float
    """``time.monotonic()`` (or the stub's ``clock``) when it was accepted."""
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    list_management: dict[str, str] | None = None
    template: dict[str, Any] | None = None
    request: dict[str, Any] = field(default_factory=dict)
    """The whole decoded JSON request body."""

    @property
    def recipients(self) -> list[str]:
        """To + Cc + Bcc, as sent."""
        return [*self.to, *self.cc, *self.bcc]

    @property
    def recipient_addresses(self) -> list[str]:
        """Bare, lower-cased addresses of all recipients."""
        return [parseaddr(r)[1].lower() for r in self.recipients]

    @property
    def to_decoded(self) -> list[str]:
        """To addresses with RFC 2047 display names decoded (``홍길동 <hong@example.com>``)."""
        return [_decode_address(a) for a in self.to]

    def record_line(self) -> dict[str, Any]:
        """The JSON object written to the ``record`` file."""
        return {
            "message_id": self.message_id,
            "from": self.from_address,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "subject": self.subject,
            "headers": self.headers,
            "tags": self.tags,
            "configuration_set": self.configuration_set,
            "time": time.time(),
        }


class _BadRequest(Exception):
    pass


def _str_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadRequest(f"{what} must be a list of strings")
    return value


def _pairs(value: Any, what: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    try:
        return [(str(p["Name"]), str(p["Value"])) for p in value]
    except (TypeError, KeyError) as exc:
        raise _BadRequest(f"{what} must be a list of {{Name, Value}}") from exc


def _data(obj: Any, *keys: str) -> str | None:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj if isinstance(obj, str) else None


def _mime_text(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _check_address(value: str) -> None:
    if not value.isascii():
        raise _BadRequest(
            f"Email address must be 7-bit ASCII: {value!r} (encode display names with RFC 2047 "
            "encoded-words and domains with Punycode)"
        )
    if "@" not in parseaddr(value)[1]:
        raise _BadRequest(f"Missing final '@domain' in address: {value!r}")


def _parse_send(body: bytes, strict: bool) -> AcceptedMessage:
    """Decode a SendEmail JSON body into an (as yet unnumbered) AcceptedMessage."""
    try:
        req = json.loads(body)  # bytes: UTF-8 (botocore sends ASCII with \\u escapes)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(f"Invalid JSON body: {exc}") from exc
    if not isinstance(req, dict):
        raise _BadRequest("Request body must be a JSON object")
    content = req.get("Content")
    if not isinstance(content, dict) or not content:
        raise _BadRequest("1 validation error detected: Value null at 'content' must not be null")
    dest = req.get("Destination") or {}
    if not isinstance(dest, dict):
        raise _BadRequest("Destination must be an object")
    to = _str_list(dest.get("ToAddresses"), "ToAddresses")
    cc = _str_list(dest.get("CcAddresses"), "CcAddresses")
    bcc = _str_list(dest.get("BccAddresses"), "BccAddresses")
    reply_to = _str_list(req.get("ReplyToAddresses"), "ReplyToAddresses")
    from_address = req.get("FromEmailAddress")
    if from_address is not None and not isinstance(from_address, str):
        raise _BadRequest("FromEmailAddress must be a string")
    tags = dict(_pairs(req.get("EmailTags"), "EmailTags"))
    subject = text = html = None
    header_list: list[tuple[str, str]] = []
    raw: bytes | None = None
    template: dict[str, Any] | None = None

    if "Simple" in content:
        simple = content["Simple"]
        subject = _data(simple, "Subject", "Data")
        text = _data(simple, "Body", "Text", "Data")
        html = _data(simple, "Body", "Html", "Data")
        header_list = _pairs(simple.get("Headers") if isinstance(simple, dict) else None, "Headers")
    elif "Raw" in content:
        encoded = _data(content, "Raw", "Data")
        if encoded is None:
            raise _BadRequest("Content.Raw.Data is required")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _BadRequest(f"Content.Raw.Data is not valid base64: {exc}") from exc
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        header_list = [(k, str(v)) for k, v in msg.items()]
        subject = str(msg["Subject"]) if msg["Subject"] is not None else None
        text, html = _mime_text(msg, "plain"), _mime_text(msg, "html")
        # Undecoded header sources, so addresses look like the ones sent in JSON.
        sources: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            sources.setdefault(name.lower(), []).append(str(value))
        from_address = from_address or next(iter(sources.get("from", [])), None)
        if not (to or cc or bcc):
            to = [formataddr(p) for p in getaddresses(sources.get("to", []))]
            cc = [formataddr(p) for p in getaddresses(sources.get("cc", []))]
            bcc = [formataddr(p) for p in getaddresses(sources.get("bcc", []))]
    elif "Template" in content:
        template = content["Template"] if isinstance(content["Template"], dict) else {}
        header_list = _pairs(template.get("Headers"), "Headers")
        inline = template.get("TemplateContent") or {}
        subject, text, html = inline.get("Subject"), inline.get("Text"), inline.get("Html")
    else:
        raise _BadRequest("Content must contain one of Simple, Raw or Template")

    recipients = [*to, *cc, *bcc]
    if not recipients:
        raise _BadRequest("Recipient address is required (Destination.ToAddresses)")
    if len(recipients) > MAX_RECIPIENTS:
        raise _BadRequest(f"Recipient count exceeds {MAX_RECIPIENTS}")
    if strict:
        for address in (*recipients, *reply_to, *([from_address] if from_address else [])):
            _check_address(address)
    lm = req.get("ListManagementOptions")
    return AcceptedMessage(
        message_id="",
        from_address=from_address,
        to=to,
        subject=subject,
        text=text,
        html=html,
        headers=dict(header_list),
        header_list=header_list,
        tags=tags,
        configuration_set=req.get("ConfigurationSetName"),
        raw=raw,
        received_at=0.0,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        list_management=lm if isinstance(lm, dict) else None,
        template=template,
        request=req,
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], stub: SesStub) -> None:
        self.stub = stub
        self.live: set[socket.socket] = set()
        self.live_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that was killed mid-request (the crash tests do that) is not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_live_connections(self) -> None:
        with self.live_lock:
            live = list(self.live)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.live_lock:
            self.server.live.add(self.connection)
        self.server.stub._count("connections")

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.live_lock:
                self.server.live.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def respond(
        self,
        status: int,
        body: bytes,
        *,
        error_type: str | None = None,
        content_type: str = _JSON,
    ) -> None:
        """Status line, headers and body in one write (no Nagle/delayed-ACK stalls)."""
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amzn-RequestId: {uuid.uuid4()}\r\n"
        )
        if error_type:
            head += f"x-amzn-ErrorType: {error_type}\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def respond_error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.respond(status, body, error_type=code)

    def _dispatch(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        stub = self.server.stub
        stub._count("requests")
        if self.command == "POST" and path == SEND_PATH:
            stub._handle_send(self, body)
        elif self.command == "GET" and path == ACCOUNT_PATH:
            stub._handle_account(self)
        elif self.command == "GET" and path == STATS_PATH:
            self.respond(200, json.dumps(stub.stats(), ensure_ascii=False).encode())
        elif self.command == "POST" and path == CONFIG_PATH:
            stub._handle_config(self, body)
        elif stub._route(self, path, body):
            pass
        else:
            stub._count("not_found")
            self.respond_error(
                404, "UnknownOperationException", f"No such operation: {self.command} {path}"
            )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class SesStub:
    """A fault-injecting sesv2 server on 127.0.0.1; see the module docstring for semantics.

    Records (all guarded by one lock): ``accepted`` (list of AcceptedMessage, in acceptance
    order), ``requests`` (HTTP requests of any kind) and ``counts`` (per outcome: see
    ``_COUNTERS``; ``send_requests`` counts SendEmail calls).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_rate: float | None = None,
        throttle_first: int = 0,
        throttle_every: int = 0,
        throttle_share: float = 0.0,
        script: Iterable[str] = (),
        fail_rate: float = 0.0,
        seed: int = 0,
        reject: Iterable[str] | Mapping[str, str | None] = (),
        paused: bool = False,
        suspended: bool = False,
        delay: float = 0.0,
        delay_jitter: float = 0.0,
        account: Mapping[str, Any] | None = DEFAULT_ACCOUNT,
        daily_quota: int | None = None,
        drop_connection_every: int = 0,
        strict_addresses: bool = True,
        record: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        competitor_rate: float = 0.0,
    ) -> None:
        self.host, self.port = host, port
        self.max_rate = max_rate
        self.throttle_first = throttle_first
        self.throttle_every = throttle_every
        self.throttle_share = throttle_share
        self.fail_rate = fail_rate
        self.paused = paused
        self.suspended = suspended
        self.delay = delay
        self.delay_jitter = delay_jitter
        self.account: dict[str, Any] | None = None if account is None else dict(account)
        self.daily_quota = daily_quota
        self.drop_connection_every = drop_connection_every
        self.strict_addresses = strict_addresses
        self.clock = clock
        self.record_path = Path(record) if record is not None else None
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._jitter_rng = random.Random(seed + 1)
        self._window: deque[float] = deque()
        self._storm_until = 0.0
        self._competitor_rate = 0.0
        self._competitor_start = 0.0  # its k-th request arrives at start + k / rate
        self._competitor_sent = 0
        self.competitor_rate = competitor_rate
        self._script: deque[str] = deque()
        self._reject: dict[str, str | None] = {}
        self.script = list(script)
        self.reject = reject
        self.accepted: list[AcceptedMessage] = []
        self.requests = 0
        self.counts: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._record_file: IO[str] | None = None

    # -- fault attributes with normalisation ---------------------------------------------
    @property
    def script(self) -> list[str]:
        """Outcomes still to be consumed, in order (assign a new list to replace them)."""
        with self._lock:
            return list(self._script)

    @script.setter
    def script(self, outcomes: Iterable[str]) -> None:
        items = list(outcomes)
        unknown = [o for o in items if o not in OUTCOMES]
        if unknown:
            raise ValueError(f"unknown script outcome(s) {unknown}; choose from {sorted(OUTCOMES)}")
        with self._lock:
            self._script = deque(items)

    @property
    def storm_seconds(self) -> float:
        """Seconds left of the throttling storm (assign to start one of that length)."""
        return max(0.0, self._storm_until - self.clock())

    @storm_seconds.setter
    def storm_seconds(self, seconds: float) -> None:
        self._storm_until = self.clock() + float(seconds)

    @property
    def competitor_rate(self) -> float:
        """Messages per second another client of the account sends, never backing off."""
        return self._competitor_rate

    @competitor_rate.setter
    def competitor_rate(self, rate: float) -> None:
        with self._lock:
            self._competitor_rate = float(rate)
            # As if it had been sending for a second already: the window holds its share.
            self._competitor_start, self._competitor_sent = self.clock() - 1.0, 0

    def _competitor_until(self, now: float) -> None:
        """Under the lock: the competitor's requests up to `now`, in time order, each
        taking a place in the rate window if one is free at its moment."""
        rate = self._competitor_rate
        if rate <= 0:
            return
        window = self._window
        while (at := self._competitor_start + self._competitor_sent / rate) <= now:
            self._competitor_sent += 1
            while window and window[0] <= at - 1.0:
                window.popleft()
            if self.max_rate is not None and len(window) + 1 > self.max_rate:
                self.counts["competitor_throttled"] += 1
            else:
                window.append(at)
                self.counts["competitor_accepted"] += 1

    @property
    def reject(self) -> dict[str, str | None]:
        """Lower-cased address -> rejection reason (None: "Email address is not verified")."""
        return self._reject

    @reject.setter
    def reject(self, addresses: Iterable[str] | Mapping[str, str | None]) -> None:
        if isinstance(addresses, Mapping):
            self._reject = {str(k).lower(): v for k, v in addresses.items()}
        else:
            self._reject = dict.fromkeys((str(a).lower() for a in addresses), None)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SesStub is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        if self.record_path is not None:
            self._record_file = self.record_path.open("a", encoding="utf-8")
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ses-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open keep-alive connection. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_live_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._record_file is not None:
                self._record_file.close()
                self._record_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- records -----------------------------------------------------------------------------
    def accepted_to(self, address: str) -> list[AcceptedMessage]:
        """Accepted messages with ``address`` among To/Cc/Bcc (bare address, case-insensitive)."""
        wanted = parseaddr(address)[1].lower() or address.lower()
        with self._lock:
            messages = list(self.accepted)
        return [m for m in messages if wanted in m.recipient_addresses]

    def per_recipient(self) -> Counter[str]:
        """How many accepted messages each (bare, lower-cased) recipient address got."""
        with self._lock:
            messages = list(self.accepted)
        return Counter(a for m in messages for a in m.recipient_addresses)

    def stats(self) -> dict[str, Any]:
        """Counters and per-recipient totals (what ``GET /_stub/stats`` answers)."""
        with self._lock:
            self._competitor_until(self.clock())
            messages = list(self.accepted)
            stats: dict[str, Any] = {
                "requests": self.requests,
                "counts": dict(self.counts),
                "accepted": len(messages),
                "script_left": len(self._script),
            }
        stats["per_recipient"] = dict(Counter(a for m in messages for a in m.recipient_addresses))
        return stats

    def reset(self) -> None:
        """Forget records, counters and the rate window (fault settings are kept)."""
        with self._lock:
            self.accepted = []
            self.requests = 0
            self.counts = dict.fromkeys(_COUNTERS, 0)
            self._window.clear()

    # -- request handling ------------------------------------------------------------------
    def _count(self, key: str) -> None:
        with self._lock:
            if key == "requests":
                self.requests += 1
            else:
                self.counts[key] += 1

    def _decide(self, message: AcceptedMessage) -> tuple[str, _Fault | None, str | None]:
        """Under the lock: ("accept"|"drop"|"lost"|"fault", fault, message override)."""
        self.counts["send_requests"] += 1
        n = self.counts["send_requests"]
        outcome = self._script.popleft() if self._script else "ok"
        if outcome in ("drop", "lost"):
            return outcome, None, None
        if outcome != "ok":
            fault = _FAULTS[outcome]
            if outcome == "reject":
                return "fault", fault, self._reject_message(message.recipient_addresses[0], None)
            return "fault", fault, None
        k = self.drop_connection_every
        if k and n % k == 0:
            return "drop", None, None
        if self.suspended:
            return "fault", _FAULTS["suspended"], None
        if self.paused:
            return "fault", _FAULTS["paused"], None
        if self.throttle_first > 0:
            self.throttle_first -= 1
            return "fault", _THROTTLE, None
        if self.clock() < self._storm_until:
            return "fault", _THROTTLE, None
        k = self.throttle_every
        if k and n % k == 0:
            return "fault", _THROTTLE, None
        if self.throttle_share and self._rng.random() < self.throttle_share:
            return "fault", _THROTTLE, None
        if self.fail_rate and self._rng.random() < self.fail_rate:
            return "fault", _FAULTS["500" if self._rng.random() < 0.5 else "503"], None
        if self._reject:
            for address in message.recipient_addresses:
                if address in self._reject:
                    reason = self._reject_message(address, self._reject[address])
                    return "fault", _FAULTS["reject"], reason
        if self.daily_quota is not None and self.counts["accepted"] >= self.daily_quota:
            return "fault", _QUOTA, None
        if self.max_rate is not None:
            now = self.clock()
            self._competitor_until(now)
            window, horizon = self._window, now - 1.0
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) + 1 > self.max_rate:
                return "fault", _THROTTLE, None
        return "accept", None, None

    @staticmethod
    def _reject_message(address: str, reason: str | None) -> str:
        return reason or (
            "Email address is not verified. The following identities failed the check in "
            f"region US-EAST-1: {address}"
        )

    def _accept(self, message: AcceptedMessage) -> None:
        """Under the lock: number, record and (if configured) journal the message."""
        message.message_id = f"{time.time_ns():016x}-{uuid.uuid4()}-000000"
        message.received_at = self.clock()
        if self.max_rate is not None:
            self._window.append(message.received_at)
        self.counts["accepted"] += 1
        self.accepted.append(message)
        if self._record_file is not None:
            line = json.dumps(message.record_line(), ensure_ascii=False)
            self._record_file.write(line + "\n")
            self._record_file.flush()

    def _handle_send(self, handler: _Handler, body: bytes) -> None:
        try:
            message = _parse_send(body, self.strict_addresses)
        except _BadRequest as exc:
            with self._lock:
                self.counts["send_requests"] += 1
                self.counts["bad_request"] += 1
            handler.respond_error(400, "BadRequestException", str(exc))
            return
        pause = self.delay
        if self.delay_jitter:
            pause += self._jitter_rng.uniform(0.0, self.delay_jitter)
        if pause > 0:
            time.sleep(pause)
        with self._lock:
            action, fault, text = self._decide(message)
            if action == "fault" and fault is not None:
                self.counts[fault.counter] += 1
            elif action == "drop":
                self.counts["dropped"] += 1
            else:  # accept / lost: recorded before anything is answered
                self._accept(message)
                if action == "lost":
                    self.counts["lost"] += 1
        if action in ("drop", "lost"):
            handler.close_connection = True
            return
        if fault is not None:
            handler.respond_error(fault.status, fault.code, text or fault.message)
            return
        self._sent(message)
        handler.respond(200, b'{"MessageId":"' + message.message_id.encode() + b'"}')

    def _route(self, handler: _Handler, path: str, body: bytes) -> bool:
        """Other operations (a subclass's: tests/support/aws_stub.py); False: 404."""
        return False

    def _sent(self, message: AcceptedMessage) -> None:
        """Called once a message is accepted, before the answer (a subclass publishes its
        events here, so they have arrived when the client's call returns)."""

    def _handle_account(self, handler: _Handler) -> None:
        self._count("get_account")
        account = self.account
        if account is None:  # like moto's server, which has no GetAccount route
            handler.respond(404, _MOTO_404, content_type="text/html; charset=utf-8")
            return
        handler.respond(200, json.dumps(account).encode())

    def _handle_config(self, handler: _Handler, body: bytes) -> None:
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            unknown = set(changes) - _CONFIG_FIELDS
            if unknown:
                raise ValueError(f"unknown field(s) {sorted(unknown)}")
            for name, value in changes.items():
                setattr(self, name, value)
        except ValueError as exc:
            handler.respond_error(400, "BadRequestException", str(exc))
            return
        config = {name: getattr(self, name) for name in sorted(_CONFIG_FIELDS)}
        handler.respond(200, json.dumps(config, default=str, ensure_ascii=False).encode())


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.support.ses_stub",
        description="Fault-injecting SES v2 stub. Prints the endpoint URL on its first line, "
        "then serves until SIGTERM/SIGINT (exit 0; final stats as JSON on stderr).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = a free port (default)")
    p.add_argument("--max-rate", type=float, default=None, help="accepted sends per 1 s window")
    p.add_argument("--throttle-first", type=int, default=0)
    p.add_argument("--throttle-every", type=int, default=0)
    p.add_argument("--throttle-share", type=float, default=0.0, help="throttle at random")
    p.add_argument(
        "--competitor-rate", type=float, default=0.0,
        help="another client's messages/s in the same rate window, never backing off",
    )  # fmt: skip
    p.add_argument(
        "--script", default="", help=f"comma-separated outcomes: {','.join(sorted(OUTCOMES))}"
    )
    p.add_argument("--fail-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reject", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--paused", action="store_true")
    p.add_argument("--suspended", action="store_true")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each SendEmail answer")
    p.add_argument("--delay-jitter", type=float, default=0.0)
    p.add_argument("--daily-quota", type=int, default=None)
    p.add_argument("--drop-connection-every", type=int, default=0)
    p.add_argument("--no-account", action="store_true", help="GetAccount answers 404 (as moto)")
    p.add_argument("--account-json", default=None, help="GetAccount response body (JSON)")
    p.add_argument("--no-strict-addresses", action="store_true")
    p.add_argument("--record", default=None, metavar="FILE", help="append accepted as JSON Lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    account: dict[str, Any] | None = DEFAULT_ACCOUNT
    if args.no_account:
        account = None
    elif args.account_json:
        account = json.loads(args.account_json)
    stub = SesStub(
        host=args.host,
        port=args.port,
        max_rate=args.max_rate,
        throttle_first=args.throttle_first,
        throttle_every=args.throttle_every,
        throttle_share=args.throttle_share,
        script=[s.strip() for s in args.script.split(",") if s.strip()],
        fail_rate=args.fail_rate,
        seed=args.seed,
        reject=args.reject,
        paused=args.paused,
        suspended=args.suspended,
        delay=args.delay,
        delay_jitter=args.delay_jitter,
        account=account,
        daily_quota=args.daily_quota,
        drop_connection_every=args.drop_connection_every,
        strict_addresses=not args.no_strict_addresses,
        record=args.record,
        competitor_rate=args.competitor_rate,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with stub:
        print(stub.endpoint_url, flush=True)
        while not done.wait(0.5):
            pass
        stats = stub.stats()
    print(json.dumps({k: stats[k] for k in ("requests", "counts")}), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
