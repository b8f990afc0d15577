"""`aws setup`: what the account has, what it lacks, and the steps that make it whole.

`Setup.plan()` only reads (Get*, List*), so `--dry-run` and the question before anything
changes show exactly what `apply` will do; each step is idempotent, so a second run finds
everything in place and has nothing to do.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Any, Final

from pipeline.aws import records as dns_records
from pipeline.aws.clients import Aws, call, find_topic, subscriptions
from pipeline.aws.dnscheck import Dns, DnsUnavailable
from pipeline.errors import ConfigError
from pipeline.settings import Settings

# What the app records (README, "Listening"); Open and Click only with --track.
EVENT_TYPES: Final = (
    "SEND",
    "DELIVERY",
    "BOUNCE",
    "COMPLAINT",
    "REJECT",
    "DELIVERY_DELAY",
    "RENDERING_FAILURE",
)
TRACKING_TYPES: Final = ("OPEN", "CLICK")
DESTINATION: Final = "newsletter-sns"
PENDING: Final = "PendingConfirmation"


def safe_name(text: str) -> str:
    """A name SES, SNS and SQS all take (letters, digits, '-', '_'; at most 64)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:64] or "newsletter"


@dataclass
class Step:
    """One thing setup checks: `state` is `ok` (in place), `create`, `update` or `wait`."""

    subject: str
    state: str
    detail: str
    run: Callable[[], None] | None = field(default=None, repr=False)

    def as_row(self) -> dict[str, str]:
        return {"what": self.subject, "state": self.state, "detail": self.detail}


@dataclass
class Outcome:
    steps: list[Step]
    records: list[dns_records.Record]
    settings: dict[str, Any]  # what newsletter.toml should hold
    pending_subscription: bool


