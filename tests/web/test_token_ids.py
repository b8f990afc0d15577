"""A link signed with our own key but naming an id no store holds (2^63 and beyond, zero,
a time past year 9999) gets the same 'bad link' answer as a forged one, never a 500.

The tokens are signed here as tokens.py signs them (its `sign` refuses such ids)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.audience.tokens import CONFIRM, TEST_COPY, UNSUBSCRIBE, Signer, make_token
from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support.cli import TEST_SECRET
from tests.support.properties import examples

U64 = 2**64 - 1
LAST_SECOND = 253402300799  # 9999-12-31 23:59:59 UTC
# Ids no store holds: the top half of the unsigned range (PostgreSQL's bigint and SQLite's
# integer end at 2^63 - 1), its edges, and zero.
IDS = st.one_of(st.sampled_from([0, 2**63, 2**63 + 1, U64]), st.integers(2**63, U64))
ANY_ID = st.one_of(IDS, st.integers(1, 2**63 - 1))


def signed(signer: Signer, *fields: int) -> str:
    kind = signer.kind
    payload = kind.payload.pack(kind.marker, *fields)
    tag = hmac.new(TEST_SECRET.encode(), kind.purpose + payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(payload + tag[: kind.tag_bytes]).decode("ascii")


def forged(signer: Signer) -> str:
    token = signed(signer, *[1] * (len(signer.kind.payload.format) - 2))
    return token[:-2] + ("AA" if token[-2:] != "AA" else "BB")


@pytest.fixture
def client(project: Path, asgi_client) -> Iterator[httpx.Client]:
    store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
    app = create_app(load_settings(), store, issues=Path("."))
    yield asgi_client(app)
    store.close()


def answers(client: httpx.Client, path: str) -> list[tuple[int, str]]:
    """What a reader (GET, the page's POST) and a mail client (one click) get."""
    return [
        (r.status_code, r.text)
        for r in (
            client.get(path),
            client.post(path, data={"action": "leave-all"}),
            client.post(path, data={"List-Unsubscribe": "One-Click"}),
        )
    ]


SETTINGS = hypothesis_settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(ids=st.tuples(ANY_ID, ANY_ID).filter(lambda ids: max(ids) >= 2**63 or min(ids) == 0))
def test_an_unsubscribe_link_of_an_id_no_store_holds_is_a_bad_link(
    client: httpx.Client, ids: tuple[int, int]
) -> None:
    bad = answers(client, f"/unsubscribe/{forged(UNSUBSCRIBE)}")
    assert {status for status, _ in bad} == {400}
    assert answers(client, f"/unsubscribe/{signed(UNSUBSCRIBE, *ids)}") == bad


@SETTINGS
@given(number=IDS.filter(lambda n: n > 0))
def test_a_test_copy_link_of_an_issue_no_store_holds_is_a_bad_link(
    client: httpx.Client, number: int
) -> None:
    bad = answers(client, f"/unsubscribe/{forged(TEST_COPY)}")
    assert answers(client, f"/unsubscribe/{signed(TEST_COPY, number)}") == bad


TIMES = st.one_of(st.integers(0, LAST_SECOND), st.integers(LAST_SECOND + 1, U64))


@SETTINGS
@given(
    fields=st.tuples(ANY_ID, TIMES).filter(
        lambda f: f[0] == 0 or f[0] >= 2**63 or f[1] > LAST_SECOND
    )
)
def test_a_confirmation_link_of_an_id_or_time_no_store_holds_is_a_bad_link(
    client: httpx.Client, fields: tuple[int, int]
) -> None:
    bad = [client.get(f"/confirm/{forged(CONFIRM)}"), client.post(f"/confirm/{forged(CONFIRM)}")]
    assert {r.status_code for r in bad} == {400}
    path = f"/confirm/{signed(CONFIRM, *fields)}"
    got = [client.get(path), client.post(path)]
    assert [(r.status_code, r.text) for r in got] == [(r.status_code, r.text) for r in bad]


@pytest.mark.parametrize("ids", [(-1, 1), (1, -1), (0, 1), (2**63, 1), (1, 2**64)])
@pytest.mark.single_backend  # never opens the store
def test_no_token_is_signed_for_an_id_no_store_holds(ids: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        make_token(TEST_SECRET.encode(), *ids)
