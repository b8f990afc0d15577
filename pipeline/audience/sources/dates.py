"""The dates of each tool's export, read strictly: the one format the tool writes, always
to an aware UTC datetime. A cell that is not such a date raises `BadCell` with the column,
the cell and the form expected, so the row is reported, never guessed at.

- Mailchimp: `2024-03-05 09:12:44`, in UTC (its exports carry no zone).
- Substack and Ghost: ISO 8601 from JavaScript's `toISOString()`, `2024-03-05T09:12:44.123Z`
  (an explicit offset is accepted too; a time without a zone is not).
- listmonk: its CSV export writes Go's `time.Time.String()`,
  `2024-03-05 09:12:44.123456 +0530 IST`; its API and JSON write ISO 8601 with an offset,
  `2024-03-05T09:12:44.123456+05:30`. Both are read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from pipeline.audience.cleaning import shown
from pipeline.audience.sources.base import BadCell

_MAILCHIMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)
# Go's "2006-01-02 15:04:05.999999999 -0700 MST": the zone's name is an abbreviation
# (IST, UTC) or, for a fixed zone without one, the offset again.
_GO = re.compile(
    r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,9})?"
    r" ([+-])(\d{2})(\d{2})(?: [A-Za-z0-9+-]{1,8})?"
)


def _bad(column: str, text: str, example: str) -> BadCell:
    return BadCell(f"{column} is {shown(text, 40)}, not a date like {example}")


def _build(day: str, clock: str, fraction: str | None, zone: timezone) -> datetime:
    micro = fraction[1:7].ljust(6, "0") if fraction else "000000"  # Go writes nanoseconds
    moment = datetime.strptime(f"{day} {clock}.{micro}", "%Y-%m-%d %H:%M:%S.%f")
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _offset(sign: str, hours: str, minutes: str) -> timezone:
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24):
        raise ValueError("offset out of range")
    return timezone(-delta if sign == "-" else delta)


def mailchimp(text: str, column: str) -> datetime | None:
    """Mailchimp's `2024-03-05 09:12:44` (UTC); None for an empty cell."""
    if not text:
        return None
    if not _MAILCHIMP.fullmatch(text):
        raise _bad(column, text, "2024-03-05 09:12:44")
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:  # 2024-02-30, 25:00:00
        raise _bad(column, text, "2024-03-05 09:12:44") from None


def iso(text: str, column: str) -> datetime | None:
    """ISO 8601 with Z or an offset (Substack, Ghost, listmonk's API); None for empty."""
    if not text:
        return None
    found = _ISO.fullmatch(text)
    if not found:
        raise _bad(column, text, "2024-03-05T09:12:44.000Z")
    day, clock, fraction, zone = found.groups()
    try:
        offset = UTC if zone.upper() == "Z" else _offset(zone[0], zone[1:3], zone[4:6])
        return _build(day, clock, fraction, offset)
    except ValueError:
        raise _bad(column, text, "2024-03-05T09:12:44.000Z") from None


def listmonk(text: str, column: str) -> datetime | None:
    """listmonk's CSV dates (Go's time.Time.String()) or ISO 8601; None for empty."""
    if not text:
        return None
    if "T" in text[:11]:
        return iso(text, column)
    found = _GO.fullmatch(text)
    if not found:
        raise _bad(column, text, "2024-03-05 09:12:44.123456 +0000 UTC")
    day, clock, fraction, sign, hours, minutes = found.groups()
    try:
        return _build(day, clock, fraction, _offset(sign, hours, minutes))
    except ValueError:
        raise _bad(column, text, "2024-03-05 09:12:44.123456 +0000 UTC") from None


def not_after(moment: datetime | None, now: datetime, column: str) -> datetime | None:
    """A date from the source that lies in the future is a broken row, not a consent."""
    if moment is not None and moment > now + timedelta(minutes=5):  # clocks disagree a little
        raise BadCell(f"{column} is in the future ({moment:%Y-%m-%d %H:%M} UTC)")
    return moment


def past(
    read: Callable[[str, str], datetime | None], text: str, column: str, now: datetime
) -> datetime | None:
    """A date cell in the format `read` takes (`iso`, `mailchimp`, `listmonk`), refused when
    it lies in the future."""
    return not_after(read(text, column), now, column)
