"""`newsletter aws setup` against the stateful AWS stub: plan, confirm, do, and nothing
the second time; the DNS records; newsletter.toml written with its comments kept; a
missing IAM permission named with its policy line; the SQS variant for `events poll`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from pipeline.aws.clients import IAM_ACTIONS
from pipeline.db import Store
from pipeline.db.schema import events
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support.aws_stub import ACCOUNT_ID, AwsStub
from tests.support.cli import ROOT, ok, refused
from tests.support.sns_fixtures import bounce_permanent

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:weekly-example-com-ses-events"
ENDPOINT = "https://weekly.example.com/ses/events"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/weekly-example-com-ses-events"
CREATED = [
    "ses:CreateEmailIdentity",
    "ses:PutEmailIdentityMailFromAttributes",
    "ses:CreateConfigurationSet",
    "sns:CreateTopic",
    "ses:CreateConfigurationSetEventDestination",
    "sns:Subscribe",
]


@pytest.fixture
def app(aws: AwsStub, asgi_client, monkeypatch: pytest.MonkeyPatch, store: Store) -> None:
    """The web app (in-process) at public_url, trusting the topic setup makes: the stub's
    SNS POSTs to it."""
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARNS", json.dumps([TOPIC]))
    client = asgi_client(create_app(load_settings(), store))

    def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        assert url.startswith("https://weekly.example.com/")
        return int(client.post(urlsplit(url).path, content=body, headers=headers).status_code)

    aws.deliver = deliver


@pytest.mark.usefixtures("app")
def test_setup_makes_everything_once_and_the_second_run_has_nothing_to_do(
    cli, aws: AwsStub, dns_stub, project: Path
) -> None:
    before = (project / "newsletter.toml").read_text()
    first = ok(cli("aws", "setup", "--yes"))
    assert aws.writes() == CREATED
    identity = aws.identities["example.com"]
    assert identity.mail_from == "bounce.example.com"
    destination = aws.configuration_sets["weekly-example-com"]["newsletter-sns"]
    assert destination["SnsDestination"] == {"TopicArn": TOPIC}
    assert set(destination["MatchingEventTypes"]) == {
        "SEND",
        "DELIVERY",
        "BOUNCE",
        "COMPLAINT",
        "REJECT",
        "DELIVERY_DELAY",
        "RENDERING_FAILURE",
    }
    # The app confirmed the subscription itself (a signed SubscriptionConfirmation).
    subscription = aws.subscription(ENDPOINT)
    assert subscription is not None and subscription.confirmed
    assert (ENDPOINT, "SubscriptionConfirmation", 200) in aws.deliveries
    # The DNS records, as a zone-file snippet (and a table): DKIM, MAIL FROM, DMARC.
    for token in identity.tokens:
        assert (
            f"{token}._domainkey.example.com.\t3600\tIN\tCNAME\t{token}.dkim.amazonses.com."
            in first.stdout
        )
    assert (
        "bounce.example.com.\t3600\tIN\tMX\t10 feedback-smtp.us-east-1.amazonses.com."
        in first.stdout
    )
    assert 'bounce.example.com.\t3600\tIN\tTXT\t"v=spf1 include:amazonses.com ~all"' in first.stdout
    assert (
        '_dmarc.example.com.\t3600\tIN\tTXT\t"v=DMARC1; p=none; rua=mailto:editors@example.com"'
        in first.stdout
    )
    # newsletter.toml: the two settings added at the top level (before its tables, such as
    # [theme]), every comment and line kept in its order (blank lines aside).
    after = (project / "newsletter.toml").read_text()
    old_lines, new_lines = ([x for x in t.splitlines() if x.strip()] for t in (before, after))
    added = [line for line in new_lines if line not in old_lines]
    assert added == ['configuration_set = "weekly-example-com"', f'sns_topic_arns = ["{TOPIC}"]']
    assert [line for line in new_lines if line not in added] == old_lines
    assert tomllib.loads(after)["configuration_set"] == "weekly-example-com"
    assert tomllib.loads(after)["sns_topic_arns"] == [TOPIC]

    assert set(aws.calls) <= set(IAM_ACTIONS)
    aws.calls.clear()
    second = ok(cli("aws", "setup", "--yes"))
    assert aws.writes() == []
    assert "nothing to do" in second.stderr
    assert (project / "newsletter.toml").read_text() == after


@pytest.mark.usefixtures("app")
def test_dry_run_and_an_unanswered_question_change_nothing(
    cli, aws: AwsStub, dns_stub, project: Path
) -> None:
    before = (project / "newsletter.toml").read_text()
    dry = ok(cli("aws", "setup", "--dry-run"))
    assert "create" in dry.stdout and "6 change(s) to make; nothing changed" in dry.stderr
    refused(cli("aws", "setup"), "not confirmed", "--yes")
    assert aws.writes() == []
    assert (project / "newsletter.toml").read_text() == before


@pytest.mark.usefixtures("app")
def test_a_domain_with_dmarc_gets_no_dmarc_record_and_print_writes_no_file(
    cli, aws: AwsStub, dns_stub, project: Path
) -> None:
    dns_stub.add("_dmarc.example.com", "TXT", "v=DMARC1; p=quarantine")
    before = (project / "newsletter.toml").read_text()
    result = ok(cli("aws", "setup", "--yes", "--print"))
    assert "_dmarc" not in result.stdout
    assert 'configuration_set = "weekly-example-com"' in result.stdout
    assert TOPIC in result.stdout
    assert (project / "newsletter.toml").read_text() == before


@pytest.mark.usefixtures("app")
def test_a_missing_permission_names_the_action_and_the_policy_line(
    cli, aws: AwsStub, dns_stub
) -> None:
    aws.deny = {"sns:Subscribe"}
    result = refused(cli("aws", "setup", "--yes"), "sns:Subscribe")
    assert '{"Effect": "Allow", "Action": "sns:Subscribe", "Resource": "*"}' in result.stderr
    aws.deny = {"ses:GetEmailIdentity"}
    refused(cli("aws", "setup", "--dry-run"), "AWS refused ses:GetEmailIdentity")


def test_a_subscription_the_app_did_not_confirm_is_asked_for_again(
    cli, aws: AwsStub, dns_stub, asgi_client, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` started before the topic was in sns_topic_arns refuses the confirmation;
    after its restart, a second `aws setup` asks SNS to send it again."""
    old = asgi_client(create_app(load_settings(), store))  # trusts no topic yet
    aws.deliver = lambda url, body, headers: (
        old.post("/ses/events", content=body, headers=headers).status_code
    )
    first = ok(cli("aws", "setup", "--yes", "--wait", "0"))
    assert "waits for confirmation" in first.stderr
    assert (ENDPOINT, "SubscriptionConfirmation", 403) in aws.deliveries
    restarted = asgi_client(create_app(load_settings(), store))  # reads the new settings
    aws.deliver = lambda url, body, headers: (
        restarted.post("/ses/events", content=body, headers=headers).status_code
    )
    aws.calls.clear()
    ok(cli("aws", "setup", "--yes"))
    assert aws.writes() == ["sns:Subscribe"]
    subscription = aws.subscription(ENDPOINT)
    assert subscription is not None and subscription.confirmed


