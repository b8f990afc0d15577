"""Test helpers for SNS-delivered SES events: keys, certificates, signed messages, and a
loopback HTTPS server that plays sns.<region>.amazonaws.com.

Everything is real: RSA signatures made the way SNS makes them, certificates made here with
`cryptography`, and TLS on 127.0.0.1 with a test CA. A typical test::

    key = new_signing_key()
    with SnsTestServer(tmp_path, certificate=self_signed_certificate(key)) as sns:
        verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS,
                               ca_bundle=sns.ca_bundle)
        envelope = sign(notification(bounce_permanent()), key, cert_url=sns.cert_url)
        verifier.verify(parse_envelope(to_body(envelope)))

For the web app, set `sns_topic_arns=[TOPIC_ARN]`, `sns_cert_host_pattern=LOOPBACK_HOSTS` and
`sns_ca_bundle=sns.ca_bundle`, and POST `to_body(envelope)` to `/ses/events`.

RSA key generation costs ~50 ms: make the signing key once per module (a module-scoped
fixture). `string_to_sign` here is written from AWS's documentation independently of
`pipeline.feedback.sns` and `sns_verify`, so a mistake there cannot hide behind the same mistake here.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:newsletter-ses-events"
OTHER_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic"
LOOPBACK_HOSTS = r"^127\.0\.0\.1$"  # sns_cert_host_pattern for tests
CERT_PATH = "/SimpleNotificationService-abc.pem"
SENDER = "Article Weekly <weekly@example.com>"
RECIPIENT = "reader@example.org"

Json = dict[str, Any]


# --- keys and certificates ---------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_signing_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key like the one SNS signs with."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def self_signed_certificate(
    key: rsa.RSAPrivateKey,
    *,
    common_name: str = "sns.amazonaws.com",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """A signing certificate for `key`, valid from yesterday for a year unless told."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - dt.timedelta(days=1))
        .not_valid_after(not_after or _now() + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def expired_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A certificate for `key` that expired yesterday."""
    return self_signed_certificate(
        key,
        not_before=_now() - dt.timedelta(days=400),
        not_after=_now() - dt.timedelta(days=1),
    )


def not_yet_valid_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A certificate for `key` that starts being valid tomorrow."""
    return self_signed_certificate(
        key,
        not_before=_now() + dt.timedelta(days=1),
        not_after=_now() + dt.timedelta(days=365),
    )


def to_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


# --- signing -----------------------------------------------------------------------------

# From AWS's "Verifying the signatures of Amazon SNS messages": the keys in this order, each
# key and its value followed by a newline; Subject only when the message has one.
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


def string_to_sign(message: Json) -> bytes:
    keys = _NOTIFICATION_KEYS if message["Type"] == "Notification" else _CONFIRMATION_KEYS
    return "".join(
        f"{key}\n{message[key]}\n" for key in keys if message.get(key) is not None
    ).encode("utf-8")


def sign(
    message: Json,
    key: rsa.RSAPrivateKey,
    version: str | int = "1",
    *,
    cert_url: str | None = None,
) -> Json:
    """A copy of `message` signed as SNS would: SignatureVersion "1" (SHA1withRSA) or "2"
    (SHA256withRSA), Signature in base64, and SigningCertURL when `cert_url` is given."""
    signed = copy.deepcopy(message)
    if cert_url is not None:
        signed["SigningCertURL"] = cert_url
    version = str(version)
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(signed), padding.PKCS1v15(), algorithm)
    signed["SignatureVersion"] = version
    signed["Signature"] = base64.b64encode(signature).decode("ascii")
    return signed


def to_body(message: Json) -> bytes:
    """The POST body SNS would send for `message`."""
    return json.dumps(message, indent=2).encode("utf-8")


def sns_timestamp(moment: dt.datetime | None = None) -> str:
    """SNS's Timestamp format, e.g. 2024-06-22T09:00:00.123Z (default: now)."""
    moment = (moment or _now()).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- SNS envelopes -----------------------------------------------------------------------


def notification(
    event: Json | str,
    *,
    topic_arn: str = TOPIC_ARN,
    message_id: str | None = None,
    timestamp: str | None = None,
    subject: str | None = None,
    cert_url: str = "https://sns.us-east-1.amazonaws.com" + CERT_PATH,
) -> Json:
    """An SNS Notification carrying `event` (an SES event dict, or a raw string), without
    Signature / SignatureVersion until `sign` adds them (unsigned: a 403 as it is)."""
    message: Json = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": event if isinstance(event, str) else json.dumps(event),
        "Timestamp": timestamp or sns_timestamp(),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
        f"&SubscriptionArn={topic_arn}:{uuid.uuid4()}",
    }
    if subject is not None:
        message["Subject"] = subject
    return message


