"""Words and dates of the email in the issue's language (Korean issues read as Korean)."""

from __future__ import annotations

from datetime import date

from pipeline.issue.fields import Period

STRINGS: dict[str, dict[str, str]] = {
    "ko": {
        "issue_label": "제{number}호",
        "view_in_browser": "웹에서 보기",
        "unsubscribe": "수신 거부",
        "reason": "{name} 뉴스레터를 구독하신 {email} 주소로 보내 드린 메일입니다.",
        "web_footer": "{name} 뉴스레터의 웹 버전입니다.",
        "unsubscribe_text": "수신 거부",
        "web_text": "웹에서 보기",
    },
    "en": {
        "issue_label": "Issue {number}",
        "view_in_browser": "View in browser",
        "unsubscribe": "Unsubscribe",
        "reason": "You receive {name} because {email} subscribed to it.",
        "web_footer": "The web version of the {name} newsletter.",
        "unsubscribe_text": "Unsubscribe",
        "web_text": "View in browser",
    },
}

_EN_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def strings(lang: str) -> dict[str, str]:
    """The strings for a language tag; unknown languages fall back to English."""
    return STRINGS.get(lang.split("-")[0].lower(), STRINGS["en"])


def format_date(day: date, lang: str) -> str:
    if lang.startswith("ko"):
        return f"{day.year}년 {day.month}월 {day.day}일"
    return f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"


def format_period(period: Period, lang: str) -> str:
    """`2024년 6월 16일 ~ 22일` / `June 16 – 22, 2024`, shortened where parts repeat."""
    start, end = period.start, period.end
    if start == end:
        return format_date(start, lang)
    if lang.startswith("ko"):
        if start.year != end.year:
            return f"{format_date(start, lang)} ~ {format_date(end, lang)}"
        tail = f"{end.day}일" if start.month == end.month else f"{end.month}월 {end.day}일"
        return f"{format_date(start, lang)} ~ {tail}"
    if start.year != end.year:
        return f"{format_date(start, lang)} – {format_date(end, lang)}"
    if start.month == end.month:
        return f"{_EN_MONTHS[start.month - 1]} {start.day} – {end.day}, {end.year}"
    return (
        f"{_EN_MONTHS[start.month - 1]} {start.day} – "
        f"{_EN_MONTHS[end.month - 1]} {end.day}, {end.year}"
    )
