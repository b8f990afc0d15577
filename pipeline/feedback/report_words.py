"""The words of the HTML report in the newsletter's language (Korean or English, as the
email's own words in `pipeline/issue/i18n.py`), and how numbers and rates are written."""

# ruff: noqa: E501  (a sentence is easier to translate and review on one line)

from __future__ import annotations

from datetime import date

WORDS: dict[str, dict[str, str]] = {
    "ko": {
        "title": "{name} 제{number}호 발송 보고서",
        "summary": "{list} 목록 · 상태 {status} · 발송 시작 {started} (UTC) · 작성 {generated} (UTC)",
        "not_started": "아직 시작 전",
        "status_running": "발송 중",
        "status_paused": "일시 정지",
        "status_finished": "완료",
        "funnel": "발송 단계",
        "funnel_desc": "대상 {targeted}명 중 발송 {sent}, 전달 {delivered}, 열람 {opened}, 클릭 {clicked} (고유 수)",
        "stage": "단계",
        "unique": "고유 수",
        "total": "전체 이벤트",
        "share": "대상 대비",
        "targeted": "대상",
        "sent": "발송",
        "delivered": "전달",
        "opened": "열람",
        "clicked": "클릭",
        "approximate": (
            "열람과 클릭은 근사치입니다. 이미지 차단과 메일 보호 기능(예: Apple Mail 개인정보 보호)이 "
            "열람을 숨기거나 부풀리고, 보안 검사기가 링크를 대신 누르기도 합니다. 고유 수는 받은 사람 "
            "한 명(메일 한 통)을 한 번만 셉니다."
        ),
        "no_events": "아직 SES 이벤트가 없습니다. 전달, 열람, 클릭은 이벤트가 들어오면 채워집니다.",
        "other": "반송 {bounced}(영구 {permanent}), 스팸 신고 {complained}, 실패 {failed}, 확인 불가 {unknown}, 건너뜀 {skipped}, 이후 수신 거부 {unsubscribed}",
        "rates": "반송률과 스팸 신고율",
        "rate": "비율",
        "value": "값",
        "limits": "기준",
        "state": "상태",
        "bounce_rate": "반송률 (SES 기준)",
        "complaint_rate": "스팸 신고율 (SES 기준)",
        "spam_rate": "스팸 신고율 (Gmail 기준)",
        "bounce_text": (
            "반송률 {value}: 영구 반송 {permanent}통 ÷ 발송 {sent}통. SES는 5%에서 경고하고 10%에서 "
            "계정을 검토하며 발송을 멈출 수 있습니다. 일시 반송은 세지 않습니다."
        ),
        "complaint_text": (
            "스팸 신고율 {value}: 신고 {complained}건 ÷ 전달 {delivered}통. SES는 0.1%에서 경고하고 "
            "0.5%에서 계정을 검토합니다."
        ),
        "spam_text": (
            "Gmail은 대량 발신자에게 스팸 신고율을 0.1% 미만으로 유지하고 0.3%에는 절대 이르지 않도록 "
            "요구합니다. Gmail의 수치는 Postmaster Tools에서 보이며 SES로 돌아오는 신고는 일부이므로, "
            "여기의 신고율은 가장 가까운 근사치입니다."
        ),
        "ok": "기준 이내",
        "warning": "경고 수준",
        "danger": "검토 수준",
        "gmail_ok": "0.1% 미만: 권장 범위",
        "gmail_warning": "0.1% 이상: 권장 범위를 넘음",
        "gmail_danger": "0.3% 이상: Gmail 한도 초과",
        "ses_limits": "경고 {warning}, 검토 {review}",
        "gmail_limits": "권장 {warning} 미만, 한도 {review}",
        "warning_line": "경고 {value}",
        "review_line": "검토 {value}",
        "gmail_keep": "권장 {value} 미만",
        "gmail_never": "한도 {value}",
        "history": "{list} 목록의 주별 변화",
        "history_note": (
            "주는 UTC 기준 ISO 주(월요일~일요일)입니다. 최근 {weeks}주를 보여 줍니다{earlier}. "
            "구독자 수는 그 주 끝에 메일을 받을 수 있던 사람 수입니다."
        ),
        "earlier": " (그 이전에 기록이 있는 주 {count}개는 생략)",
        "weekly_changes": "주별 가입, 수신 거부, 반송, 스팸 신고",
        "weekly_changes_desc": "{weeks}주 동안 가입 {joined}, 수신 거부 {unsubscribed}, 반송 {bounced}, 스팸 신고 {complained}",
        "weekly_subscribers": "주말 기준 구독자 수",
        "weekly_subscribers_desc": "{first}주 {start}명에서 {last}주 {end}명",
        "week": "주",
        "dates": "기간",
        "subscribers": "구독자",
        "joined": "가입",
        "unsubscribed": "수신 거부",
        "bounced": "반송",
        "bounced_permanent": "영구 반송",
        "complained": "스팸 신고",
        "table_of": "{what}: 표",
        "top_links": "많이 클릭한 링크",
        "link": "링크",
        "clicks": "전체 클릭",
        "footer": "이 파일은 외부 자원 없이 혼자 열립니다. newsletter report 명령으로 만들었습니다.",
    },
    "en": {
        "title": "{name} issue {number}: campaign report",
        "summary": "List {list} · status {status} · started {started} (UTC) · generated {generated} (UTC)",
        "not_started": "not started yet",
        "funnel": "From targeted to clicked",
        "funnel_desc": "Of {targeted} targeted: {sent} sent, {delivered} delivered, {opened} opened, {clicked} clicked (unique)",
        "stage": "Stage",
        "unique": "Unique",
        "total": "All events",
        "share": "Of targeted",
        "targeted": "Targeted",
        "sent": "Sent",
        "delivered": "Delivered",
        "opened": "Opened",
        "clicked": "Clicked",
        "approximate": (
            "Opens and clicks are approximate: image blocking and privacy protection (Apple Mail's, "
            "for one) hide or inflate opens, and link scanners click on readers' behalf. Unique "
            "counts count each recipient (each message) once."
        ),
        "no_events": "No SES events yet: delivered, opened and clicked fill in as events arrive.",
        "other": "Bounced {bounced} ({permanent} permanent), complained {complained}, failed {failed}, unknown {unknown}, skipped {skipped}, unsubscribed after it {unsubscribed}",
        "rates": "Bounce and complaint rates",
        "rate": "Rate",
        "value": "Value",
        "limits": "Thresholds",
        "state": "State",
        "bounce_rate": "Bounce rate (SES)",
        "complaint_rate": "Complaint rate (SES)",
        "spam_rate": "Spam rate (Gmail)",
        "bounce_text": (
            "Bounce rate {value}: permanent bounces {permanent} ÷ sent {sent}. SES warns at 5% and "
            "reviews the account at 10%, when it may pause sending. Soft bounces are not counted."
        ),
        "complaint_text": (
            "Complaint rate {value}: complaints {complained} ÷ delivered {delivered}. SES warns "
            "at 0.1% and reviews the account at 0.5%."
        ),
        "spam_text": (
            "Gmail asks bulk senders to keep the spam rate below 0.1% and never to reach 0.3%. "
            "Gmail's own figure is in Postmaster Tools and only some complaints come back through "
            "SES, so the complaint rate here is the nearest figure we have."
        ),
        "ok": "within limits",
        "warning": "warning level",
        "danger": "review level",
        "gmail_ok": "below 0.1%: as recommended",
        "gmail_warning": "0.1% or more: above the recommendation",
        "gmail_danger": "0.3% or more: over Gmail's limit",
        "ses_limits": "warning {warning}, review {review}",
        "gmail_limits": "keep below {warning}, limit {review}",
        "warning_line": "warning {value}",
        "review_line": "review {value}",
        "gmail_keep": "keep below {value}",
        "gmail_never": "limit {value}",
        "history": "The {list} list week by week",
        "history_note": (
            "Weeks are ISO weeks (Monday to Sunday) in UTC; the last {weeks} are shown{earlier}. "
            "Subscribers are the people who could receive mail at the end of each week."
        ),
        "earlier": " ({count} earlier week(s) with data left out)",
        "weekly_changes": "Joined, unsubscribed, bounced and complained per week",
        "weekly_changes_desc": "Over {weeks} weeks: {joined} joined, {unsubscribed} unsubscribed, {bounced} bounced, {complained} complained",
        "weekly_subscribers": "Subscribers at the end of each week",
        "weekly_subscribers_desc": "From {start} in {first} to {end} in {last}",
        "week": "Week",
        "dates": "Dates",
        "subscribers": "Subscribers",
        "joined": "Joined",
        "unsubscribed": "Unsubscribed",
        "bounced": "Bounced",
        "bounced_permanent": "Permanent",
        "complained": "Complained",
        "table_of": "{what}: the numbers",
        "top_links": "Most clicked links",
        "link": "Link",
        "clicks": "All clicks",
        "footer": "This file opens on its own, with nothing fetched. Made by newsletter report.",
    },
}


def words(lang: str) -> dict[str, str]:
    """The words for a language tag; unknown languages fall back to English."""
    return WORDS.get(lang.split("-")[0].lower(), WORDS["en"])


def number(value: float) -> str:
    """`12,345`: thousands grouped (Korean groups by thousands with commas too)."""
    return f"{value:,.0f}"


def percent(rate: float, digits: int = 2) -> str:
    """`1.23%`, `0.1%`, `0%`: a rate (0..1) with at most `digits` decimals, no trailing zeros."""
    text = f"{rate * 100:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


_EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def week_dates(monday: date, sunday: date, lang: str) -> str:
    """`Nov 30 – Dec 6` / `11월 30일 ~ 12월 6일`: a week's days, the year left to its label."""
    if lang.startswith("ko"):
        tail = (
            f"{sunday.day}일"
            if sunday.month == monday.month
            else f"{sunday.month}월 {sunday.day}일"
        )
        return f"{monday.month}월 {monday.day}일 ~ {tail}"
    start = f"{_EN_MONTHS[monday.month - 1]} {monday.day}"
    if sunday.month == monday.month:
        return f"{start} – {sunday.day}"
    return f"{start} – {_EN_MONTHS[sunday.month - 1]} {sunday.day}"