def subscription_confirmation(
    subscribe_url: str,
    *,
    token: str = "2336412f37fb687f5d51e6e2425a8a5873e2d1c5e1f8a0a1a1b1c1d1e1f10111",
    topic_arn: str = TOPIC_ARN,
    message_id: str | None = None,
    timestamp: str | None = None,
    kind: str = "SubscriptionConfirmation",
    cert_url: str = "https://sns.us-east-1.amazonaws.com" + CERT_PATH,
) -> Json:
    """A SubscriptionConfirmation (or, with `kind`, an UnsubscribeConfirmation), unsigned
    until `sign` signs it."""
    return {
        "Type": kind,
        "MessageId": message_id or str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp or sns_timestamp(),
        "SigningCertURL": cert_url,
    }


# --- SES events (event publishing shapes, as SES posts them to SNS) -----------------------


def ses_mail(
    ses_message_id: str | None = None,
    recipient: str = RECIPIENT,
    *,
    tags: dict[str, list[str]] | None = None,
) -> Json:
    """The `mail` object every SES event carries; `messageId` is what SendEmail returned."""
    message_id = ses_message_id or f"0100018f{uuid.uuid4().hex[:8]}-{uuid.uuid4()}-000000"
    return {
        "timestamp": sns_timestamp(_now() - dt.timedelta(minutes=5)),
        "source": SENDER,
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": SENDER},
            {"name": "To", "value": recipient},
            {"name": "Subject", "value": "Article Weekly #25"},
        ],
        "commonHeaders": {
            "from": [SENDER],
            "to": [recipient],
            "messageId": message_id,
            "subject": "Article Weekly #25",
        },
        "tags": tags
        or {
            "ses:configuration-set": ["newsletter"],
            "ses:source-ip": ["192.0.2.10"],
            "ses:from-domain": ["example.com"],
        },
    }


def _event(event_type: str, detail_key: str, detail: Json, mail: Json) -> Json:
    return {"eventType": event_type, "mail": mail, detail_key: detail}


def bounce_permanent(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Bounce",
        "bounce",
        {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": sns_timestamp(),
            "feedbackId": f"0100018f-{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        ses_mail(ses_message_id, recipient),
    )


def bounce_transient(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Bounce",
        "bounce",
        {
            "bounceType": "Transient",
            "bounceSubType": "MailboxFull",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "4.2.2",
                    "diagnosticCode": "smtp; 452 4.2.2 mailbox full",
                }
            ],
            "timestamp": sns_timestamp(),
            "feedbackId": f"0100018f-{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        ses_mail(ses_message_id, recipient),
    )


def complaint(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Complaint",
        "complaint",
        {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": sns_timestamp(),
            "feedbackId": f"0100018f-{uuid.uuid4()}-000000",
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "complaintFeedbackType": "abuse",
            "arrivalDate": sns_timestamp(_now() - dt.timedelta(minutes=1)),
        },
        ses_mail(ses_message_id, recipient),
    )


def delivery(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Delivery",
        "delivery",
        {
            "timestamp": sns_timestamp(),
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "192.0.2.25",
        },
        ses_mail(ses_message_id, recipient),
    )


def open_event(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Open",
        "open",
        {
            "ipAddress": "192.0.2.1",
            "timestamp": sns_timestamp(),
            "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X)",
        },
        ses_mail(ses_message_id, recipient),
    )


def click(
    ses_message_id: str | None = None,
    recipient: str = RECIPIENT,
    link: str = "https://example.com/articles/1",
) -> Json:
    return _event(
        "Click",
        "click",
        {
            "ipAddress": "192.0.2.1",
            "link": link,
            "linkTags": {"samplekey0": ["samplevalue0"]},
            "timestamp": sns_timestamp(),
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
        },
        ses_mail(ses_message_id, recipient),
    )


def delivery_delay(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "DeliveryDelay",
        "deliveryDelay",
        {
            "timestamp": sns_timestamp(),
            "delayType": "TransientCommunicationFailure",
            "expirationTime": sns_timestamp(_now() + dt.timedelta(hours=12)),
            "delayedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
                }
            ],
        },
        ses_mail(ses_message_id, recipient),
    )


