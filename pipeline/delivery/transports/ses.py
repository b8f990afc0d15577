"""The Amazon SES transport (sesv2 SendEmail), and how its errors are classified.

Configured the standard AWS way: the credential chain, `AWS_REGION`, and
`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SESV2` for a local endpoint. Every failure becomes a
`SendFailure` of one kind, which decides what the campaign loop does next (the kinds
tried again, and for how long, are the retry policy's: `pipeline/retry.py`):

- throttle: slow the pace and retry the same message (never dropped);
- transient: retry with jittered backoff, a bounded number of times;
- ambiguous: the request went out but the answer was lost (read timeout, connection closed
  mid-response): SES may have sent it, so the delivery is `unknown`, never blindly resent;
- permanent: this recipient fails, the campaign goes on;
- account: sending is stopped for the whole account: pause the campaign.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from email.headerregistry import Address
from typing import Any

from pipeline.delivery.transports.base import Gate, NotSent, Quota, SendFailure
from pipeline.errors import ConfigError
from pipeline.issue.message import WIRE, HeaderError, Message, display_name, wire_value
from pipeline.text import CONTROLS

_THROTTLE_CODES = {"TooManyRequestsException", "Throttling", "ThrottlingException"}
_ACCOUNT_CODES = {
    "SendingPausedException",
    "AccountSuspendedException",
    "MailFromDomainNotVerifiedException",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "NotFoundException",  # e.g. the configuration set does not exist: every send would fail
}
_PERMANENT_CODES = {"MessageRejected", "BadRequestException", "InvalidParameterValue"}


def aws_region(fallback: str | None = None) -> str:
    """AWS_REGION or AWS_DEFAULT_REGION (botocore itself reads only the second), else
    `fallback` (a region read from a resource's URL), else a clear error."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or fallback
    if not region:
        raise ConfigError(
            "no AWS region is set",
            hint="set AWS_REGION (for example AWS_REGION=us-east-1) to your SES region",
        )
    return region


_local = threading.local()


def _before_send(**kwargs: Any) -> None:
    """botocore's last hook before the HTTP request: wait here for the pace."""
    gate = getattr(_local, "gate", None)
    if gate is not None and not gate():
        raise NotSent


def classify(code: str, message: str, status: int | None) -> SendFailure:
    lowered = message.lower()
    if "daily message quota exceeded" in lowered:
        return SendFailure("account", f"{code}: {message} (the 24-hour quota is used up)")
    if code in _THROTTLE_CODES or "maximum sending rate exceeded" in lowered:
        return SendFailure("throttle", f"{code}: {message}")
    if code in _ACCOUNT_CODES:
        return SendFailure("account", f"{code}: {message}")
    if code in _PERMANENT_CODES:
        return SendFailure("permanent", f"{code}: {message}")
    if status is not None and (status >= 500 or status == 408):
        return SendFailure("transient", f"{code or status}: {message}")
    return SendFailure("permanent", f"{code or status}: {message}")


_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?")  # after Punycode
_PRINTABLE = re.compile(r"[ -~]*")
# A plain local part (dot-atom): a quoted one such as `"a@x, b"@y` is no address of a
# list member (imports refuse them), only a broken row.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def encode_address(address: str, field: str = "To") -> str:
    """`Name <local@domain>` as SES takes it (see `encode_mailbox`), from one header value
    parsed by the `email` package's address header machinery. Exactly one address: a
    value that parses as several (`a@x, b@y`) would add recipients."""
    if CONTROLS.search(address):
        raise SendFailure("permanent", f"{field}: a line break or control character in it")
    header = WIRE.header_factory(field, address)
    if len(header.addresses) != 1:
        raise SendFailure("permanent", f"{field}: not one valid email address: {address[:80]!r}")
    parsed: Address = header.addresses[0]
    if parsed.username.isascii() and header.defects:
        raise SendFailure("permanent", f"{field}: not one valid email address: {address[:80]!r}")
    return encode_mailbox(parsed.display_name, parsed.addr_spec, field)


def encode_mailbox(name: str, email: str, field: str = "To") -> str:
    """A display name and an address as SES takes them: 7-bit ASCII on one line, the name
    quoted or RFC 2047-encoded by `display_name`, an internationalised domain in
    Punycode (SES documents both). SES cannot send to a non-ASCII mailbox name at all:
    that recipient fails, the campaign goes on."""
    if CONTROLS.search(name) or CONTROLS.search(email):
        raise SendFailure("permanent", f"{field}: a line break or control character in it")
    local, _, domain = email.rpartition("@")
    if not local.isascii():
        raise SendFailure("permanent", f"{email}: SES cannot send to a non-ASCII mailbox name")
    if not _DOT_ATOM.fullmatch(local) or not domain:
        raise SendFailure("permanent", f"{field}: not a valid email address: {email[:80]!r}")
    if not domain.isascii():
        import idna  # what email-validator checked the domain with (IDNA 2008, UTS 46)

        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise SendFailure("permanent", f"{email}: not a valid domain name: {exc}") from None
    if not _DOMAIN.fullmatch(domain):
        raise SendFailure("permanent", f"{field}: not a valid domain name: {domain[:80]!r}")
    written = f"{display_name(name)} <{local}@{domain}>" if name else f"{local}@{domain}"
    if not _PRINTABLE.fullmatch(written):  # the last guard: one printable ASCII line
        raise SendFailure("permanent", f"{field}: cannot be written on one line: {email!r}")
    return written


@functools.lru_cache(maxsize=8)
def _sender(address: str, field: str) -> str:
    """From and Reply-To are the same on every message of a campaign: encode them once."""
    return encode_address(address, field)


def _recipient(message: Message) -> str:
    if message.to_mailbox is not None:  # the parts personalise() had: nothing to parse
        return encode_mailbox(*message.to_mailbox)
    return encode_address(message.to)


def build_request(
    message: Message, tags: dict[str, str], configuration_set: str | None = None
) -> dict[str, Any]:
    """The sesv2 SendEmail request; SendFailure (permanent) if the message cannot be
    written safely: nothing raw reaches a header. The dry run builds it too."""
    try:
        return _build_request(message, tags, configuration_set)
    except SendFailure:
        raise
    except Exception as exc:  # nothing has left yet: this one message fails, with the reason
        reason = f"cannot build the message: {type(exc).__name__}: {exc}"
        raise SendFailure("permanent", reason[:500]) from None


def _build_request(
    message: Message, tags: dict[str, str], configuration_set: str | None
) -> dict[str, Any]:
    try:
        headers = [{"Name": k, "Value": wire_value(k, v)} for k, v in message.headers.items()]
    except HeaderError as exc:
        raise SendFailure("permanent", f"cannot build the message: {exc}") from None
    if CONTROLS.search(message.subject):
        # SES writes the Subject header itself, from this text.
        raise SendFailure(
            "permanent",
            "cannot build the message: a line break or control character "
            f"in the subject {message.subject[:80]!r}",
        )
    request: dict[str, Any] = {
        "FromEmailAddress": _sender(message.from_address, "From"),
        "Destination": {"ToAddresses": [_recipient(message)]},
        "Content": {
            "Simple": {
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": message.text, "Charset": "UTF-8"},
                    "Html": {"Data": message.html, "Charset": "UTF-8"},
                },
                "Headers": headers,
            }
        },
    }
    if message.reply_to:
        request["ReplyToAddresses"] = [_sender(message.reply_to, "Reply-To")]
    if configuration_set:
        request["ConfigurationSetName"] = configuration_set
    if tags:
        # Sent with or without a configuration set named here: an identity's default
        # configuration set publishes events too, and they carry the tags back.
        request["EmailTags"] = [{"Name": k, "Value": v} for k, v in tags.items()]
    return request


