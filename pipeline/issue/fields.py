"""The front matter's fields: what each key must hold, checked into typed values.

Each problem is reported at the key's line and column; nothing is raised, so that `check`
shows every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.issue import frontmatter
from pipeline.issue.limits import shown

Report = Callable[[int, int, str], None]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date


def validate(
    values: dict[str, Any], at: dict[str, tuple[int, int]], problem: Report
) -> dict[str, Any]:
    """The front matter's values as the fields of an `Issue`; what is wrong is reported."""
    meta: dict[str, Any] = {}
    for key in ("title", "subject", "preheader"):
        if key not in values:
            continue
        value = values[key]
        if isinstance(value, str):
            # YAML reads "\ud83d\ude00" (JSON's way to write an emoji) as two lone
            # surrogates; join such pairs. A lone one stays, and is refused below.
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        if not isinstance(value, str):
            problem(*at[key], f"{key} must be text; put it in quotes")
        elif not value.strip():
            problem(*at[key], f"{key} is empty")
        elif unsafe := frontmatter.header_unsafe(value.strip()):
            # The subject (title by default) is a mail header; the preheader is the
            # inbox line. A line break there is header injection or a broken message.
            problem(
                *at[key],
                f"{key} contains {unsafe}: write it on one line, without control characters",
            )
        else:
            meta[key] = value.strip()
    if "number" in values:
        number = values["number"]
        if isinstance(number, str):
            problem(*at["number"], number)
        else:
            meta["number"] = number
    if "lang" in values:
        value = values["lang"]
        if not isinstance(value, str) or not _LANG.fullmatch(value):
            problem(
                *at["lang"],
                f"lang must be a language tag like 'ko' or 'en', not {shown(value)}",
            )
        else:
            meta["lang"] = value
    if "period" in values:
        meta_period = period(values["period"], at["period"], problem)
        if meta_period is not None:
            meta["period"] = meta_period
    return meta


def period(value: Any, at: tuple[int, int], problem: Report) -> Period | None:
    if not isinstance(value, dict):
        problem(*at, "period must be {start: YYYY-MM-DD, end: YYYY-MM-DD}")
        return None
    unknown = set(value) - {"start", "end"}
    if unknown:
        problem(
            *at,
            f"period has unknown key(s) {shown(', '.join(map(str, unknown)))}; use start and end",
        )
    dates: dict[str, date] = {}
    for key in ("start", "end"):
        raw = value.get(key)
        if raw is None:
            problem(*at, f"period needs {key}: YYYY-MM-DD")
            continue
        text = raw if isinstance(raw, str) else shown(raw)
        if not _DATE.match(text):
            problem(*at, f"period {key} {shown(text)} is not a date; write YYYY-MM-DD")
            continue
        try:
            dates[key] = date.fromisoformat(text)
        except ValueError as exc:
            problem(*at, f"period {key} {text!r} is not a valid date ({exc})")
    if len(dates) < 2:
        return None
    if dates["end"] < dates["start"]:
        problem(*at, f"period ends ({dates['end']}) before it starts ({dates['start']})")
        return None
    return Period(dates["start"], dates["end"])
