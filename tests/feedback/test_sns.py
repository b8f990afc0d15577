"""SNS message verification with real RSA signatures and real HTTPS on loopback.

A test CA and server certificate make 127.0.0.1 a trusted "sns.<region>.amazonaws.com"
(`cert_host_pattern=LOOPBACK_HOSTS`); the signing certificates are made here too.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.errors import ConfigError, NewsletterError
from pipeline.feedback.sns import (
    DEFAULT_CERT_HOST_PATTERN,
    SnsError,
    SnsMessage,
    parse_envelope,
    ses_events,
)
from pipeline.feedback.sns_verify import (
    SnsVerifier,
    VerifiedMessage,
    confirm_subscription,
    https_fetcher,
)
from pipeline.settings import load_settings
from tests.support.sns_fixtures import (
    CERT_PATH,
    LOOPBACK_HOSTS,
    OTHER_TOPIC_ARN,
    SES_EVENTS,
    TOPIC_ARN,
    Json,
    SnsTestServer,
    bounce_permanent,
    delivery,
    expired_certificate,
    new_signing_key,
    not_yet_valid_certificate,
    notification,
    self_signed_certificate,
    sign,
    sns_timestamp,
    subscription_confirmation,
    to_body,
)

EXPIRED_PATH = "/SimpleNotificationService-expired.pem"
FUTURE_PATH = "/SimpleNotificationService-future.pem"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; loopback must stay loopback."""
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def sns(
    tmp_path_factory: pytest.TempPathFactory, key: rsa.RSAPrivateKey
) -> Iterator[SnsTestServer]:
    with SnsTestServer(
        tmp_path_factory.mktemp("sns"), certificate=self_signed_certificate(key)
    ) as server:
        server.serve_certificate(expired_certificate(key), EXPIRED_PATH[1:])
        server.serve_certificate(not_yet_valid_certificate(key), FUTURE_PATH[1:])
        server.serve("/SimpleNotificationService-junk.pem", b"this is not a certificate\n")
        yield server


@pytest.fixture
def verifier(sns: SnsTestServer) -> SnsVerifier:
    """A fresh verifier (empty caches) trusting the loopback server and our topic."""
    return SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns.ca_bundle)


def no_fetch(url: str) -> bytes:
    raise AssertionError(f"fetched {url}")


def refused(action: Callable[[], Any], status: int) -> SnsError:
    with pytest.raises(SnsError) as caught:
        action()
    assert caught.value.status == status, caught.value
    return caught.value


def signed_bounce(key: rsa.RSAPrivateKey, cert_url: str, version: str = "2", **kw: Any) -> Json:
    return sign(notification(bounce_permanent("ses-msg-1"), **kw), key, version, cert_url=cert_url)


