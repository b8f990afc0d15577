"""A stateful stub of the AWS account `aws setup` and `doctor` talk to: SES v2 (identities
with their DKIM and MAIL FROM states, GetAccount, configuration sets and event
destinations, SendEmail), SNS (topics, subscriptions confirmed for real, notifications
signed like SNS's) and SQS (queues, their policy, receive and delete), on one loopback port.

moto's server has neither SES v2 event destinations nor GetAccount, so this stub extends
the tests' SES stub (`ses_stub.SesStub`: SendEmail, GetAccount, faults) with the rest.
Point boto3 at it with `use_aws(monkeypatch, stub.endpoint_url)`::

    with AwsStub() as aws:
        ...  # `newsletter aws setup --yes`
        aws.verify("example.com")  # DKIM and MAIL FROM found, as after the DNS is published

The shapes follow botocore's service models (`sesv2/2019-09-27`, `sns/2010-03-31`,
`sqs/2012-11-05`): SES v2 is REST-JSON, SNS the query protocol (form in, XML out), SQS
JSON 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`).

- **IAM.** `deny` holds IAM actions (`"sns:Subscribe"`) the credentials lack: each answers
  as AWS does (SES `AccessDeniedException`, SNS `AuthorizationError`, SQS `AccessDenied`).
  `calls` lists every action called, in order.
- **Subscriptions.** `Subscribe` to an http(s) endpoint POSTs a signed
  SubscriptionConfirmation to it before answering; its SubscribeURL is on `sns` (an
  `SnsTestServer`, https on loopback, which also serves the signing certificate), and
  the subscription is confirmed once that URL was fetched. Subscribing again while it
  waits sends the confirmation again. SQS subscriptions are confirmed at once.
- **Mailbox simulator.** A message to `success@`, `bounce@` or `complaint@`
  `simulator.amazonses.com` through a configuration set publishes its events (Send and
  Delivery; Send and a permanent Bounce; Send, Delivery and Complaint), as far as the
  set's enabled SNS destinations match them, to every confirmed subscription of their
  topic: signed notifications POSTed to http(s) endpoints, envelopes into SQS queues. This
  happens before SendEmail answers, so the events have arrived when the call returns.
- `deliver(url, body, headers) -> status` is how the stub POSTs (default: real HTTP);
  `deliveries` records `(url, type, status)` of every POST.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support import sns_fixtures as sns
from tests.support.ses_stub import AcceptedMessage, SesStub, _Handler

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
SIMULATOR = "simulator.amazonses.com"
_SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"
# The simulator's mailboxes and the events SES publishes for each.
_SIMULATED = {
    "success": ("SEND", "DELIVERY"),
    "bounce": ("SEND", "BOUNCE"),
    "complaint": ("SEND", "DELIVERY", "COMPLAINT"),
}

Deliver = Callable[[str, bytes, dict[str, str]], int]


def use_aws(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> None:
    """Point boto3's SES v2, SNS and SQS clients at the stub (and nothing of the user's)."""
    from tests.support.sending import use_ses

    use_ses(monkeypatch, endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint_url)


@dataclass
class Identity:
    domain: str
    tokens: list[str] = field(default_factory=lambda: [secrets.token_hex(16) for _ in range(3)])
    dkim: str = "PENDING"
    mail_from: str | None = None
    mail_from_status: str = "PENDING"

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "IdentityType": "DOMAIN",
            "FeedbackForwardingStatus": True,
            "VerifiedForSendingStatus": self.dkim == "SUCCESS",
            "VerificationStatus": self.dkim,
            "DkimAttributes": {
                "SigningEnabled": True,
                "Status": self.dkim,
                "Tokens": self.tokens,
                "SigningAttributesOrigin": "AWS_SES",
            },
            "Policies": {},
            "Tags": [],
        }
        if self.mail_from:
            answer["MailFromAttributes"] = {
                "MailFromDomain": self.mail_from,
                "MailFromDomainStatus": self.mail_from_status,
                "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
            }
        return answer


@dataclass
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    token: str = field(default_factory=lambda: secrets.token_hex(32))
    confirmed: bool = False


@dataclass
class Queue:
    name: str
    url: str
    attributes: dict[str, str] = field(default_factory=dict)
    messages: deque[dict[str, str]] = field(default_factory=deque)

    @property
    def arn(self) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{self.name}"


class _Denied(Exception):
    pass


class AwsStub(SesStub):
    def __init__(self, *, signing_key: rsa.RSAPrivateKey | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.signing_key = signing_key or sns.new_signing_key()
        self.sns = sns.SnsTestServer(certificate=sns.self_signed_certificate(self.signing_key))
        self.identities: dict[str, Identity] = {}
        self.configuration_sets: dict[str, dict[str, dict[str, Any]]] = {}
        self.topics: dict[str, list[Subscription]] = {}
        self.queues: dict[str, Queue] = {}
        self.deny: set[str] = set()
        self.calls: list[str] = []
        self.deliveries: list[tuple[str, str, int]] = []
        self.deliver: Deliver = _post
        self._state = threading.RLock()

    # --- lifecycle and test helpers -------------------------------------------------------

    def start(self) -> AwsStub:
        self.sns.__enter__()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.sns.__exit__(None, None, None)

    def verify(self, domain: str, *, dkim: str = "SUCCESS", mail_from: str = "SUCCESS") -> None:
        """SES found the records: the identity's DKIM and MAIL FROM states."""
        with self._state:
            identity = self.identities[domain]
            identity.dkim = dkim
            identity.mail_from_status = mail_from

    def writes(self) -> list[str]:
        """The actions called that change something (Create*, Put*, Set*, Subscribe...)."""
        reads = re.compile(r":(Get|List|Receive)")
        return [call for call in self.calls if not reads.search(call)]

    def subscription(self, endpoint: str) -> Subscription | None:
        with self._state:
            for subscriptions in self.topics.values():
                for found in subscriptions:
                    self._refresh(found)
                    if found.endpoint == endpoint:
                        return found
        return None

    def publish(self, topic_arn: str, event: dict[str, Any]) -> None:
        """Publish an SES event to the topic as SNS would: signed, to every confirmed
        subscription."""
        envelope = sns.sign(
            sns.notification(event, topic_arn=topic_arn, cert_url=self.sns.cert_url),
            self.signing_key,
        )
        with self._state:
            subscriptions = list(self.topics.get(topic_arn, []))
            for found in subscriptions:
                self._refresh(found)
        for found in subscriptions:
            if not found.confirmed:
                continue
            if found.protocol == "sqs":
                self._enqueue(found.endpoint, json.dumps(envelope))
            else:
                self._post(found, envelope)

    # --- routing ----------------------------------------------------------------------------

    def _route(self, handler: _Handler, path: str, body: bytes) -> bool:
        target = handler.headers.get("X-Amz-Target", "")
        try:
            if path.startswith("/v2/email/"):
                return self._ses(handler, handler.command, path, body)
            if target.startswith("AmazonSQS."):
                self._sqs(handler, target.partition(".")[2], json.loads(body or b"{}"))
                return True
            if handler.command == "POST" and path == "/":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                self._sns(handler, form)
                return True
        except _Denied as exc:
            action = str(exc)
            message = (
                f"User: arn:aws:iam::{ACCOUNT_ID}:user/newsletter is not authorized to "
                f"perform: {action} because no identity-based policy allows the "
                f"{action} action"
            )
            if action.startswith("ses:"):
                handler.respond_error(403, "AccessDeniedException", message)
            elif action.startswith("sqs:"):
                self._sqs_error(handler, 403, "AccessDenied", message)
            else:
                self._sns_error(handler, 403, "AuthorizationError", message)
            return True
        return False

    def _allow(self, action: str) -> None:
        with self._state:
            self.calls.append(action)
        if action in self.deny:
            raise _Denied(action)

    def _handle_account(self, handler: _Handler) -> None:
        try:
            self._allow("ses:GetAccount")
        except _Denied:
            handler.respond_error(403, "AccessDeniedException", "not authorized: ses:GetAccount")
            return
        super()._handle_account(handler)

    # --- SES v2 -----------------------------------------------------------------------------

    def _ses(self, handler: _Handler, method: str, path: str, body: bytes) -> bool:
        parts = [unquote(p) for p in path.removeprefix("/v2/email/").split("/")]
        request = json.loads(body) if body else {}
        with self._state:
            if parts[0] == "identities":
                return self._identity(handler, method, parts[1:], request)
            if parts[0] == "configuration-sets":
                return self._configuration_set(handler, method, parts[1:], request)
        return False

    def _identity(
        self, handler: _Handler, method: str, parts: list[str], request: dict[str, Any]
    ) -> bool:
        if method == "POST" and not parts:
            self._allow("ses:CreateEmailIdentity")
            domain = request["EmailIdentity"].lower()
            if domain in self.identities:
                handler.respond_error(400, "AlreadyExistsException", f"{domain} exists")
                return True
            self.identities[domain] = identity = Identity(domain)
            found = identity.as_json()
            answer = {k: found[k] for k in ("IdentityType", "VerifiedForSendingStatus")}
            _json(handler, {**answer, "DkimAttributes": found["DkimAttributes"]})
            return True
        if not parts:
            return False
        domain = parts[0].lower()
        identity = self.identities.get(domain)
        if method == "GET" and len(parts) == 1:
            self._allow("ses:GetEmailIdentity")
            if identity is None:
                handler.respond_error(
                    404, "NotFoundException", f"Email identity {domain} does not exist."
                )
            else:
                _json(handler, identity.as_json())
            return True
        if method == "PUT" and parts[1:] == ["mail-from"]:
            self._allow("ses:PutEmailIdentityMailFromAttributes")
            if identity is None:
                handler.respond_error(
                    404, "NotFoundException", f"Email identity {domain} does not exist."
                )
                return True
            identity.mail_from = request.get("MailFromDomain") or None
            identity.mail_from_status = "PENDING"
            _json(handler, {})
            return True
        return False

    def _configuration_set(
        self, handler: _Handler, method: str, parts: list[str], request: dict[str, Any]
    ) -> bool:
        if method == "POST" and not parts:
            self._allow("ses:CreateConfigurationSet")
            name = request["ConfigurationSetName"]
            if name in self.configuration_sets:
                handler.respond_error(400, "AlreadyExistsException", f"{name} exists")
            else:
                self.configuration_sets[name] = {}
                _json(handler, {})
            return True
        if not parts:
            return False
        name, rest = parts[0], parts[1:]
        destinations = self.configuration_sets.get(name)
        action = {
            ("GET", 0): "ses:GetConfigurationSet",
            ("GET", 1): "ses:GetConfigurationSetEventDestinations",
            ("POST", 1): "ses:CreateConfigurationSetEventDestination",
            ("PUT", 2): "ses:UpdateConfigurationSetEventDestination",
        }.get((method, len(rest)))
        if action is None or (rest and rest[0] != "event-destinations"):
            return False
        self._allow(action)
        if destinations is None:
            handler.respond_error(
                404, "NotFoundException", f"Configuration set <{name}> does not exist."
            )
            return True
        if action == "ses:GetConfigurationSet":
            _json(
                handler, {"ConfigurationSetName": name, "SendingOptions": {"SendingEnabled": True}}
            )
        elif action == "ses:GetConfigurationSetEventDestinations":
            _json(
                handler, {"EventDestinations": [{"Name": k, **v} for k, v in destinations.items()]}
            )
        elif action == "ses:CreateConfigurationSetEventDestination":
            key = request["EventDestinationName"]
            if key in destinations:
                handler.respond_error(400, "AlreadyExistsException", f"{key} exists")
                return True
            destinations[key] = request["EventDestination"]
            _json(handler, {})
        else:
            if rest[1] not in destinations:
                handler.respond_error(404, "NotFoundException", f"{rest[1]} does not exist")
                return True
            destinations[rest[1]] = request["EventDestination"]
            _json(handler, {})
        return True

    def _sent(self, message: AcceptedMessage) -> None:
        """The mailbox simulator: publish the events of simulator recipients."""
        with self._state:
            destinations = list(
                self.configuration_sets.get(message.configuration_set or "", {}).values()
            )
        for address in message.recipient_addresses:
            local, _, domain = address.partition("@")
            if domain != SIMULATOR or local not in _SIMULATED:
                continue
            for destination in destinations:
                topic = destination.get("SnsDestination", {}).get("TopicArn")
                wanted = set(destination.get("MatchingEventTypes", []))
                if not destination.get("Enabled") or not topic:
                    continue
                for kind in _SIMULATED[local]:
                    if kind in wanted:
                        self.publish(topic, _event(kind, message, address))

    # --- SNS --------------------------------------------------------------------------------

    def _sns(self, handler: _Handler, form: dict[str, str]) -> None:
        action = form.get("Action", "")
        self._allow(f"sns:{action}")
        with self._state:
            if action == "CreateTopic":
                arn = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{form['Name']}"
                self.topics.setdefault(arn, [])
                _sns_answer(handler, action, f"<TopicArn>{arn}</TopicArn>")
            elif action == "ListTopics":
                members = "".join(
                    f"<member><TopicArn>{escape(arn)}</TopicArn></member>" for arn in self.topics
                )
                _sns_answer(handler, action, f"<Topics>{members}</Topics>")
            elif action == "ListSubscriptionsByTopic":
                found = self.topics.get(form["TopicArn"])
                if found is None:
                    self._sns_error(handler, 404, "NotFound", "Topic does not exist")
                    return
                members = "".join(self._member(s) for s in found)
                _sns_answer(handler, action, f"<Subscriptions>{members}</Subscriptions>")
            elif action == "Subscribe":
                self._subscribe(handler, form)
            else:
                self._sns_error(handler, 400, "InvalidAction", f"{action} is not stubbed")

    def _member(self, subscription: Subscription) -> str:
        self._refresh(subscription)
        arn = subscription.arn if subscription.confirmed else "PendingConfirmation"
        return (
            f"<member><SubscriptionArn>{arn}</SubscriptionArn><Owner>{ACCOUNT_ID}</Owner>"
            f"<Protocol>{subscription.protocol}</Protocol>"
            f"<Endpoint>{escape(subscription.endpoint)}</Endpoint>"
            f"<TopicArn>{subscription.topic_arn}</TopicArn></member>"
        )

    def _subscribe(self, handler: _Handler, form: dict[str, str]) -> None:
        topic, protocol, endpoint = form["TopicArn"], form["Protocol"], form["Endpoint"]
        if topic not in self.topics:
            self._sns_error(handler, 404, "NotFound", "Topic does not exist")
            return
        found = next((s for s in self.topics[topic] if s.endpoint == endpoint), None)
        if found is None:
            found = Subscription(f"{topic}:{uuid.uuid4()}", topic, protocol, endpoint)
            found.confirmed = protocol == "sqs"
            self.topics[topic].append(found)
        self._refresh(found)
        if not found.confirmed:
            message = sns.subscription_confirmation(
                self.sns.confirm_url(found.token),
                token=found.token,
                topic_arn=topic,
                cert_url=self.sns.cert_url,
            )
            self._post(found, sns.sign(message, self.signing_key))
        arn = found.arn if found.confirmed else "pending confirmation"
        _sns_answer(handler, "Subscribe", f"<SubscriptionArn>{arn}</SubscriptionArn>")

    def _refresh(self, subscription: Subscription) -> None:
        if not subscription.confirmed and subscription.token in self.sns.confirmations:
            subscription.confirmed = True

    def _post(self, subscription: Subscription, envelope: dict[str, Any]) -> None:
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": envelope["Type"],
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": envelope["TopicArn"],
        }
        status = self.deliver(subscription.endpoint, sns.to_body(envelope), headers)
        with self._state:
            self.deliveries.append((subscription.endpoint, envelope["Type"], status))
            self._refresh(subscription)

    def _sns_error(self, handler: _Handler, status: int, code: str, message: str) -> None:
        body = (
            f'<ErrorResponse xmlns="{_SNS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )
        handler.respond(status, body.encode(), content_type="text/xml")

    # --- SQS --------------------------------------------------------------------------------

    def _sqs(self, handler: _Handler, operation: str, request: dict[str, Any]) -> None:
        self._allow(f"sqs:{operation}")
        with self._state:
            if operation == "CreateQueue":
                name = request["QueueName"]
                url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
                queue = self.queues.setdefault(url, Queue(name, url))
                queue.attributes.update(request.get("Attributes", {}))
                _json(handler, {"QueueUrl": url})
                return
            if operation == "GetQueueUrl":
                found = [q for q in self.queues.values() if q.name == request["QueueName"]]
                if found:
                    _json(handler, {"QueueUrl": found[0].url})
                else:
                    self._sqs_error(
                        handler, 400, "QueueDoesNotExist", "The specified queue does not exist."
                    )
                return
            queue = self.queues.get(request.get("QueueUrl", ""))
            if queue is None:
                self._sqs_error(
                    handler, 400, "QueueDoesNotExist", "The specified queue does not exist."
                )
                return
            if operation == "GetQueueAttributes":
                _json(handler, {"Attributes": {"QueueArn": queue.arn, **queue.attributes}})
            elif operation == "SetQueueAttributes":
                queue.attributes.update(request.get("Attributes", {}))
                _json(handler, {})
            elif operation == "ReceiveMessage":
                count = int(request.get("MaxNumberOfMessages", 1))
                taken = [queue.messages.popleft() for _ in range(min(count, len(queue.messages)))]
                _json(handler, {"Messages": taken} if taken else {})
            elif operation == "DeleteMessageBatch":
                ids = [entry["Id"] for entry in request.get("Entries", [])]
                _json(handler, {"Successful": [{"Id": i} for i in ids], "Failed": []})
            else:
                self._sqs_error(handler, 400, "InvalidAction", f"{operation} is not stubbed")

    def _enqueue(self, queue_arn: str, body: str) -> None:
        with self._state:
            for queue in self.queues.values():
                if queue.arn == queue_arn:
                    queue.messages.append(
                        {
                            "MessageId": str(uuid.uuid4()),
                            "ReceiptHandle": secrets.token_hex(16),
                            "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                            "Body": body,
                        }
                    )

    def _sqs_error(self, handler: _Handler, status: int, code: str, message: str) -> None:
        body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message})
        handler.respond(status, body.encode(), content_type="application/x-amz-json-1.0")


def _json(handler: _Handler, value: dict[str, Any]) -> None:
    handler.respond(200, json.dumps(value).encode())


def _sns_answer(handler: _Handler, action: str, inner: str) -> None:
    body = (
        f'<{action}Response xmlns="{_SNS_NS}"><{action}Result>{inner}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )
    handler.respond(200, body.encode(), content_type="text/xml")


def _event(kind: str, message: AcceptedMessage, address: str) -> dict[str, Any]:
    builders = {
        "DELIVERY": sns.delivery,
        "BOUNCE": sns.bounce_permanent,
        "COMPLAINT": sns.complaint,
    }
    if kind == "SEND":
        event: dict[str, Any] = {
            "eventType": "Send",
            "mail": sns.ses_mail(message.message_id, address),
            "send": {},
        }
    else:
        event = builders[kind](message.message_id, address)
    tags = {name: [value] for name, value in message.tags.items()}
    event["mail"]["tags"] = {**tags, "ses:configuration-set": [message.configuration_set]}
    return event


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST as SNS does, over real HTTP (verified TLS for https: the test CA via SSL_CERT_FILE)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


__all__ = ["ACCOUNT_ID", "REGION", "AwsStub", "use_aws"]
