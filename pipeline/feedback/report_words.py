"""The words of the HTML report in the newsletter's language (its part of the catalogue,
`pipeline.words`), and how numbers, rates and weeks are written."""

from __future__ import annotations

from datetime import date

from pipeline import words as words_catalogue


def words(lang: str) -> dict[str, str]:
    """The report's words (`report.*` in the catalogue); unknown languages read English."""
    return words_catalogue.table(lang, "report")


def number(value: float) -> str:
    """`12,345`: thousands grouped (Korean groups by thousands with commas too)."""
    return f"{value:,.0f}"


def percent(rate: float, digits: int = 2) -> str:
    """`1.23%`, `0.1%`, `0%`: a rate (0..1) with at most `digits` decimals, no trailing zeros."""
    text = f"{rate * 100:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def week_dates(monday: date, sunday: date, lang: str) -> str:
    """`Nov 30 – Dec 6` / `11월 30일 ~ 12월 6일`: a week's days, the year left to its label."""
    pattern = "date.week_days" if sunday.month == monday.month else "date.week_months"
    return words_catalogue.text(
        lang,
        pattern,
        start_month=monday.month,
        start_month_short=words_catalogue.text(lang, f"date.month_short_{monday.month}"),
        start_day=monday.day,
        end_month=sunday.month,
        end_month_short=words_catalogue.text(lang, f"date.month_short_{sunday.month}"),
        end_day=sunday.day,
    )
