"""Words and dates of the email in the issue's language (Korean issues read as Korean):
the email's part of the catalogue (`pipeline.words`), and dates written as its
`date.*` patterns say."""

from __future__ import annotations

from datetime import date

from pipeline import words
from pipeline.issue.fields import Period


def strings(lang: str) -> dict[str, str]:
    """The email's words for a language tag; unknown languages fall back to English."""
    return words.table(lang, "email")


def _month(lang: str, month: int) -> str:
    return words.text(lang, f"date.month_{month}")


def format_date(day: date, lang: str) -> str:
    """`2024년 6월 16일` / `June 16, 2024`."""
    return words.text(
        lang, "date.date", year=day.year, month=day.month, day=day.day,
        month_name=_month(lang, day.month),
    )  # fmt: skip


def format_period(period: Period, lang: str) -> str:
    """`2024년 6월 16일 ~ 22일` / `June 16 – 22, 2024`, shortened where parts repeat."""
    start, end = period.start, period.end
    if start == end:
        return format_date(start, lang)
    if start.year != end.year:
        pattern = "date.period_years"
    elif start.month != end.month:
        pattern = "date.period_months"
    else:
        pattern = "date.period_days"
    return words.text(
        lang,
        pattern,
        start=format_date(start, lang),
        end=format_date(end, lang),
        year=end.year,
        start_day=start.day,
        start_month_name=_month(lang, start.month),
        end_month=end.month,
        end_day=end.day,
        end_month_name=_month(lang, end.month),
    )