# --- valid messages ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("kind", sorted(SES_EVENTS))
def test_signed_notifications_verify_and_carry_the_ses_event(
    kind: str, version: str, key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    event = SES_EVENTS[kind](f"ses-{kind}")
    envelope = sign(notification(event), key, version, cert_url=sns.cert_url)

    message = parse_envelope(to_body(envelope))
    verified = verifier.verify(message)

    assert verified.message is message and verified.replay is False
    assert ses_events(message) == event
    assert ses_events(message)["mail"]["messageId"] == f"ses-{kind}"


def test_a_subject_is_part_of_what_is_signed(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    envelope = sign(
        notification(delivery(), subject="Amazon SES Email Event Notification"),
        key,
        cert_url=sns.cert_url,
    )
    verifier.verify(parse_envelope(to_body(envelope)))

    envelope["Subject"] = "Something else"
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "signature does not match" in str(error)


def test_a_classic_notification_type_event_is_returned_too(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    event = {
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent"},
        "mail": {"messageId": "m"},
    }
    message = parse_envelope(to_body(sign(notification(event), key, cert_url=sns.cert_url)))
    verifier.verify(message)
    assert ses_events(message)["notificationType"] == "Bounce"


# --- bad signatures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("Message", json.dumps(bounce_permanent("someone-else"))),
        ("MessageId", "00000000-0000-0000-0000-000000000000"),
        ("Timestamp", sns_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))),
        ("TopicArn", OTHER_TOPIC_ARN),
    ],
    ids=["Message", "MessageId", "Timestamp", "TopicArn"],  # the same ids in every xdist worker
)
def test_a_tampered_signed_field_is_refused(
    field: str, value: str, key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    verifier = SnsVerifier(
        [TOPIC_ARN, OTHER_TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns.ca_bundle
    )
    envelope = signed_bounce(key, sns.cert_url)
    envelope[field] = value
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "signature does not match" in str(error)


def test_a_signature_by_another_key_is_refused(
    other_key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    envelope = signed_bounce(other_key, sns.cert_url)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "signature does not match" in str(error)


@pytest.mark.parametrize("claimed", ["3", "0", "", "2.0"])
def test_an_unknown_signature_version_is_refused(
    claimed: str, key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, fetch=no_fetch)
    envelope = signed_bounce(key, sns.cert_url) | {"SignatureVersion": claimed}
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "unsupported SignatureVersion" in str(error)


@pytest.mark.parametrize("signed_with, claimed", [("1", "2"), ("2", "1")])
def test_a_signature_version_that_does_not_match_the_hash_is_refused(
    signed_with: str,
    claimed: str,
    key: rsa.RSAPrivateKey,
    sns: SnsTestServer,
    verifier: SnsVerifier,
) -> None:
    envelope = signed_bounce(key, sns.cert_url, signed_with) | {"SignatureVersion": claimed}
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "signature does not match" in str(error)


@pytest.mark.parametrize("signature", ["not base64!", "", "QUJD"])
def test_a_garbled_signature_is_refused(
    signature: str, key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    envelope = signed_bounce(key, sns.cert_url) | {"Signature": signature}
    refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)


@pytest.mark.parametrize("field", ["Signature", "SignatureVersion", "SigningCertURL"])
def test_an_unsigned_message_is_refused_with_403(
    field: str, key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    envelope = signed_bounce(key, sns.cert_url)
    del envelope[field]
    error = refused(lambda: parse_envelope(to_body(envelope)), 403)
    assert "unsigned" in str(error) and field in str(error)
    refused(lambda: parse_envelope(to_body(notification(delivery()))), 403)


# --- where the certificate comes from -------------------------------------------------------


def test_a_certificate_url_over_http_is_refused_without_fetching(
    key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, fetch=no_fetch)
    url = sns.cert_url.replace("https://", "http://")
    error = refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, url)))), 403)
    assert "not https" in str(error)


@pytest.mark.parametrize(
    "url, reason",
    [
        (
            "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-abc.pem",
            "not trusted",
        ),
        ("https://evil.example/sns.us-east-1.amazonaws.com/x.pem", "not trusted"),
        ("https://sns.us-east-1.amazonaws.com@evil.example/x.pem", "user info"),
        ("https://evil.example@sns.us-east-1.amazonaws.com/x.pem", "user info"),
        ("https://sns.us-east-1.amazonaws.com:443@evil.example/x.pem", "user info"),
        ("https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem", "characters"),
        ("https://sns.us-east-1.amazonaws.com /x.pem", "characters"),
        ("https://sns.us-east-1.amazonaws.com%2eevil.example/x.pem", "not trusted"),
        ("https://sns.us-east-1.amazonaws.com./x.pem", "not trusted"),
        ("https://sns.us-east-1.amazonaws.com:99999/x.pem", "invalid port"),
        ("https://sns.us-east-1.amazonaws.com:https/x.pem", "invalid port"),
        ("https://sns.us-east-1.amazonaws.com/x.txt", "not a .pem"),
        ("https://sns.us-east-1.amazonaws.com/x.pem?u=https://evil.example/y.pem", "not a .pem"),
        ("https://sns.us-east-1.amazonaws.com/x.pem#frag", "fragment"),
        ("https://snsXus-east-1.amazonaws.com/x.pem", "not trusted"),
        ("https://sns.us-east-1.amazonaws.com.cn.evil.example/x.pem", "not trusted"),
        ("https://[::1]/x.pem", "not trusted"),
        ("file:///etc/ssl/certs/x.pem", "not https"),
        ("//sns.us-east-1.amazonaws.com/x.pem", "not https"),
    ],
)
def test_a_certificate_url_on_an_untrusted_host_is_refused_without_fetching(
    url: str, reason: str, key: rsa.RSAPrivateKey
) -> None:
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=DEFAULT_CERT_HOST_PATTERN, fetch=no_fetch)
    envelope = signed_bounce(key, url)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert reason in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://SNS.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
