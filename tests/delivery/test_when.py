"""`--at` over the whole range a datetime can hold, with and without an offset, in zones
east and west of UTC: a time within the allowed range, or a clear refusal naming
`--at`; never an OverflowError from moving a time near year 1 or 9999 between zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.delivery import when
from pipeline.errors import InputError
from tests.support.properties import examples

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Asia/Seoul", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12"]
OFFSETS = st.none() | st.builds(
    timezone,
    st.timedeltas(
        min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
    ).map(lambda d: timedelta(minutes=d // timedelta(minutes=1))),
)
# Weighted toward the edges, where the overflows were.
MOMENTS = st.one_of(
    st.datetimes(min_value=datetime(9999, 12, 29), max_value=datetime.max),
    st.datetimes(max_value=datetime(1, 1, 3)),
    st.datetimes(),
)


@settings(max_examples=examples(400), deadline=None)
@given(moment=MOMENTS, offset=OFFSETS, zone=st.sampled_from(ZONES))
def test_any_datetime_is_scheduled_in_range_or_refused_clearly(
    moment: datetime, offset: timezone | None, zone: str
) -> None:
    text = moment.replace(second=0, microsecond=0, tzinfo=offset).isoformat(" ")
    try:
        found = when.parse_at(text, zone, NOW)
    except InputError as refusal:
        assert refusal.message.startswith("--at "), refusal.message
        assert refusal.hint
        return
    assert NOW < found.utc <= NOW + timedelta(days=365 * when.MAX_AHEAD_YEARS)
    assert when.describe(found)  # shown in its zone too
