"""Property tests: whatever JSON (or not-JSON) arrives, reading it ends in a value or in our
own refusal (SnsError 400 for the web endpoint, InputError for a line or an SQS message),
never in another exception, which would be a 500 or a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.feedback import jsondoc
from pipeline.feedback.ingest import parse, unwrap
from pipeline.feedback.sns import SnsError, parse_envelope, ses_events
from tests.support.properties import examples

EVENT_TYPES = ["Bounce", "Complaint", "Delivery", "Open", "Click", "Reject", "DeliveryDelay"]
FIELDS = ["eventType", "notificationType", "mail", "bounce", "complaint", "click", "delivery",
          "messageId", "destination", "bouncedRecipients", "emailAddress", "timestamp",
          "bounceType", "Type", "TopicArn", "Message", "MessageId", "Timestamp"]  # fmt: skip

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),  # includes lone surrogates
    st.sampled_from(EVENT_TYPES),
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)
PROPERTY = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def as_text(document: Any) -> str:
    """JSON text as a careless or hostile sender writes it: NaN and lone surrogates too."""
    return json.dumps(document, allow_nan=True)


@PROPERTY
@given(st.binary(max_size=3000))
def test_any_bytes_are_an_envelope_or_a_refusal(body: bytes) -> None:
    try:
        parse_envelope(body)
    except SnsError as error:
        assert error.status in (400, 403, 413)


@PROPERTY
@given(documents)
def test_any_json_is_an_envelope_or_a_refusal(document: dict[str, Any]) -> None:
    try:
        message = parse_envelope(as_text(document).encode("utf-8", "surrogatepass"))
    except SnsError as error:
        assert error.status in (400, 403)
        return
    if message.type == "Notification":
        try:
            ses_events(message)
        except SnsError as error:
            assert error.status == 400


@PROPERTY
@given(documents)
def test_any_json_line_is_an_event_or_an_invalid_line(document: dict[str, Any]) -> None:
    try:
        loaded = jsondoc.load(as_text(document).encode("utf-8", "surrogatepass"))
        event = unwrap(loaded)
        if event is not None:
            parse(event)
    except (jsondoc.JsonRefused, InputError):
        pass


@PROPERTY
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", '{"a":', '{"Message":[']))
def test_nesting_of_any_depth_is_read_or_refused(depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '{"Message":[': "]}"}[opener]
    text = opener * depth + "1" + closer * depth
    try:
        jsondoc.load(text)
    except jsondoc.JsonRefused as refused:
        assert depth > jsondoc.MAX_DEPTH // 2, refused.reason
    else:
        assert depth <= jsondoc.MAX_DEPTH


@pytest.mark.parametrize(
    "text",
    ["NaN", "-Infinity", "1e400", '"\\udc00"', '{"\\ud83d": 1}', '"a\\u0000b"', '{"k\\u0000": 1}'],
)
def test_what_json_loads_accepts_but_no_sender_means_is_refused(text: str) -> None:
    json.loads(text)  # the standard library reads it...
    with pytest.raises(jsondoc.JsonRefused):
        jsondoc.load(text)  # ...we do not