def test_the_default_pattern_accepts_real_sns_certificate_urls(
    url: str, key: rsa.RSAPrivateKey
) -> None:
    fetched: list[str] = []

    def fetch(requested: str) -> bytes:
        fetched.append(requested)
        return b"not reached: the test only checks the URL is accepted"

    verifier = SnsVerifier([TOPIC_ARN], fetch=fetch)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, url)))), 403)
    assert fetched == [url] and "not a PEM certificate" in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1.evil.example/SimpleNotificationService-abc.pem",
        "https://evil.example/127.0.0.1/x.pem",
        "https://127.0.0.1@evil.example/x.pem",
        "https://evil.example@127.0.0.1/x.pem",
        "https://localhost/x.pem",
    ],
)
def test_the_loopback_pattern_is_as_strict(url: str, key: rsa.RSAPrivateKey) -> None:
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, fetch=no_fetch)
    refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, url)))), 403)


def test_a_redirect_from_the_trusted_host_is_not_followed(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    sns.redirects["/SimpleNotificationService-moved.pem"] = sns.cert_url
    url = sns.url("/SimpleNotificationService-moved.pem")
    before = sns.count(CERT_PATH)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, url)))), 403)
    assert "HTTP 302" in str(error) and sns.count(CERT_PATH) == before


def test_a_missing_or_junk_certificate_is_refused(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    missing = sns.url("/SimpleNotificationService-missing.pem")
    error = refused(
        lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, missing)))), 403
    )
    assert "HTTP 404" in str(error)
    junk = sns.url("/SimpleNotificationService-junk.pem")
    error = refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, junk)))), 403)
    assert "not a PEM certificate" in str(error)


def test_an_unreachable_certificate_host_answers_503_so_sns_retries(key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS)
    url = f"https://127.0.0.1:{port}/SimpleNotificationService-abc.pem"
    refused(lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, url)))), 503)


def test_tls_to_the_certificate_host_is_verified(
    key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    """Without the test CA, the loopback server's certificate is not trusted."""
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS)  # system CAs
    error = refused(
        lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, sns.cert_url)))), 503
    )
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


def test_the_fetcher_only_speaks_https(sns: SnsTestServer) -> None:
    fetch = https_fetcher(sns.ca_bundle)
    assert fetch(sns.cert_url).startswith(b"-----BEGIN CERTIFICATE-----")
    for url in ("file:///etc/passwd", sns.cert_url.replace("https:", "http:")):
        refused(lambda url=url: fetch(url), 403)


def test_a_response_larger_than_the_limit_is_refused(sns: SnsTestServer) -> None:
    url = sns.serve("/SimpleNotificationService-huge.pem", b"A" * 70_000)
    error = refused(lambda: https_fetcher(sns.ca_bundle)(url), 403)
    assert "more than 65536 bytes" in str(error)


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sns_ca_bundle"):
        SnsVerifier([TOPIC_ARN], ca_bundle=str(tmp_path / "missing.pem"))


# --- topics, certificate validity, freshness ---------------------------------------------------


def test_an_unknown_topic_is_refused(key: rsa.RSAPrivateKey, sns: SnsTestServer) -> None:
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, fetch=no_fetch)
    envelope = signed_bounce(key, sns.cert_url, topic_arn=OTHER_TOPIC_ARN)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert OTHER_TOPIC_ARN in str(error) and "sns_topic_arns" in str(error)