def reject(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    return _event(
        "Reject", "reject", {"reason": "Bad content"}, ses_mail(ses_message_id, recipient)
    )


def rendering_failure(ses_message_id: str | None = None, recipient: str = RECIPIENT) -> Json:
    # SES spells this event type with a space.
    return _event(
        "Rendering Failure",
        "failure",
        {
            "errorMessage": "Attribute 'name' is not present in the rendering data.",
            "templateName": "newsletter",
        },
        ses_mail(ses_message_id, recipient),
    )


# Every builder, by a readable name, for parametrised tests.
SES_EVENTS: dict[str, Callable[..., Json]] = {
    "bounce-permanent": bounce_permanent,
    "bounce-transient": bounce_transient,
    "complaint": complaint,
    "delivery": delivery,
    "open": open_event,
    "click": click,
    "delivery-delay": delivery_delay,
    "reject": reject,
    "rendering-failure": rendering_failure,
}


# --- a loopback HTTPS server playing sns.<region>.amazonaws.com ---------------------------


def tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it issued for 127.0.0.1 and localhost.

    EC keys (fast to make). Returns (ca.pem, server.pem, server-key.pem)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "newsletter test CA")])
    start, end = _now() - dt.timedelta(days=1), _now() + dt.timedelta(days=30)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
    )
    ca_file.write_bytes(to_pem(ca_cert))
    cert_file.write_bytes(to_pem(server_cert))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class SnsTestServer:
    """HTTPS on 127.0.0.1 (a random port) that serves signing certificates and records
    subscription confirmations, as a context manager.

    - `GET /SimpleNotificationService-abc.pem` (`cert_url`): the `certificate` given, if any;
      `serve(path, body)` / `serve_certificate(cert, name)` add more files.
    - `GET /confirm?Token=...` (`confirm_url(token)`): records the token in `confirmations`
      and answers like SNS's ConfirmSubscription.
    - a path in `redirects`: 302 to the URL it maps to (SNS never redirects; we must not follow).
    - a path in `statuses`: that HTTP status (e.g. 500, to play an unhealthy SNS host).
    - anything else: 404. Every request's path (with query) is appended to `hits`.

    `ca_bundle` is the test CA's PEM file: give it to `SnsVerifier(ca_bundle=...)` or the
    `sns_ca_bundle` setting. TLS files go to `directory` (a temporary one if None).
    """

    def __init__(
        self, directory: Path | None = None, *, certificate: x509.Certificate | None = None
    ) -> None:
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="sns-test-")
            directory = Path(self._tempdir.name)
        self.directory = directory
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.statuses: dict[str, int] = {}
        self.hits: list[str] = []
        self.confirmations: list[str] = []
        self._lock = threading.Lock()
        if certificate is not None:
            self.files[CERT_PATH] = to_pem(certificate)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_bundle = ""
        self.port = 0

    # URLs
    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def cert_url(self) -> str:
        return self.base_url + CERT_PATH

    def url(self, path: str) -> str:
        return self.base_url + path

    def confirm_url(self, token: str) -> str:
        return f"{self.base_url}/confirm?Token={token}"

    # content
    def serve(self, path: str, body: bytes) -> str:
        """Serve `body` at `path`; returns its URL."""
        self.files[path] = body
        return self.url(path)

    def serve_certificate(self, certificate: x509.Certificate, name: str) -> str:
        """Serve `certificate` as /`name` (e.g. "SimpleNotificationService-new.pem")."""
        return self.serve("/" + name, to_pem(certificate))

    def count(self, path: str) -> int:
        """How many requests asked for `path` (query ignored)."""
        with self._lock:
            return sum(1 for hit in self.hits if urlsplit(hit).path == path)

    # lifecycle
    def __enter__(self) -> SnsTestServer:
        ca_file, cert_file, key_file = tls_files(self.directory)
        self.ca_bundle = str(ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        # A short poll: shutdown() waits for it (0.5 s by default, at every test's end).
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def _record(self, path: str) -> None:
        with self._lock:
            self.hits.append(path)


def _handler_for(server: SnsTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server._record(self.path)
            parts = urlsplit(self.path)
            if parts.path == "/confirm":
                token = parse_qs(parts.query).get("Token", [""])[0]
                with server._lock:
                    server.confirmations.append(token)
                self._answer(200, _confirm_response(), "text/xml")
            elif parts.path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[parts.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path in server.statuses:
                self._answer(server.statuses[parts.path], b"error\n", "text/plain")
            elif parts.path in server.files:
                self._answer(200, server.files[parts.path], "application/x-pem-file")
            else:
                self._answer(404, b"not found\n", "text/plain")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet tests
            pass

    return Handler


def _confirm_response() -> bytes:
    return (
        '<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<ConfirmSubscriptionResult><SubscriptionArn>{TOPIC_ARN}:{uuid.uuid4()}"
        "</SubscriptionArn></ConfirmSubscriptionResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</ConfirmSubscriptionResponse>"
    ).encode()
