"""The SNS verifier at its edges: each bound just inside and just outside, found by
mutating sns_verify.py (a `>` made `>=`, a check dropped) and closing what survived."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pipeline.feedback.sns import SnsError, parse_envelope
from pipeline.feedback.sns_verify import FUTURE_SKEW, SnsVerifier
from tests.support.sns_fixtures import (
    LOOPBACK_HOSTS,
    TOPIC_ARN,
    Json,
    SnsTestServer,
    bounce_permanent,
    new_signing_key,
    notification,
    self_signed_certificate,
    sign,
    sns_timestamp,
    to_body,
)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
MAX_AGE = 3600.0


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def sns(key: rsa.RSAPrivateKey) -> Iterator[SnsTestServer]:
    with SnsTestServer(certificate=self_signed_certificate(key)) as server:
        for name in ("a", "b", "c"):
            server.serve_certificate(
                self_signed_certificate(key), f"SimpleNotificationService-{name}.pem"
            )
        ec_key = ec.generate_private_key(ec.SECP256R1())
        server.serve_certificate(
            self_signed_certificate(ec_key), "SimpleNotificationService-ec.pem"
        )
        server.statuses["/SimpleNotificationService-down.pem"] = 500
        yield server  # fmt: skip


def make_verifier(sns: SnsTestServer, **options: Any) -> SnsVerifier:
    options.setdefault("clock", NOW.timestamp)
    return SnsVerifier(
        [TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns.ca_bundle, **options
    )


def signed(key: rsa.RSAPrivateKey, cert_url: str, **options: Any) -> Json:
    options.setdefault("timestamp", sns_timestamp(NOW))
    return sign(notification(bounce_permanent("ses-1"), **options), key, "2", cert_url=cert_url)


def verify(verifier: SnsVerifier, envelope: Json) -> bool:
    """The replay flag of a message that verifies."""
    return verifier.verify(parse_envelope(to_body(envelope))).replay


def refused(action: Callable[[], Any], status: int) -> str:
    with pytest.raises(SnsError) as caught:
        action()
    assert caught.value.status == status, caught.value
    return str(caught.value)


def cert(sns: SnsTestServer, name: str) -> str:
    return sns.url(f"/SimpleNotificationService-{name}.pem")


@pytest.mark.parametrize(
    "age, accepted",
    [(MAX_AGE - 60, True), (MAX_AGE + 60, False), (-(FUTURE_SKEW - 60), True), (-(FUTURE_SKEW + 60), False)],
    ids=["just-fresh", "just-stale", "a-little-ahead", "too-far-ahead"],
)  # fmt: skip
def test_the_age_bounds(key, sns: SnsTestServer, age: float, accepted: bool) -> None:
    verifier = make_verifier(sns, max_age=MAX_AGE)
    envelope = signed(key, sns.cert_url, timestamp=sns_timestamp(NOW - dt.timedelta(seconds=age)))
    if accepted:
        verify(verifier, envelope)
    else:
        reason = "stale" if age > 0 else "in the future"
        assert reason in refused(lambda: verify(verifier, envelope), 403)


def test_an_unanchored_host_pattern_still_matches_the_whole_host(key, sns) -> None:
    """A pattern written without ^...$ must not trust sns.<region>.amazonaws.com.evil.example."""

    def no_fetch(url: str) -> bytes:
        raise AssertionError(f"fetched {url}")

    verifier = SnsVerifier(
        [TOPIC_ARN], cert_host_pattern=r"sns\.[a-z0-9-]+\.amazonaws\.com", fetch=no_fetch
    )
    url = "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem"
    assert "not trusted" in refused(lambda: verify(verifier, signed(key, url)), 403)


def test_a_certificate_host_answering_5xx_is_503_so_sns_retries(key, sns) -> None:
    refused(lambda: verify(make_verifier(sns), signed(key, cert(sns, "down"))), 503)


def test_a_certificate_without_an_rsa_key_is_refused(key, sns) -> None:
    message = refused(lambda: verify(make_verifier(sns), signed(key, cert(sns, "ec"))), 403)
    assert "RSA" in message


def test_a_signature_with_stray_characters_is_refused(key, sns) -> None:
    envelope = signed(key, sns.cert_url)
    good = envelope["Signature"]
    envelope["Signature"] = good[:10] + "*" + good[10:]  # b64decode would skip it silently
    assert "not base64" in refused(lambda: verify(make_verifier(sns), envelope), 403)


def test_the_certificate_cache_keeps_the_most_recently_used(key, sns) -> None:
    verifier = make_verifier(sns, max_certificates=2)
    counts = {name: sns.count(f"/SimpleNotificationService-{name}.pem") for name in "abc"}
    for name in ("a", "b", "a", "c"):  # c evicts b, the least recently used
        verify(verifier, signed(key, cert(sns, name)))
    verify(verifier, signed(key, cert(sns, "a")))
    verify(verifier, signed(key, cert(sns, "b")))
    fetched = {name: sns.count(f"/SimpleNotificationService-{name}.pem") - counts[name] for name in "abc"}  # fmt: skip
    assert fetched == {"a": 1, "b": 2, "c": 1}


def test_the_replay_memory_keeps_the_most_recently_seen(key, sns) -> None:
    verifier = make_verifier(sns, remember=2)
    m1, m2, m3 = (signed(key, sns.cert_url, message_id=f"m{i}") for i in (1, 2, 3))
    assert [verify(verifier, m) for m in (m1, m2, m1, m3)] == [False, False, True, False]
    assert verify(verifier, m1) is True  # seen again just before m3: kept
    assert verify(verifier, m2) is False  # the least recently seen: forgotten