def test_with_no_topic_configured_everything_is_refused(
    key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    verifier = SnsVerifier([], cert_host_pattern=LOOPBACK_HOSTS, fetch=no_fetch)
    error = refused(
        lambda: verifier.verify(parse_envelope(to_body(signed_bounce(key, sns.cert_url)))), 403
    )
    assert "configure sns_topic_arns" in str(error)


@pytest.mark.parametrize(
    "path, reason", [(EXPIRED_PATH, "expired"), (FUTURE_PATH, "not valid yet")]
)
def test_a_certificate_outside_its_validity_is_refused(
    path: str, reason: str, key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    envelope = signed_bounce(key, sns.url(path))
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert reason in str(error)


def test_a_cached_certificate_is_refused_once_it_expires(
    key: rsa.RSAPrivateKey, sns: SnsTestServer
) -> None:
    now = [time.time()]
    verifier = SnsVerifier(
        [TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns.ca_bundle, clock=lambda: now[0]
    )
    verifier.verify(parse_envelope(to_body(signed_bounce(key, sns.cert_url))))
    now[0] += 400 * 86400  # past the certificate's end; the message is fresh for that clock
    later = sns_timestamp(dt.datetime.fromtimestamp(now[0], dt.UTC))
    envelope = signed_bounce(key, sns.cert_url, timestamp=later)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "expired" in str(error)


def test_a_stale_message_is_refused(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    two_hours_ago = sns_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    envelope = signed_bounce(key, sns.cert_url, timestamp=two_hours_ago)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "stale" in str(error) and "more than 3600 s" in str(error)


def test_a_message_from_the_future_is_refused(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    tomorrow = sns_timestamp(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    envelope = signed_bounce(key, sns.cert_url, timestamp=tomorrow)
    error = refused(lambda: verifier.verify(parse_envelope(to_body(envelope))), 403)
    assert "future" in str(error)


# --- replays and the certificate cache ----------------------------------------------------------


def test_a_replayed_message_id_is_flagged(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    body = to_body(signed_bounce(key, sns.cert_url))
    assert verifier.verify(parse_envelope(body)).replay is False
    assert verifier.verify(parse_envelope(body)).replay is True
    other = to_body(signed_bounce(key, sns.cert_url))
    assert verifier.verify(parse_envelope(other)).replay is False


def test_only_verified_messages_are_remembered(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    """A forger who guesses a MessageId cannot make the real message look like a replay."""
    real = signed_bounce(key, sns.cert_url, message_id="guessed-id")
    forged = signed_bounce(other_key, sns.cert_url, message_id="guessed-id")
    refused(lambda: verifier.verify(parse_envelope(to_body(forged))), 403)
    assert verifier.verify(parse_envelope(to_body(real))).replay is False


def test_the_replay_memory_is_bounded(key: rsa.RSAPrivateKey, sns: SnsTestServer) -> None:
    verifier = SnsVerifier(
        [TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns.ca_bundle, remember=2
    )
    bodies = [to_body(signed_bounce(key, sns.cert_url)) for _ in range(3)]
    for body in bodies:
        verifier.verify(parse_envelope(body))
    assert verifier.verify(parse_envelope(bodies[2])).replay is True
    assert verifier.verify(parse_envelope(bodies[0])).replay is False  # forgotten (oldest)


def test_the_certificate_is_fetched_once_for_many_messages(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    before = sns.count(CERT_PATH)
    for index in range(20):
        event = SES_EVENTS[sorted(SES_EVENTS)[index % len(SES_EVENTS)]]()
        verifier.verify(
            parse_envelope(to_body(sign(notification(event), key, "2", cert_url=sns.cert_url)))
        )
    assert sns.count(CERT_PATH) - before == 1


# --- subscription confirmation ------------------------------------------------------------------


def test_a_verified_subscription_confirmation_gets_the_subscribe_url_once(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    token = "token-verified"
    envelope = sign(
        subscription_confirmation(sns.confirm_url(token), token=token), key, cert_url=sns.cert_url
    )

    verified = verifier.verify(parse_envelope(to_body(envelope)))
    result = confirm_subscription(verified, fetch=verifier.fetch)

    assert result.action == "confirmed" and result.topic_arn == TOPIC_ARN
    assert sns.confirmations.count(token) == 1
    assert sns.hits.count(f"/confirm?Token={token}") == 1


@pytest.mark.parametrize("tamper", ["SubscribeURL", "Token", "Signature"])
def test_an_unverified_subscription_confirmation_gets_nothing(
    tamper: str,
    key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    sns: SnsTestServer,
    verifier: SnsVerifier,
) -> None:
    token = f"token-tampered-{tamper}"
    envelope = sign(
        subscription_confirmation(sns.confirm_url(token), token=token), key, cert_url=sns.cert_url
    )
    if tamper == "SubscribeURL":
        envelope["SubscribeURL"] = sns.confirm_url("token-of-the-attacker")
    elif tamper == "Token":
        envelope["Token"] = "token-of-the-attacker"
    else:
        envelope = sign(envelope, other_key, cert_url=sns.cert_url)
    message = parse_envelope(to_body(envelope))

    refused(lambda: verifier.verify(message), 403)
    with pytest.raises(TypeError):
        confirm_subscription(message, fetch=verifier.fetch)  # type: ignore[arg-type]
    assert not [
        hit
        for hit in sns.hits
        if hit.startswith("/confirm") and ("attacker" in hit or token in hit)
    ]


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "https://evil.example/confirm?Token=t",
        "http://127.0.0.1:{port}/confirm?Token=t",
        "https://evil.example@127.0.0.1:{port}/confirm?Token=t",
        "https://127.0.0.1.evil.example/confirm?Token=t",
    ],
)
def test_a_subscribe_url_on_an_untrusted_host_is_never_fetched(
    subscribe_url: str, key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    url = subscribe_url.format(port=sns.port)
    envelope = sign(subscription_confirmation(url), key, cert_url=sns.cert_url)
    verified = verifier.verify(parse_envelope(to_body(envelope)))  # validly signed, even so

    fetched: list[str] = []
    error = refused(lambda: confirm_subscription(verified, fetch=fetched.append), 403)  # type: ignore[arg-type]
    assert fetched == [] and "SubscribeURL" in str(error)


def test_notifications_and_unsubscribe_confirmations_confirm_nothing(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    unsubscribe = subscription_confirmation(
        sns.confirm_url("token-unsub"), token="token-unsub", kind="UnsubscribeConfirmation"
    )
    for envelope in (
        signed_bounce(key, sns.cert_url),
        sign(unsubscribe, key, cert_url=sns.cert_url),
    ):
        verified = verifier.verify(parse_envelope(to_body(envelope)))
        assert confirm_subscription(verified, fetch=no_fetch).action == "ignored"
    assert "token-unsub" not in sns.confirmations


def test_a_failed_confirmation_answers_503_so_sns_retries(
    key: rsa.RSAPrivateKey, sns: SnsTestServer, verifier: SnsVerifier
) -> None:
    url = sns.url("/confirm-broken?Token=t")  # trusted host, 404
    envelope = sign(subscription_confirmation(url), key, cert_url=sns.cert_url)
    verified = verifier.verify(parse_envelope(to_body(envelope)))
    refused(lambda: confirm_subscription(verified, fetch=verifier.fetch), 403)

    def down(url: str) -> bytes:
        raise ConnectionRefusedError("connection refused")

    refused(lambda: confirm_subscription(verified, fetch=down), 503)


# --- malformed bodies ----------------------------------------------------------------------------


def _shaped(envelope: Json) -> Json:
    """`envelope` with signature fields that parse; only shapes are tested with it."""
    return envelope | {"SignatureVersion": "1", "Signature": "c2lnbmVk"}


def _valid() -> Json:
    return _shaped(notification(delivery()))


def _without(key: str) -> bytes:
    envelope = _valid()
    del envelope[key]
    return to_body(envelope)


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "invalid JSON"),
        (b"List-Unsubscribe=One-Click", "invalid JSON"),
        (b"\xff\xfe{}", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"Notification"', "not a JSON object"),
        (to_body(_valid() | {"Type": "Surprise"}), "unknown SNS message Type"),
        (to_body({k: v for k, v in _valid().items() if k != "Type"}), "unknown SNS message Type"),
        (_without("MessageId"), "missing MessageId"),
        (_without("Message"), "missing Message"),
        (_without("TopicArn"), "missing TopicArn"),
        (_without("Timestamp"), "missing Timestamp"),
        (to_body(_valid() | {"Message": {"eventType": "Bounce"}}), "missing Message"),
        (to_body(_valid() | {"Timestamp": "yesterday"}), "malformed SNS Timestamp"),
        (to_body(_valid() | {"Timestamp": "2024-06-22T09:00:00"}), "malformed SNS Timestamp"),
        (to_body(_valid() | {"Subject": 7}), "Subject is not a string"),
        (
            to_body(_shaped(subscription_confirmation("https://x/")) | {"Token": None}),
            "missing Token",
        ),
        (
            to_body(
                {
                    k: v
                    for k, v in _shaped(subscription_confirmation("https://x/")).items()
                    if k != "SubscribeURL"
                }
            ),
            "missing SubscribeURL",
        ),
    ],
    # Ids by position: some bodies hold a fresh message id and time, and every xdist
    # worker must collect the same ids.
    ids=lambda value: None if isinstance(value, str) else "body",
)
def test_a_malformed_body_answers_400(body: bytes, reason: str) -> None:
    error = refused(lambda: parse_envelope(body), 400)
    assert reason in str(error)
    assert isinstance(error, NewsletterError)


def test_an_oversized_body_answers_413() -> None:
    refused(lambda: parse_envelope(b" " * (1024 * 1024 + 1)), 413)


@pytest.mark.parametrize(
    "payload, reason",
    [
        ("this is not json", "not JSON"),
        ("[1, 2, 3]", "not a JSON object"),
        ('{"mail": {"messageId": "x"}}', "not an SES event"),
    ],
)
def test_a_notification_that_does_not_carry_an_ses_event_answers_400(
    payload: str, reason: str
) -> None:
    message = parse_envelope(to_body(_shaped(notification(payload))))
    error = refused(lambda: ses_events(message), 400)
    assert reason in str(error)


def test_a_subscription_confirmation_carries_no_ses_event() -> None:
    message = parse_envelope(to_body(_shaped(subscription_confirmation("https://x/"))))
    refused(lambda: ses_events(message), 400)


def test_parsed_fields_are_the_envelope_s(key: rsa.RSAPrivateKey) -> None:
    envelope = sign(notification("hello", subject="Hi"), key, "2", cert_url="https://x/y.pem")
    message = parse_envelope(to_body(envelope))
    assert message == SnsMessage(
        type="Notification",
        message_id=envelope["MessageId"],
        topic_arn=TOPIC_ARN,
        message="hello",
        timestamp=envelope["Timestamp"],
        signature_version="2",
        signature=envelope["Signature"],
        signing_cert_url="https://x/y.pem",
        subject="Hi",
        unsubscribe_url=envelope["UnsubscribeURL"],
    )
    assert message.sent_at.tzinfo is not None


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.single_backend  # never opens the store
def test_settings_carry_the_trusted_host_pattern(
    project: Path, sns: SnsTestServer, key: rsa.RSAPrivateKey
) -> None:
    defaults = load_settings()
    assert defaults.sns_cert_host_pattern == DEFAULT_CERT_HOST_PATTERN
    assert defaults.sns_ca_bundle is None

    settings = load_settings(
        sns_topic_arns=[TOPIC_ARN],
        sns_cert_host_pattern=LOOPBACK_HOSTS,
        sns_ca_bundle=sns.ca_bundle,
    )
    verified = SnsVerifier.from_settings(settings).verify(
        parse_envelope(to_body(signed_bounce(key, sns.cert_url)))
    )
    assert isinstance(verified, VerifiedMessage)


@pytest.mark.single_backend  # never opens the store
def test_a_bad_host_pattern_is_reported_with_its_setting(project: Path) -> None:
    with pytest.raises(ConfigError, match=r"sns_cert_host_pattern: must be a regular expression"):
        load_settings(sns_cert_host_pattern="^sns\\.(unclosed$")
