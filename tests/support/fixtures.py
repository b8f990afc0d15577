"""Fixtures many test modules share, registered for the whole suite by tests/conftest.py.

`stub` is the SES stub as the project's mail service: boto3 is pointed at it over real
HTTP. A module that needs another account or a slower stub overrides `ses_stub_options`.

`store` is the test's database (its backend's, from `database_url`), opened and migrated
as the library opens it. A module whose tests start with lists overrides `store_lists`;
one that needs more set-up overrides `store` itself, taking this one as its argument.
"""

from __future__ import annotations

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
