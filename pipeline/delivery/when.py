"""When a schedule fires: `--at` read in a time zone from zoneinfo, refused when the
local time does not exist (the hour skipped when clocks go forward), is ambiguous (the
hour repeated when they go back) or is already past."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline import zones
from pipeline.errors import InputError
from pipeline.text import shown

FORMATS_HINT = "write it as 'YYYY-MM-DD HH:MM', e.g. --at '2024-06-23 09:00'"
# How far ahead a schedule may be: further is a typo (the year 9999), and a time near
# datetime's limits overflows when it is moved between zones.
MAX_AHEAD_YEARS = 5


@dataclass(frozen=True)
class When:
    utc: datetime  # aware, UTC
    zone: str  # the zone name it was read in (and is shown in)

    def local(self) -> datetime:
        return self.utc.astimezone(ZoneInfo(self.zone))


def zone(name: str, where: str = "--tz") -> ZoneInfo:
    found = zones.find(name)
    if found is None:
        raise InputError(f"{where}: unknown time zone {shown(name, 70)}", hint=zones.HINT)
    return found


def machine_zone() -> str:
    """The machine's zone name: TZ, else where /etc/localtime points, else /etc/timezone,
    else UTC. A name, not an offset: a schedule next month must follow DST changes. A TZ
    that names no zone is refused rather than passed over: the time would be read in
    another zone than the one the person set."""
    if (tz := zones.tz_variable()) is not None:
        if zones.find(tz) is None:
            raise InputError(
                f"the TZ environment variable is not a time zone name: {shown(tz, 70)}",
                hint="pass --tz, set `timezone` in newsletter.toml, or set TZ to a name "
                "such as Asia/Seoul (or unset it)",
            )
        return tz
    candidates: list[str] = []
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    return next((name for name in candidates if zones.find(name) is not None), "UTC")


def parse_at(text: str, zone_name: str, now: datetime) -> When:
    """`--at` as an aware UTC time. A time with its own offset (`2024-11-03 01:30-04:00`)
    is taken as given; a wall-clock time is read in `zone_name`."""
    tz = zone(zone_name)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--at {text[:40]!r} is not a date and time", hint=FORMATS_HINT) from None
    latest = now + timedelta(days=365 * MAX_AHEAD_YEARS)
    try:
        utc = (
            parsed.astimezone(UTC)
            if parsed.tzinfo is not None
            else _wall_clock(parsed, tz, zone_name)
        )
        given = _show(utc, tz)
    except OverflowError:  # within a day of year 1 or 9999, moved across an offset
        far = parsed.year > now.year
        utc = latest + timedelta(days=1) if far else datetime.min.replace(tzinfo=UTC)
        given = text.strip()[:40]
    if utc > latest:
        raise InputError(
            f"--at {text.strip()[:40]} is too far ahead: a schedule may be at most "
            f"{MAX_AHEAD_YEARS} years from now (until {latest.astimezone(tz):%Y-%m-%d %H:%M} "
            f"in {zone_name})",
            hint="check the year; " + FORMATS_HINT,
        )
    if utc <= now:
        shown = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        raise InputError(
            f"--at {text.strip()[:40]} ({given}) is in the past",
            hint=f"give a later time: it is now {shown} in {zone_name}",
        )
    return When(utc=utc, zone=zone_name)


def _wall_clock(local: datetime, tz: ZoneInfo, zone_name: str) -> datetime:
    early = local.replace(tzinfo=tz, fold=0)
    late = local.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    # Two offsets: the wall time is in a DST transition. It is a gap when neither
    # reading comes back to the same wall time after a round trip through UTC.
    at = local.strftime("%Y-%m-%d %H:%M")
    round_trip = early.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != local:
        # In the gap, the two readings land on either side of it: an hour sooner or later.
        sooner, later = sorted(
            (early.astimezone(UTC).astimezone(tz), late.astimezone(UTC).astimezone(tz))
        )
        raise InputError(
            f"--at {at} does not exist in {zone_name}: the clocks skip that hour "
            "(daylight saving time begins)",
            hint=f"pick a time that exists, e.g. --at '{sooner:%Y-%m-%d %H:%M}' ({sooner:%Z}) "
            f"or --at '{later:%Y-%m-%d %H:%M}' ({later:%Z})",
        )
    first, second = early.astimezone(UTC), late.astimezone(UTC)
    raise InputError(
        f"--at {at} happens twice in {zone_name} (daylight saving time ends): "
        f"at {first:%H:%M} UTC and at {second:%H:%M} UTC",
        hint=f"say which, with its offset: --at '{early.isoformat(' ', 'minutes')}' "
        f"or --at '{late.isoformat(' ', 'minutes')}'",
    )


def _show(utc: datetime, tz: ZoneInfo) -> str:
    return f"{utc:%Y-%m-%d %H:%M} UTC, {utc.astimezone(tz):%Y-%m-%d %H:%M %Z}"


def describe(when: When) -> str:
    """`2024-06-23 00:00 UTC (2024-06-23 09:00 KST, Asia/Seoul)`."""
    local = when.local()
    return f"{when.utc:%Y-%m-%d %H:%M} UTC ({local:%Y-%m-%d %H:%M %Z}, {when.zone})"
