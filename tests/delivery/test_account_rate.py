"""The pace comes from the account: SES's MaxSendRate by default, `--rate` only lowers it,
and where GetAccount is missing the command says so and goes on at 14/s."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import SAMPLE_ISSUE
from tests.support.sending import Cli, make_list, ok, people, refused, use_ses
from tests.support.ses_stub import SesStub, default_account


def send(cli: Cli, *args: str) -> str:
    return ok(cli("send", SAMPLE_ISSUE, "--list", "weekly", "--yes", *args)).output


@pytest.mark.parametrize(
    ("account_rate", "args", "expected"),
    [
        (40.0, (), "rate:       40/s"),  # the account's rate, with no flag
        (40.0, ("--rate", "10"), "rate:       10/s"),  # --rate lowers it
        (40.0, ("--rate", "500"), "rate:       40/s"),  # and never raises it
    ],
)
def test_the_pace_is_the_accounts_rate_unless_lowered(
    cli: Cli,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    account_rate: float,
    args: tuple[str, ...],
    expected: str,
) -> None:
    with SesStub(account=default_account(max_send_rate=account_rate)) as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", people(3))
        output = send(cli, *args)
    assert expected in output
    assert "campaign finished: 3 sent" in output


def test_without_get_account_it_says_so_and_goes_on_at_14(
    cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SesStub(account=None) as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", people(2))
        output = send(cli)
    assert "does not report the account quota (GetAccount); going on at 14/s" in output
    assert "campaign finished: 2 sent" in output


@pytest.mark.single_backend  # never opens the store
def test_a_rate_that_is_not_positive_is_refused(cli: Cli, project: Path) -> None:
    refused(cli("send", SAMPLE_ISSUE, "--list", "weekly", "--rate", "0"), "--rate")