class Setup:
    def __init__(
        self,
        aws: Aws,
        settings: Settings,
        *,
        queue: bool = False,
        track: bool = False,
        dns: Dns | None = None,
        confirm_wait: float = 10.0,
    ) -> None:
        self.aws = aws
        self.settings = settings
        self.queue = queue
        self.track = track
        self.dns = dns or Dns(settings.dns_servers)
        self.confirm_wait = confirm_wait
        self.domain = settings.sender_domain.lower()
        self.mail_from = settings.mail_from
        self.configuration_set = settings.configuration_set or safe_name(settings.list_id)
        self.topic_name = f"{self.configuration_set}-ses-events"
        self.endpoint = f"{settings.public_url}/ses/events"
        self.protocol = "https" if self.endpoint.startswith("https:") else "http"
        self.identity: dict[str, Any] | None = None
        self.topic_arn: str | None = None
        self.queue_url: str | None = None
        self.queue_arn: str | None = None
        self.configuration_set_found = False

    @property
    def event_types(self) -> list[str]:
        return sorted([*EVENT_TYPES, *(TRACKING_TYPES if self.track else ())])

    # --- reading ------------------------------------------------------------------------

    def plan(self) -> list[Step]:
        if not self.mail_from.endswith("." + self.domain):
            # SES takes only a subdomain of the identity, and only one aligns SPF for DMARC.
            raise ConfigError(
                f"mail_from_domain {self.mail_from} is not a subdomain of {self.domain}, "
                "the domain of from_address",
                hint=f"leave it out (bounce.{self.domain}) or name a subdomain of {self.domain}",
            )
        return [
            *self._identity_steps(),
            self._configuration_set_step(),
            self._topic_step(),
            self._destination_step(),
            *(self._queue_steps() if self.queue else [self._https_subscription_step()]),
        ]

    def _identity_steps(self) -> Iterator[Step]:
        ses = self.aws.ses
        self.identity = call(ses, "ses:GetEmailIdentity", EmailIdentity=self.domain)
        subject = f"identity {self.domain}"
        if self.identity is None:
            yield Step(subject, "create", "a domain identity with Easy DKIM", self._create_identity)
        else:
            dkim = self.identity.get("DkimAttributes", {}).get("Status", "NOT_STARTED")
            verified = (
                "verified" if self.identity.get("VerifiedForSendingStatus") else "not verified"
            )
            yield Step(subject, "ok", f"{verified}, DKIM {dkim}")
        mail_from = (self.identity or {}).get("MailFromAttributes", {})
        subject = f"MAIL FROM {self.mail_from}"
        if mail_from.get("MailFromDomain", "").lower() == self.mail_from:
            yield Step(subject, "ok", mail_from.get("MailFromDomainStatus", ""))
        else:
            now = mail_from.get("MailFromDomain") or "amazonses.com (SES's own)"
            yield Step(subject, "update", f"now {now}", self._set_mail_from)

    def _configuration_set_step(self) -> Step:
        found = call(
            self.aws.ses, "ses:GetConfigurationSet", ConfigurationSetName=self.configuration_set
        )
        subject = f"configuration set {self.configuration_set}"
        self.configuration_set_found = found is not None
        if found is None:
            return Step(subject, "create", "", self._create_configuration_set)
        return Step(subject, "ok", "")

    def _topic_step(self) -> Step:
        self.topic_arn = find_topic(self.aws.sns, self.topic_name)
        subject = f"SNS topic {self.topic_name}"
        if self.topic_arn is None:
            return Step(subject, "create", "", self._create_topic)
        return Step(subject, "ok", self.topic_arn)

    def _destination_step(self) -> Step:
        subject = f"event destination {DESTINATION}"
        found = None
        if self.configuration_set_found:
            answer = call(
                self.aws.ses,
                "ses:GetConfigurationSetEventDestinations",
                ConfigurationSetName=self.configuration_set,
            )
            for destination in (answer or {}).get("EventDestinations", []):
                if destination.get("Name") == DESTINATION:
                    found = destination
        if found is not None and set(TRACKING_TYPES) & set(found.get("MatchingEventTypes", [])):
            self.track = True  # a run without --track never turns tracking off
        wanted = ", ".join(t.title().replace("_", "") for t in self.event_types) + " to the topic"
        if found is None:
            return Step(subject, "create", wanted, lambda: self._put_destination(create=True))
        same = (
            found.get("Enabled")
            and sorted(found.get("MatchingEventTypes", [])) == self.event_types
            and found.get("SnsDestination", {}).get("TopicArn") == self.topic_arn
        )
        if same:
            return Step(subject, "ok", wanted)
        return Step(subject, "update", wanted, lambda: self._put_destination(create=False))

    def _subscription(self, protocol: str, endpoint: str) -> dict[str, Any] | None:
        if self.topic_arn is None:
            return None
        for subscription in subscriptions(self.aws.sns, self.topic_arn):
            if (
                subscription.get("Protocol") == protocol
                and subscription.get("Endpoint") == endpoint
            ):
                return subscription
        return None

    def _https_subscription_step(self) -> Step:
        subject = f"subscription {self.endpoint}"
        found = self._subscription(self.protocol, self.endpoint)
        if found is None:
            return Step(subject, "create", "the app confirms it", self._subscribe_endpoint)
        if found.get("SubscriptionArn") == PENDING:
            return Step(
                subject,
                "update",
                "pending confirmation: ask SNS to send it again",
                self._subscribe_endpoint,
            )
        return Step(subject, "ok", "confirmed")

    def _queue_steps(self) -> Iterator[Step]:
        name = self.topic_name
        answer = call(self.aws.sqs, "sqs:GetQueueUrl", QueueName=name)
        self.queue_url = answer["QueueUrl"] if answer else None
        subject = f"SQS queue {name}"
        if self.queue_url is None:
            yield Step(subject, "create", "", self._create_queue)
            yield Step(
                "queue policy", "create", "lets the topic write to the queue", self._set_policy
            )
            yield Step("subscription of the queue", "create", "", self._subscribe_queue)
            return
        yield Step(subject, "ok", self.queue_url)
        attributes = call(
            self.aws.sqs,
            "sqs:GetQueueAttributes",
            QueueUrl=self.queue_url,
            AttributeNames=["QueueArn", "Policy"],
        )["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        policy = attributes.get("Policy")
        if self.topic_arn is not None and policy and json.loads(policy) == self._policy():
            yield Step("queue policy", "ok", "the topic may write to the queue")
        else:
            yield Step(
                "queue policy", "update", "lets the topic write to the queue", self._set_policy
            )
        if self._subscription("sqs", self.queue_arn) is None:
            yield Step("subscription of the queue", "create", "", self._subscribe_queue)
        else:
            yield Step("subscription of the queue", "ok", "confirmed")

    # --- doing --------------------------------------------------------------------------

    def apply(self, steps: list[Step], on_step: Callable[[Step], None] | None = None) -> Outcome:
        for step in steps:
            if step.run is not None:
                step.run()
                if on_step is not None:
                    on_step(step)
        pending = False
        if not self.queue:
            pending = self._wait_for_confirmation()
        return Outcome(steps, self.records(), self.settings_values(), pending)

    def _create_identity(self) -> None:
        call(self.aws.ses, "ses:CreateEmailIdentity", EmailIdentity=self.domain)
        self.identity = call(self.aws.ses, "ses:GetEmailIdentity", EmailIdentity=self.domain)

    def _set_mail_from(self) -> None:
        call(
            self.aws.ses,
            "ses:PutEmailIdentityMailFromAttributes",
            EmailIdentity=self.domain,
            MailFromDomain=self.mail_from,
            BehaviorOnMxFailure="USE_DEFAULT_VALUE",
        )

    def _create_configuration_set(self) -> None:
        call(
            self.aws.ses, "ses:CreateConfigurationSet", ConfigurationSetName=self.configuration_set
        )

    def _create_topic(self) -> None:
        self.topic_arn = call(self.aws.sns, "sns:CreateTopic", Name=self.topic_name)["TopicArn"]

    def _put_destination(self, *, create: bool) -> None:
        destination = {
            "Enabled": True,
            "MatchingEventTypes": self.event_types,
            "SnsDestination": {"TopicArn": self.topic_arn},
        }
        action = (
            "ses:CreateConfigurationSetEventDestination"
            if create
            else "ses:UpdateConfigurationSetEventDestination"
        )
        call(
            self.aws.ses,
            action,
            ConfigurationSetName=self.configuration_set,
            EventDestinationName=DESTINATION,
            EventDestination=destination,
        )

    def _subscribe_endpoint(self) -> None:
        call(
            self.aws.sns,
            "sns:Subscribe",
            TopicArn=self.topic_arn,
            Protocol=self.protocol,
            Endpoint=self.endpoint,
        )

    def _create_queue(self) -> None:
        self.queue_url = call(self.aws.sqs, "sqs:CreateQueue", QueueName=self.topic_name)[
            "QueueUrl"
        ]
        attributes = call(
            self.aws.sqs,
            "sqs:GetQueueAttributes",
            QueueUrl=self.queue_url,
            AttributeNames=["QueueArn"],
        )["Attributes"]
        self.queue_arn = attributes["QueueArn"]

    def _policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "newsletter-ses-events",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": self.queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}},
                }
            ],
        }

    def _set_policy(self) -> None:
        call(
            self.aws.sqs,
            "sqs:SetQueueAttributes",
            QueueUrl=self.queue_url,
            Attributes={"Policy": json.dumps(self._policy())},
        )

    def _subscribe_queue(self) -> None:
        call(
            self.aws.sns,
            "sns:Subscribe",
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
        )

    def _wait_for_confirmation(self) -> bool:
        """True while the endpoint's subscription waits for the app to confirm it."""
        deadline = time.monotonic() + self.confirm_wait
        while True:
            found = self._subscription(self.protocol, self.endpoint)
            if found is not None and found.get("SubscriptionArn") != PENDING:
                return False
            if time.monotonic() >= deadline:
                return True
            time.sleep(1.0)

    # --- results ------------------------------------------------------------------------

    def records(self) -> list[dns_records.Record]:
        tokens = list((self.identity or {}).get("DkimAttributes", {}).get("Tokens", []))
        try:
            has_dmarc = self.dns.dmarc(self.domain) is not None
        except DnsUnavailable:
            has_dmarc = False
        # Reports go to a mailbox someone reads: the reply address, else the sender's.
        report_to = parseaddr(self.settings.reply_to or self.settings.from_address)[1]
        return dns_records.records(
            self.domain,
            tokens,
            self.mail_from,
            self.aws.region,
            dmarc_to=None if has_dmarc else report_to,
        )

    def settings_values(self) -> dict[str, Any]:
        arns = list(self.settings.sns_topic_arns)
        if self.topic_arn and self.topic_arn not in arns:
            arns.append(self.topic_arn)
        values: dict[str, Any] = {
            "configuration_set": self.configuration_set,
            "sns_topic_arns": arns,
        }
        if self.queue and self.queue_url:
            values["events_queue_url"] = self.queue_url
        return values
