"""`newsletter doctor` against the AWS stub, a DNS server on loopback and a running `serve`
(the app on a real socket in this process): a working set-up passes, a broken one names
each broken link with its fix, and `--round-trip` brings the mailbox simulator's events
back through the wiring without leaving a trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.aws.clients import IAM_ACTIONS
from pipeline.db import Store
from pipeline.db.schema import events, subscribers
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support.aws_stub import ACCOUNT_ID, AwsStub
from tests.support.cli import ok
from tests.support.dns_stub import DnsStub

TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:weekly-example-com-ses-events"
POSTAL = "Article Weekly, 7 Sejong-daero, Jung-gu, Seoul 04519"


@pytest.fixture
def served(
    aws: AwsStub, dns_stub: DnsStub, serve_app, store: Store, monkeypatch: pytest.MonkeyPatch
) -> str:
    """`serve` running (trusting the topic setup makes) at public_url; a real postal address."""
    monkeypatch.setenv("NEWSLETTER_SNS_TOPIC_ARNS", json.dumps([TOPIC]))
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", POSTAL)
    url = str(serve_app(create_app(load_settings(), store)))
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", url)
    return url


def set_up(cli, aws: AwsStub, dns: DnsStub, *options: str) -> None:
    """`aws setup`, then the DNS records published and found by SES."""
    ok(cli("aws", "setup", "--yes", *options))
    aws.verify("example.com")
    for token in aws.identities["example.com"].tokens:
        dns.add(f"{token}._domainkey.example.com", "CNAME", f"{token}.dkim.amazonses.com.")
    dns.add("bounce.example.com", "MX", "10 feedback-smtp.us-east-1.amazonses.com.")
    dns.add("bounce.example.com", "TXT", "v=spf1 include:amazonses.com ~all")
    dns.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none; rua=mailto:dmarc@example.com")


def doctor(cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("doctor", "--format", "json", *args)
    assert "Traceback" not in result.output
    return result.code, json.loads(result.stdout)


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {check["name"]: check["status"] for check in report["checks"]}


def test_a_working_set_up_passes(cli, aws: AwsStub, dns_stub: DnsStub, served: str) -> None:
    set_up(cli, aws, dns_stub)
    code, report = doctor(cli)
    found = statuses(report)
    assert code == 0, report
    assert found["public_url"] == "warn"  # loopback http: a trial, not for readers
    assert {name: s for name, s in found.items() if s != "ok"} == {"public_url": "warn"}
    assert found["subscription"] == "ok" and found["/healthz"] == "ok"
    assert report["summary"]["failed"] is False
    table = cli("doctor")
    assert table.code == 0 and "0 fail" in table.stderr


def test_a_broken_set_up_names_each_broken_link(
    cli, aws: AwsStub, dns_stub: DnsStub, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_up(cli, aws, dns_stub)
    tokens = aws.identities["example.com"].tokens
    dns_stub.remove(f"{tokens[0]}._domainkey.example.com", "CNAME")
    dns_stub.remove(f"{tokens[1]}._domainkey.example.com", "CNAME")
    dns_stub.add(f"{tokens[1]}._domainkey.example.com", "CNAME", "elsewhere.example.net.")
    dns_stub.remove("bounce.example.com", "TXT")
    dns_stub.add("bounce.example.com", "TXT", "v=spf1 -all")
    dns_stub.remove("_dmarc.example.com", "TXT")
    dns_stub.add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; aspf=s")
    aws.verify("example.com", dkim="PENDING", mail_from="FAILED")
    aws.account = {**aws.account, "ProductionAccessEnabled": False, "SendingEnabled": False}
    aws.configuration_sets["weekly-example-com"]["newsletter-sns"]["MatchingEventTypes"] = ["SEND"]
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "123 Example Street")

    code, report = doctor(cli)
    assert code == 1
    by_name = {check["name"]: check for check in report["checks"]}
    expected = {
        "postal_address": "fail",
        "sending": "fail",
        "production access": "warn",
        "example.com": "fail",
        "DKIM": "fail",
        "MAIL FROM": "fail",
        "SPF bounce.example.com": "fail",
        f"DKIM {tokens[0]}._domainkey.example.com": "fail",
        f"DKIM {tokens[1]}._domainkey.example.com": "fail",
        f"DKIM {tokens[2]}._domainkey.example.com": "ok",
        "DMARC _dmarc.example.com": "warn",
        "event destination": "fail",
    }
    assert {name: by_name[name]["status"] for name in expected} == expected
    assert "elsewhere.example.net" in by_name[f"DKIM {tokens[1]}._domainkey.example.com"]["detail"]
    assert "include:amazonses.com" in by_name["SPF bounce.example.com"]["fix"]
    assert all(check["fix"] for check in report["checks"] if check["status"] == "fail")


def test_missing_pieces_and_an_unreachable_app_are_failures(
    cli, aws: AwsStub, dns_stub: DnsStub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing set up yet, and no app at public_url: each names `aws setup` or its fix."""
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("NEWSLETTER_MAIL_FROM_DOMAIN", "bounce.other.example")
    dns_stub.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    code, report = doctor(cli)
    found = statuses(report)
    assert code == 1
    assert found["example.com"] == "fail" and found["configuration_set"] == "fail"
    assert found["SPF bounce.other.example"] == "fail"
    assert found["DMARC _dmarc.example.com"] == "fail"  # the MAIL FROM domain cannot align
    assert found["/healthz"] == "fail"
    aws.deny = {"ses:GetAccount"}
    code, report = doctor(cli)
    denied = [c for c in report["checks"] if c["name"] == "ses:GetAccount"]
    assert denied and '"Action": "ses:GetAccount"' in denied[0]["fix"]