class SesTransport:
    """sesv2 SendEmail with Simple content (HTML + text) and our own headers."""

    name = "SES"

    def __init__(
        self,
        *,
        configuration_set: str | None = None,
        max_connections: int = 32,
        read_timeout: float = 20,
    ) -> None:
        import boto3
        from botocore.config import Config

        region = aws_region()
        config = Config(
            region_name=region,
            # We pace and retry ourselves, per message, so each attempt is counted and
            # logged; botocore's own retries would hide them.
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=max_connections,
            connect_timeout=5,
            read_timeout=read_timeout,
            tcp_keepalive=True,
        )
        self.client = boto3.client("sesv2", config=config)
        self.client.meta.events.register("before-send.sesv2.SendEmail", _before_send)
        self.configuration_set = configuration_set

    def quota(self) -> Quota | None:
        """The account's quota, or None where the endpoint has no GetAccount (moto: 404)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            account = self.client.get_account()
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code", "")
            if status == 404 or code in ("404", "NotFoundException", "NotImplemented"):
                return None
            raise _failure(exc) from None
        except BotoCoreError as exc:
            raise SendFailure("account", f"cannot reach SES: {exc}") from None
        quota = account.get("SendQuota", {})
        return Quota(
            sending_enabled=bool(account.get("SendingEnabled", True)),
            max_24_hour_send=float(quota.get("Max24HourSend", 0)),
            max_send_rate=float(quota.get("MaxSendRate", 0)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0)),
        )

    def request(self, message: Message, tags: dict[str, str]) -> dict[str, Any]:
        return build_request(message, tags, self.configuration_set)

    def send(self, message: Message, tags: dict[str, str], *, gate: Gate | None = None) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            NoCredentialsError,
            ParamValidationError,
            ReadTimeoutError,
        )

        request = self.request(message, tags)  # before the gate: a bad one never waits
        _local.gate = gate
        try:
            response = self.client.send_email(**request)
        except ClientError as exc:
            raise _failure(exc) from None
        except NoCredentialsError:
            raise SendFailure(
                "account", "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID)"
            ) from None
        except ParamValidationError as exc:  # checked by botocore before anything is sent
            raise SendFailure("permanent", f"cannot build the message: {exc}") from None
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise SendFailure("ambiguous", f"{type(exc).__name__}: {exc}") from None
        except BotoCoreError as exc:  # connection refused, connect timeouts: never sent
            raise SendFailure("transient", f"{type(exc).__name__}: {exc}") from None
        finally:
            _local.gate = None
        return str(response["MessageId"])


def _failure(exc: Any) -> SendFailure:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return classify(str(error.get("Code", "")), str(error.get("Message", "")), status)