def test_queue_setup_writes_the_queue_and_events_poll_reads_it(
    cli, aws: AwsStub, dns_stub, project: Path, store: Store
) -> None:
    ok(cli("aws", "setup", "--yes", "--queue", "--track"))
    queue = aws.queues[QUEUE_URL]
    policy = json.loads(queue.attributes["Policy"])["Statement"][0]
    assert policy["Principal"] == {"Service": "sns.amazonaws.com"}
    assert policy["Condition"] == {"ArnEquals": {"aws:SourceArn": TOPIC}}
    assert policy["Resource"] == queue.arn
    destination = aws.configuration_sets["weekly-example-com"]["newsletter-sns"]
    assert {"OPEN", "CLICK"} <= set(destination["MatchingEventTypes"])
    assert tomllib.loads((project / "newsletter.toml").read_text())["events_queue_url"] == QUEUE_URL
    assert set(aws.calls) <= set(IAM_ACTIONS)
    aws.calls.clear()
    ok(cli("aws", "setup", "--yes", "--queue"))  # without --track: tracking stays
    assert aws.writes() == []

    aws.publish(TOPIC, bounce_permanent(recipient="gone@example.org"))
    ok(cli("events", "poll", "--once", "--wait", "0"))
    with store.begin(write=False) as tx:
        assert tx.conn.execute(sa.select(events.c.event_type)).scalars().all() == ["Bounce"]


def test_a_mail_from_domain_outside_the_sender_domain_is_refused_before_any_call(
    cli, aws: AwsStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_MAIL_FROM_DOMAIN", "bounce.other.example")
    refused(cli("aws", "setup", "--dry-run"), "not a subdomain of example.com")
    assert aws.calls == []


def test_events_poll_without_a_queue_says_where_one_comes_from(cli, project: Path) -> None:
    refused(cli("events", "poll", "--once"), "no queue to poll", "aws setup --queue")


def test_the_readme_lists_every_iam_action_the_commands_use() -> None:
    policy = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [action for action in IAM_ACTIONS if f'"{action}"' not in policy] == []
