"""Fixtures many test modules share, registered for the whole suite by tests/conftest.py.

`stub` is the SES stub as the project's mail service: boto3 is pointed at it over real
HTTP. A module that needs another account or a slower stub overrides `ses_stub_options`.

`aws` is the whole AWS account as `aws setup` and `doctor` see it (SES v2, SNS and SQS, a
stateful stub on loopback); `dns_stub` a DNS server on loopback that `dns_servers` names.

`store` is the test's database (its backend's, from `database_url`), opened and migrated
as the library opens it. A module whose tests start with lists overrides `store_lists`;
one that needs more set-up overrides `store` itself, taking this one as its argument.

`processes` holds the processes a test starts (a `send` of its own), killed at its end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.audience import subscribers as lib
from pipeline.db import Store
from tests.support.sending import use_ses
from tests.support.ses_stub import SesStub, default_account


@pytest.fixture
def ses_stub_options() -> dict[str, Any]:
    """SesStub's arguments: an account whose rate never makes a test wait."""
    return {"account": default_account(max_send_rate=1000)}


@pytest.fixture
def stub(
    project: Path, monkeypatch: pytest.MonkeyPatch, ses_stub_options: dict[str, Any]
) -> Iterator[SesStub]:
    with SesStub(**ses_stub_options) as running:
        use_ses(monkeypatch, running.endpoint_url)
        yield running


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    """The (private) lists the store starts with."""
    return ()


@pytest.fixture
def store(database_url: str, store_lists: tuple[str, ...]) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        for name in store_lists:
            lib.create_list(opened, name)
        yield opened


@pytest.fixture(scope="session")
def sns_signing_key() -> Any:
    """The key the stubbed SNS signs with (an RSA key costs ~50 ms: one per run)."""
    from tests.support.sns_fixtures import new_signing_key

    return new_signing_key()


@pytest.fixture
def aws(project: Path, monkeypatch: pytest.MonkeyPatch, sns_signing_key: Any) -> Iterator[Any]:
    """The stateful AWS account stub (SES v2, SNS, SQS; tests/support/aws_stub.py) with
    boto3 pointed at it, and the project set to trust its SNS signing certificates."""
    from tests.support.aws_stub import AwsStub, use_aws
    from tests.support.sns_fixtures import LOOPBACK_HOSTS

    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with AwsStub(
        signing_key=sns_signing_key, account=default_account(max_send_rate=1000)
    ) as running:
        use_aws(monkeypatch, running.endpoint_url)
        monkeypatch.setenv("NEWSLETTER_SNS_CERT_HOST_PATTERN", LOOPBACK_HOSTS)
        monkeypatch.setenv("NEWSLETTER_SNS_CA_BUNDLE", running.sns.ca_bundle)
        yield running


@pytest.fixture
def dns_stub(monkeypatch: pytest.MonkeyPatch, project: Path) -> Iterator[Any]:
    """A DNS server on loopback (tests/support/dns_stub.py), named by `dns_servers`."""
    from tests.support.dns_stub import DnsStub

    with DnsStub() as running:
        monkeypatch.setenv("NEWSLETTER_DNS_SERVERS", f'["{running.address}"]')
        yield running


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes (a `send`) started by a test; killed at the end should a failing test
    leave one behind. A test using it is marked `subprocess` (tests/conftest.py)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()
