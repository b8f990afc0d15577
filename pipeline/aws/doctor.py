"""`doctor`: every condition of a real send, each `ok`, `warn` or `fail` with the fix in
one line. Checks never stop at the first problem: a publisher fixes everything in one pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit

from pipeline.aws.check import FAIL, OK, WARN, Check
from pipeline.aws.clients import AccessDenied, Aws, AwsError, call, subscriptions
from pipeline.aws.dnscheck import Dns, DnsUnavailable, dns_checks
from pipeline.aws.setup import PENDING
from pipeline.settings import Settings

SETUP: Final = "run `newsletter aws setup`"


class Doctor:
    def __init__(
        self,
        settings: Settings,
        aws: Aws,
        *,
        dns: Dns | None = None,
        fetch: Callable[[str], int] | None = None,
    ) -> None:
        self.settings = settings
        self.aws = aws
        self.dns = dns or Dns(settings.dns_servers)
        self.fetch = fetch or _http_status
        self.domain = settings.sender_domain.lower()
        self.identity: dict[str, Any] | None = None

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for area, group in (
            ("settings", self._settings),
            ("account", self._account),
            ("identity", self._identity),
            ("dns", self._dns),
            ("events", self._events),
            ("web", self._web),
        ):
            try:
                checks.extend(group())
            except AccessDenied as exc:
                checks.append(Check(area, exc.action, FAIL, exc.message, exc.hint or ""))
            except AwsError as exc:
                checks.append(Check(area, "AWS", FAIL, exc.message, exc.hint or ""))
            except DnsUnavailable as exc:
                checks.append(Check(area, "DNS", FAIL, f"no answer: {exc}", "check `dns_servers`"))
        return checks

    # --- settings -----------------------------------------------------------------------

    def _settings(self) -> Iterator[Check]:
        s = self.settings
        key = s.secret_key.get_secret_value() if s.secret_key else ""
        if not key:
            yield Check("settings", "secret_key", FAIL, "not set", _SECRET)
        elif len(key) < 32:
            yield Check("settings", "secret_key", WARN, f"{len(key)} characters", _SECRET)
        else:
            yield Check("settings", "secret_key", OK, f"{len(key)} characters")
        url = urlsplit(s.public_url)
        if url.scheme == "https":
            yield Check("settings", "public_url", OK, s.public_url)
        elif _loopback(url.hostname or ""):
            yield Check(
                "settings",
                "public_url",
                WARN,
                f"{s.public_url} is this machine: fine for a trial, no reader can reach it",
                "set public_url to the https address of your proxy",
            )
        else:
            yield Check(
                "settings",
                "public_url",
                FAIL,
                f"{s.public_url} is not https: unsubscribe links and SNS need it",
                "serve the app behind an HTTPS proxy and set public_url to its https address",
            )
        postal = s.postal_address.strip()
        if not postal or "example street" in postal.lower():
            yield Check(
                "settings",
                "postal_address",
                FAIL,
                "missing or the sample's" if postal else "missing",
                "set postal_address to your real postal address (CAN-SPAM asks for one)",
            )
        else:
            yield Check("settings", "postal_address", OK, postal.splitlines()[0])

    # --- the SES account ----------------------------------------------------------------

    def _account(self) -> Iterator[Check]:
        account = call(self.aws.ses, "ses:GetAccount")
        if account is None:
            yield Check("account", "SES account", FAIL, "GetAccount is not answered here")
            return
        if not account.get("SendingEnabled", True):
            yield Check(
                "account",
                "sending",
                FAIL,
                f"disabled ({account.get('EnforcementStatus', '?')})",
                "read the message from AWS about your account, fix the cause, and ask "
                "AWS Support to enable sending again",
            )
        else:
            yield Check("account", "sending", OK, "enabled")
        if account.get("ProductionAccessEnabled"):
            yield Check("account", "production access", OK, "out of the sandbox")
        else:
            yield Check(
                "account",
                "production access",
                WARN,
                "in the sandbox: mail goes only to verified addresses, 200 a day",
                "request production access: `aws sesv2 put-account-details` or the SES "
                "console's 'Request production access'",
            )
        quota = account.get("SendQuota", {})
        yield Check(
            "account",
            "quota",
            OK,
            f"{quota.get('SentLast24Hours', 0):,.0f} of {quota.get('Max24HourSend', 0):,.0f} "
            f"in 24 hours, {quota.get('MaxSendRate', 0):g} per second",
        )

    # --- the identity -------------------------------------------------------------------

    def _identity(self) -> Iterator[Check]:
        self.identity = call(self.aws.ses, "ses:GetEmailIdentity", EmailIdentity=self.domain)
        if self.identity is None:
            yield Check(
                "identity",
                self.domain,
                FAIL,
                f"no SES identity for {self.domain}, the domain of from_address",
                SETUP,
            )
            return
        if self.identity.get("VerifiedForSendingStatus"):
            yield Check("identity", self.domain, OK, "verified for sending")
        else:
            yield Check(
                "identity",
                self.domain,
                FAIL,
                "not verified for sending",
                "publish the DKIM records `aws setup` printed and wait for DKIM",
            )
        dkim = self.identity.get("DkimAttributes", {}).get("Status", "NOT_STARTED")
        yield Check(
            "identity",
            "DKIM",
            OK if dkim == "SUCCESS" else FAIL,
            dkim,
            ""
            if dkim == "SUCCESS"
            else "publish the three DKIM CNAMEs; SES checks them for 72 hours",
        )
        mail_from = self.identity.get("MailFromAttributes", {})
        domain = mail_from.get("MailFromDomain")
        status = mail_from.get("MailFromDomainStatus", "")
        if not domain:
            yield Check("identity", "MAIL FROM", FAIL, "SES's own domain: SPF cannot align", SETUP)
        elif domain.lower() != self.settings.mail_from:
            yield Check(
                "identity",
                "MAIL FROM",
                FAIL,
                f"{domain}, not {self.settings.mail_from}",
                SETUP,
            )
        else:
            yield Check(
                "identity",
                "MAIL FROM",
                OK if status == "SUCCESS" else FAIL,
                f"{domain}: {status}",
                "" if status == "SUCCESS" else "publish its MX and SPF records",
            )

    # --- DNS ---------------------------------------------------------------------------

    def _dns(self) -> Iterator[Check]:
        tokens = (self.identity or {}).get("DkimAttributes", {}).get("Tokens", [])
        return dns_checks(self.dns, self.domain, self.settings.mail_from, self.aws.region, tokens)

    # --- the events' wiring -------------------------------------------------------------

    def _events(self) -> Iterator[Check]:
        s = self.settings
        name = s.configuration_set
        if not name:
            yield Check(
                "events",
                "configuration_set",
                FAIL,
                "not set: SES sends no events, bounces are never recorded",
                SETUP,
            )
            return
        found = call(self.aws.ses, "ses:GetConfigurationSet", ConfigurationSetName=name)
        if found is None:
            yield Check("events", f"configuration set {name}", FAIL, "does not exist", SETUP)
            return
        yield Check("events", f"configuration set {name}", OK, "exists")
        destinations = call(
            self.aws.ses, "ses:GetConfigurationSetEventDestinations", ConfigurationSetName=name
        )
        topics = {
            d["SnsDestination"]["TopicArn"]
            for d in (destinations or {}).get("EventDestinations", [])
            if d.get("Enabled")
            and d.get("SnsDestination", {}).get("TopicArn") in s.sns_topic_arns
            and {"BOUNCE", "COMPLAINT"} <= set(d.get("MatchingEventTypes", []))
        }
        if not topics:
            yield Check(
                "events",
                "event destination",
                FAIL,
                "no enabled destination sends Bounce and Complaint to a topic in sns_topic_arns",
                SETUP,
            )
            return
        yield Check("events", "event destination", OK, ", ".join(sorted(topics)))
        yield self._subscription(sorted(topics))

    def _subscription(self, topics: list[str]) -> Check:
        endpoint = f"{self.settings.public_url}/ses/events"
        queue_arn = self._queue_arn()
        pending = False
        for topic in topics:
            for sub in subscriptions(self.aws.sns, topic):
                wanted = sub.get("Endpoint") == endpoint or (
                    queue_arn is not None and sub.get("Endpoint") == queue_arn
                )
                if wanted and sub.get("SubscriptionArn") == PENDING:
                    pending = True
                elif wanted:
                    what = (
                        "the queue `events poll` reads"
                        if sub.get("Protocol") == "sqs"
                        else endpoint
                    )
                    return Check("events", "subscription", OK, f"{what}, confirmed")
        if pending:
            return Check(
                "events",
                "subscription",
                FAIL,
                f"{endpoint} has not confirmed the subscription",
                "start `serve` with the topic in sns_topic_arns, then run `aws setup` "
                "again: SNS sends the confirmation again",
            )
        return Check(
            "events",
            "subscription",
            FAIL,
            f"no confirmed subscription to {endpoint} or to events_queue_url",
            SETUP,
        )

    def _queue_arn(self) -> str | None:
        url = self.settings.events_queue_url
        if not url:
            return None
        answer = call(
            self.aws.sqs, "sqs:GetQueueAttributes", QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return None if answer is None else str(answer["Attributes"]["QueueArn"])

    # --- the web app --------------------------------------------------------------------

    def _web(self) -> Iterator[Check]:
        url = f"{self.settings.public_url}/healthz"
        try:
            status = self.fetch(url)
        except OSError as exc:
            yield Check(
                "web",
                "/healthz",
                FAIL,
                f"{url}: {exc}",
                "start `newsletter serve` and the proxy in front of it",
            )
            return
        if status == 200:
            yield Check("web", "/healthz", OK, f"{url} answers 200")
        else:
            yield Check(
                "web",
                "/healthz",
                FAIL,
                f"{url} answers {status}",
                "see `serve`'s log (503: its database is unreachable)",
            )


_SECRET: Final = "set NEWSLETTER_SECRET_KEY to `openssl rand -hex 32` in .env"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _http_status(url: str) -> int:
    import httpx

    try:
        return httpx.get(url, timeout=5.0, follow_redirects=False).status_code
    except httpx.HTTPError as exc:
        raise OSError(str(exc) or type(exc).__name__) from None