def test_round_trip_brings_the_simulator_events_back_and_leaves_no_trace(
    cli, aws: AwsStub, dns_stub: DnsStub, served: str, store: Store
) -> None:
    set_up(cli, aws, dns_stub)
    ok(cli("lists", "create", "weekly"))
    ok(cli("subscribers", "add", "bounce@simulator.amazonses.com", "--list", "weekly"))
    code, report = doctor(cli, "--round-trip")
    assert code == 0, report
    assert sorted(trip["event"] for trip in report["round_trip"]) == [
        "Bounce",
        "Complaint",
        "Delivery",
    ]
    assert all(trip["seconds"] is not None for trip in report["round_trip"])
    assert set(aws.calls) <= set(IAM_ACTIONS)  # every action called is in the README's list
    sent = [m for m in aws.accepted if m.tags.get("newsletter-doctor")]
    assert len(sent) == 3 and {m.configuration_set for m in sent} == {"weekly-example-com"}
    # Delivered through `serve` (signed notifications), then cleaned away; nobody suppressed.
    assert sum(1 for d in aws.deliveries if d[1] == "Notification" and d[2] == 200) == 7
    with store.begin(write=False) as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0
        status = tx.conn.execute(sa.select(subscribers.c.status)).scalar()
    assert status == "active"


def test_round_trip_through_the_queue_is_drained_as_events_poll_would(
    cli, aws: AwsStub, dns_stub: DnsStub, served: str, store: Store
) -> None:
    set_up(cli, aws, dns_stub, "--queue")  # no subscription of `serve`: only the queue
    code, report = doctor(cli, "--round-trip")
    assert code == 0, report
    assert statuses(report)["subscription"] == "ok"
    assert all(trip["seconds"] is not None for trip in report["round_trip"])
    assert all(not queue.messages for queue in aws.queues.values())
    with store.begin(write=False) as tx:
        assert tx.conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 0


def test_round_trip_without_the_wiring_fails_after_its_timeout(
    cli, aws: AwsStub, dns_stub: DnsStub, served: str
) -> None:
    set_up(cli, aws, dns_stub)
    aws.configuration_sets["weekly-example-com"]["newsletter-sns"]["Enabled"] = False
    code, report = doctor(cli, "--round-trip", "--timeout", "0")
    assert code == 1
    assert [trip["seconds"] for trip in report["round_trip"]] == [None, None, None]
