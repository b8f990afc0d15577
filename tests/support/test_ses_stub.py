"""The SES v2 stub speaks the sesv2 REST-JSON protocol to an unmodified boto3 client."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from tests.support.cli import ROOT
from tests.support.ses_stub import OUTCOMES, SesStub, default_account

# Note: in botocore "max_attempts" counts *retries* (max_attempts=1 means two attempts);
# total_max_attempts=1 is what turns retries off, so each call is exactly one request.
NO_RETRIES = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})
KOREAN_SUBJECT = "주간 뉴스레터 제25호 — 여름 특집 🌞"
HONG = formataddr(("홍길동", "hong@example.com"))  # RFC 2047 encoded display name


def ses_client(stub: SesStub | str) -> Any:
    url = stub if isinstance(stub, str) else stub.endpoint_url
    return boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=NO_RETRIES,
    )


def simple(to: str = "reader@example.com", **extra: Any) -> dict[str, Any]:
    return {
        "FromEmailAddress": formataddr(("뉴스레터", "news@example.com")),
        "Destination": {"ToAddresses": [to]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Hello", "Charset": "UTF-8"},
                "Body": {"Text": {"Data": "text body"}},
            }
        },
        **extra,
    }


def outcome(ses: Any, **kwargs: Any) -> str:
    """'ok' or the ClientError code of one send_email call."""
    try:
        ses.send_email(**(kwargs or simple()))
    except botocore.exceptions.ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


@pytest.fixture
def stub() -> Iterator[SesStub]:
    with SesStub() as s:
        yield s


def test_simple_send_with_korean_subject_headers_tags(stub: SesStub) -> None:
    ses = ses_client(stub)
    resp = ses.send_email(
        FromEmailAddress=formataddr(("뉴스레터 편집부", "news@example.com")),
        Destination={"ToAddresses": [HONG], "CcAddresses": ["cc@example.com"]},
        ReplyToAddresses=["editor@example.com"],
        Content={
            "Simple": {
                "Subject": {"Data": KOREAN_SUBJECT, "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "안녕하세요, 홍길동 님.", "Charset": "UTF-8"},
                    "Html": {"Data": "<p>안녕하세요, <b>홍길동</b> 님.</p>", "Charset": "UTF-8"},
                },
                "Headers": [
                    {"Name": "List-Unsubscribe", "Value": "<https://example.com/u/abc>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                    {"Name": "X-Issue", "Value": "25"},
                ],
            }
        },
        EmailTags=[{"Name": "issue", "Value": "25"}, {"Name": "campaign", "Value": "weekly"}],
        ConfigurationSetName="newsletter-prod",
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["RequestId"]
    [msg] = stub.accepted
    assert resp["MessageId"] == msg.message_id
    assert msg.subject == KOREAN_SUBJECT
    assert msg.text == "안녕하세요, 홍길동 님."
    assert msg.html == "<p>안녕하세요, <b>홍길동</b> 님.</p>"
    assert msg.from_address == formataddr(("뉴스레터 편집부", "news@example.com"))
    assert msg.to == [HONG]
    assert msg.to_decoded == ["홍길동 <hong@example.com>"]
    assert msg.cc == ["cc@example.com"]
    assert msg.reply_to == ["editor@example.com"]
    assert msg.headers["List-Unsubscribe"] == "<https://example.com/u/abc>"
    assert msg.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.header_list[2] == ("X-Issue", "25")
    assert msg.tags == {"issue": "25", "campaign": "weekly"}
    assert msg.configuration_set == "newsletter-prod"
    assert msg.raw is None
    assert msg.received_at <= time.monotonic()
    assert stub.accepted_to("HONG@example.com") == [msg]
    assert stub.accepted_to("cc@example.com") == [msg]
    assert stub.accepted_to("nobody@example.com") == []
    assert stub.counts["accepted"] == stub.counts["send_requests"] == stub.requests == 1


def test_message_ids_are_unique_and_keepalive_is_used(stub: SesStub) -> None:
    ses = ses_client(stub)
    ids = {ses.send_email(**simple(f"r{i}@example.com"))["MessageId"] for i in range(20)}
    assert len(ids) == 20
    assert stub.counts["connections"] == 1  # one keep-alive connection for all 20 calls


def test_utf8_json_body_is_decoded() -> None:
    """botocore sends \\u escapes; a literal UTF-8 body must decode just the same."""
    with SesStub() as stub:
        body = json.dumps(
            {**simple(HONG), "Content": {"Simple": {"Subject": {"Data": KOREAN_SUBJECT}}}},
            ensure_ascii=False,
        ).encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=5)
        conn.request(
            "POST", "/v2/email/outbound-emails", body, {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read())["MessageId"] == stub.accepted[0].message_id
        conn.close()
    assert stub.accepted[0].subject == KOREAN_SUBJECT


def test_raw_content(stub: SesStub) -> None:
    mime = EmailMessage()
    mime["From"] = formataddr(("뉴스레터", "news@example.com"))
    mime["To"] = HONG
    mime["Subject"] = KOREAN_SUBJECT
    mime["List-Unsubscribe"] = "<mailto:unsub@example.com>"
    mime.set_content("텍스트 본문\n")
    mime.add_alternative("<p>HTML 본문</p>\n", subtype="html")
    raw = mime.as_bytes()
    ses = ses_client(stub)
    message_id = ses.send_email(Content={"Raw": {"Data": raw}})["MessageId"]
    [msg] = stub.accepted
    assert msg.message_id == message_id
    assert msg.raw == raw
    assert msg.subject == KOREAN_SUBJECT
    assert msg.to_decoded == ["홍길동 <hong@example.com>"]
    assert msg.from_address is not None and "news@example.com" in msg.from_address
    assert msg.text == "텍스트 본문\n"
    assert msg.html == "<p>HTML 본문</p>\n"
    assert msg.headers["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    # An explicit Destination overrides the MIME headers as the envelope.
    ses.send_email(Destination={"BccAddresses": ["b@example.com"]}, Content={"Raw": {"Data": raw}})
    assert stub.accepted[1].recipients == ["b@example.com"]


@pytest.mark.parametrize(
    ("faults", "code", "status", "message"),
    [
        ({"throttle_first": 1}, "TooManyRequestsException", 429, "Maximum sending rate exceeded."),
        ({"daily_quota": 0}, "TooManyRequestsException", 429, "Daily message quota exceeded."),
        ({"paused": True}, "SendingPausedException", 400, None),
        ({"suspended": True}, "AccountSuspendedException", 400, None),
        ({"reject": {"reader@example.com"}}, "MessageRejected", 400, "not verified"),
        ({"script": ["limit"]}, "LimitExceededException", 400, None),
        ({"script": ["bad_request"]}, "BadRequestException", 400, None),
        ({"script": ["500"]}, "InternalFailure", 500, None),
        ({"script": ["503"]}, "ServiceUnavailable", 503, None),
    ],
)
def test_fault_error_codes(
    faults: dict[str, Any], code: str, status: int, message: str | None
) -> None:
    with SesStub(**faults) as stub:
        ses = ses_client(stub)
        with pytest.raises(botocore.exceptions.ClientError) as info:
            ses.send_email(**simple())
        err = info.value.response
        assert err["Error"]["Code"] == code
        assert err["ResponseMetadata"]["HTTPStatusCode"] == status
        if message:
            assert message in err["Error"]["Message"]
        modeled = getattr(ses.exceptions, code, None)
        if modeled is not None:  # the modeled sesv2 exception class is raised
            assert isinstance(info.value, modeled)
        assert stub.accepted == []
        assert stub.counts["send_requests"] == 1


def test_fail_rate_gives_transient_5xx_deterministically() -> None:
    runs = []
    for _ in range(2):
        with SesStub(fail_rate=0.4, seed=7) as stub:
            ses = ses_client(stub)
            runs.append([outcome(ses) for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"ok", "InternalFailure", "ServiceUnavailable"}


def test_script_then_normal_behaviour(stub: SesStub) -> None:
    stub.script = ["throttle", "throttle", "500", "ok", "reject", "paused"]
    ses = ses_client(stub)
    got = [outcome(ses) for _ in range(7)]
    assert got == [
        "TooManyRequestsException",
        "TooManyRequestsException",
        "InternalFailure",
        "ok",
        "MessageRejected",
        "SendingPausedException",
        "ok",
    ]
    assert stub.script == []
    assert stub.counts["throttled"] == 2 and stub.counts["server_error"] == 1
    assert stub.counts["rejected"] == 1 and stub.counts["paused"] == 1
    with pytest.raises(ValueError, match="unknown script outcome"):
        stub.script = ["explode"]
    assert {"ok", "drop", "lost", "throttle", "quota"} <= OUTCOMES


def test_throttle_first_storm_and_throttle_every() -> None:
    with SesStub(throttle_first=3) as stub:
        ses = ses_client(stub)
        assert [outcome(ses) for _ in range(5)] == ["TooManyRequestsException"] * 3 + ["ok"] * 2
        stub.throttle_first = 1  # a new storm at runtime
        assert [outcome(ses) for _ in range(2)] == ["TooManyRequestsException", "ok"]
    with SesStub(throttle_every=3) as stub:
        ses = ses_client(stub)
        got = [outcome(ses) for _ in range(7)]
        assert [i + 1 for i, o in enumerate(got) if o != "ok"] == [3, 6]


def test_throttle_share_throttles_at_random_with_a_seed() -> None:
    def pattern(seed: int) -> list[str]:
        with SesStub(throttle_share=0.3, seed=seed) as stub:
            ses = ses_client(stub)
            return [outcome(ses) for _ in range(60)]

    first = pattern(1)
    assert 5 <= first.count("TooManyRequestsException") <= 35
    assert set(first) == {"ok", "TooManyRequestsException"}
    assert pattern(1) == first  # the same seed, the same throttles


def test_reject_addresses_case_insensitive_with_reason() -> None:
    with SesStub(reject={"bounce@example.com": "Address is on the suppression list."}) as stub:
        ses = ses_client(stub)
        with pytest.raises(ses.exceptions.MessageRejected, match="suppression list"):
            ses.send_email(**simple("Bounce <BOUNCE@Example.com>"))
        assert outcome(ses, **simple("ok@example.com")) == "ok"
        stub.reject = ["ok@example.com"]
        assert outcome(ses, **simple("ok@example.com")) == "MessageRejected"
        assert stub.counts["rejected"] == 2 and len(stub.accepted) == 1


def test_paused_toggled_at_runtime(stub: SesStub) -> None:
    ses = ses_client(stub)
    assert outcome(ses) == "ok"
    stub.paused = True
    assert outcome(ses) == "SendingPausedException"
    stub.paused = False
    assert outcome(ses) == "ok"


def test_max_rate_limiter_realtime() -> None:
    rate = 20
    with SesStub(max_rate=rate) as stub:
        ses = ses_client(stub)
        got = [outcome(ses) for _ in range(rate + 3)]
    assert got.count("TooManyRequestsException") == 3
    assert got[:rate] == ["ok"] * rate
    assert stub.counts["accepted"] == rate and stub.counts["throttled"] == 3


def test_max_rate_window_slides_exactly() -> None:
    now = [100.0]
    with SesStub(max_rate=10, clock=lambda: now[0]) as stub:
        ses = ses_client(stub)
        assert [outcome(ses) for _ in range(11)] == ["ok"] * 10 + ["TooManyRequestsException"]
        now[0] = 100.999
        assert outcome(ses) == "TooManyRequestsException"
        now[0] = 101.0  # the sends at t=100.0 leave the (now - 1, now] window
        assert [outcome(ses) for _ in range(11)] == ["ok"] * 10 + ["TooManyRequestsException"]
        assert stub.accepted[-1].received_at == 101.0
        stub.max_rate = 2.5  # fractional rates round down; reconfigurable at runtime
        now[0] = 200.0
        assert [outcome(ses) for _ in range(3)] == ["ok", "ok", "TooManyRequestsException"]


def test_a_competing_client_takes_its_places_in_the_rate_window() -> None:
    """Another client at 6/s on a 10/s account: it has held its share of the last second
    from the start, so four places are left; its refusals never reach our counts."""
    now = [100.0]
    with SesStub(max_rate=10, competitor_rate=6, clock=lambda: now[0]) as stub:
        ses = ses_client(stub)
        assert [outcome(ses) for _ in range(5)] == ["ok"] * 4 + ["TooManyRequestsException"]
        now[0] = 100.5  # three more of its requests, each in a place the window freed
        assert outcome(ses) == "TooManyRequestsException"
        counts = stub.stats()["counts"]
    assert counts["accepted"] == 4 and counts["throttled"] == 2
    assert counts["competitor_accepted"] == 10 and counts["competitor_throttled"] == 0


def test_a_storm_by_the_clock_throttles_everything_until_it_ends() -> None:
    now = [100.0]
    with SesStub(clock=lambda: now[0]) as stub:
        ses = ses_client(stub)
        urllib.request.urlopen(
            urllib.request.Request(
                stub.endpoint_url + "/_stub/config",
                data=json.dumps({"storm_seconds": 10}).encode(),
                method="POST",
            )
        ).close()
        assert [outcome(ses) for _ in range(3)] == ["TooManyRequestsException"] * 3
        now[0] = 109.9
        assert stub.storm_seconds == pytest.approx(0.1)
        assert outcome(ses) == "TooManyRequestsException"
        now[0] = 110.0
        assert outcome(ses) == "ok"


def test_strict_addresses() -> None:
    with SesStub() as stub:
        ses = ses_client(stub)
        with pytest.raises(ses.exceptions.BadRequestException, match="7-bit ASCII"):
            ses.send_email(**simple("홍길동 <hong@example.com>"))
        with pytest.raises(ses.exceptions.BadRequestException, match="@domain"):
            ses.send_email(**simple("not-an-address"))
        with pytest.raises(ses.exceptions.BadRequestException, match="Recipient"):
            ses.send_email(Content={"Simple": simple()["Content"]["Simple"]})
        assert stub.counts["bad_request"] == 3
    with SesStub(strict_addresses=False) as stub:
        ses_client(stub).send_email(**simple("홍길동 <hong@example.com>"))
        assert stub.accepted[0].to_decoded == ["홍길동 <hong@example.com>"]


def test_delay(stub: SesStub) -> None:
    stub.delay = 0.05
    ses = ses_client(stub)
    started = time.perf_counter()
    ses.send_email(**simple())
    assert time.perf_counter() - started >= 0.05


def test_dropped_and_lost_responses(stub: SesStub) -> None:
    ses = ses_client(stub)
    stub.script = ["drop", "lost"]
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ses.send_email(**simple("a@example.com"))
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ses.send_email(**simple("b@example.com"))
    ses.send_email(**simple("c@example.com"))
    # "drop": never accepted; "lost": accepted although the client saw an error.
    assert [m.to for m in stub.accepted] == [["b@example.com"], ["c@example.com"]]
    assert stub.counts["dropped"] == 1 and stub.counts["lost"] == 1
    stub.drop_connection_every = 2
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        ses.send_email(**simple())  # SendEmail request #4: even -> dropped
    assert outcome(ses) == "ok"  # #5
    assert stub.counts["dropped"] == 2 and len(stub.accepted) == 3


def test_get_account_default_custom_and_missing(stub: SesStub) -> None:
    ses = ses_client(stub)
    acct = ses.get_account()
    assert acct["SendingEnabled"] is True and acct["ProductionAccessEnabled"] is True
    assert acct["EnforcementStatus"] == "HEALTHY"
    assert acct["SendQuota"] == {
        "Max24HourSend": 50000.0,
        "MaxSendRate": 14.0,
        "SentLast24Hours": 0.0,
    }
    stub.account = default_account(sending_enabled=False, max_send_rate=50, sent_last_24_hours=7)
    acct = ses.get_account()
    assert acct["SendingEnabled"] is False and acct["SendQuota"]["MaxSendRate"] == 50.0
    assert acct["SendQuota"]["SentLast24Hours"] == 7.0
    stub.account = None  # like moto: no GetAccount route -> plain 404, Code "404"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ses.get_account()
    assert info.value.response["Error"]["Code"] == "404"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert stub.counts["get_account"] == 3


def test_unknown_route_is_json_404(stub: SesStub) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=5)
    conn.request("GET", "/v2/email/identities")
    resp = conn.getresponse()
    assert resp.status == 404
    assert resp.getheader("x-amzn-ErrorType") == "UnknownOperationException"
    assert "message" in json.loads(resp.read())
    conn.close()
    assert stub.counts["not_found"] == 1


def test_concurrent_sends_share_one_client(stub: SesStub) -> None:
    ses = ses_client(stub)

    def worker(k: int) -> None:
        for i in range(25):
            ses.send_email(**simple(f"w{k}-{i}@example.com"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stub.counts["accepted"] == 100
    assert len({m.message_id for m in stub.accepted}) == 100
    assert set(stub.per_recipient().values()) == {1}


def test_stop_cuts_keepalive_connections() -> None:
    stub = SesStub().start()
    ses = ses_client(stub)
    ses.send_email(**simple())
    stub.stop()
    with pytest.raises(
        (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError)
    ):
        ses.send_email(**simple())
    stub.stop()  # idempotent


def test_cli_subprocess_record_file_and_control(tmp_path: Path) -> None:
    record = tmp_path / "accepted.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.ses_stub",
            "--port",
            "0",
            "--script",
            "throttle",
            "--record",
            str(record),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        ses = ses_client(url)
        assert outcome(ses) == "TooManyRequestsException"
        sent = simple(HONG, EmailTags=[{"Name": "issue", "Value": "25"}])
        sent["Content"]["Simple"]["Subject"]["Data"] = KOREAN_SUBJECT
        message_id = ses.send_email(**sent)["MessageId"]
        # Journaled (and flushed) before the 200 answer was written.
        [line] = record.read_text(encoding="utf-8").splitlines()
        first = json.loads(line)
        assert first["message_id"] == message_id and first["subject"] == KOREAN_SUBJECT
        assert first["to"] == [HONG] and first["tags"] == {"issue": "25"}
        req = urllib.request.Request(
            f"{url}/_stub/config", data=json.dumps({"paused": True}).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["paused"] is True
        assert outcome(ses) == "SendingPausedException"
        with urllib.request.urlopen(f"{url}/_stub/stats", timeout=5) as resp:
            stats = json.loads(resp.read())
        assert stats["counts"]["accepted"] == 1 and stats["counts"]["throttled"] == 1
        assert stats["per_recipient"] == {"hong@example.com": 1}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stderr is not None
        final = json.loads(proc.stderr.read().strip().splitlines()[-1])
        assert final["counts"]["paused"] == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(x) for x in record.read_text(encoding="utf-8").splitlines()]
    assert [x["message_id"] for x in lines] == [first["message_id"]]
