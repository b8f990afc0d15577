"""The campaign report as one self-contained HTML page: the funnel, the rates against SES's
and Gmail's thresholds, and the list week by week, each as an inline SVG chart with the same
numbers in a table under it.

The page fetches nothing: no script, no external style, font or image, and a
Content-Security-Policy meta that allows nothing but its own inline styles. `newsletter
report --html` writes it to a file; the preview server serves it (`web/report_page.py`).
Light and dark come from `prefers-color-scheme`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.feedback import charts
from pipeline.feedback.history import WeeklyHistory, list_history
from pipeline.feedback.report import GMAIL_SPAM, SES_BOUNCE, SES_COMPLAINT, _flag, one_campaign
from pipeline.feedback.report_words import number, percent, week_dates, words

CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_STYLE = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #57606a;
  --grid: #d0d7de; --s1: #0b57d0; --s2: #1a7f37; --s3: #9a6700; --s4: #b42318;
  --ok: #1a7f3722; --warn: #bf870033; --bad: #d1242f2e; --warn-line: #9a6700;
  --bad-line: #b42318; --card: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --grid: #30363d;
    --s1: #79b8ff; --s2: #56d364; --s3: #e3b341; --s4: #ff7b72;
    --ok: #2ea04333; --warn: #d2992240; --bad: #f8514940; --warn-line: #e3b341;
    --bad-line: #ff7b72; --card: #161b22; }
}
body { font-family: system-ui, -apple-system, 'Apple SD Gothic Neo', 'Malgun Gothic', sans-serif;
  background: var(--bg); color: var(--fg); max-width: 60rem; margin: 2rem auto;
  padding: 0 1.25rem; line-height: 1.55; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; }
.muted { color: var(--muted); }
figure { margin: 1.25rem 0; padding: 1rem; background: var(--card); border-radius: .5rem; }
figcaption { font-weight: 600; margin-bottom: .5rem; }
svg.chart { display: block; width: 100%; max-width: 640px; height: auto; }
svg .label, svg .value, svg .tick { fill: var(--fg); font-size: 13px; }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .value { font-weight: 600; } svg .inverse { fill: var(--bg); }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .s1 { fill: var(--s1); stroke: var(--s1); } svg .s2 { fill: var(--s2); stroke: var(--s2); }
svg .s3 { fill: var(--s3); stroke: var(--s3); } svg .s4 { fill: var(--s4); stroke: var(--s4); }
svg .bar { stroke: none; } svg .line { fill: none; stroke-width: 2; }
svg .band-ok { fill: var(--ok); } svg .band-warn { fill: var(--warn); }
svg .band-bad { fill: var(--bad); }
svg .threshold { stroke-width: 2; stroke-dasharray: 4 3; }
svg .warn { stroke: var(--warn-line); } svg .bad { stroke: var(--bad-line); }
table { border-collapse: collapse; margin-top: .75rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-size: .9rem; color: var(--muted); padding-bottom: .25rem; }
th, td { white-space: nowrap; padding: .2rem .6rem; border-bottom: 1px solid var(--grid);
  text-align: right; }
th[scope=row], thead th:first-child { text-align: left; }
.state-warning { color: var(--warn-line); font-weight: 600; }
.state-danger { color: var(--bad-line); font-weight: 600; }
.scroll { overflow-x: auto; }
.scroll:focus-visible { outline: 3px solid var(--s1); outline-offset: 2px; }
"""


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        f'<tr><th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(c)}</td>" for c in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        # A wide table scrolls on a phone; the region takes focus so a keyboard can scroll it.
        f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f"<table><caption>{escape(caption)}</caption>"
        f"<thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _figure(caption: str, svg: str, table: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{svg}{table}</figure>"


def _funnel(r: dict[str, Any], w: dict[str, str]) -> str:
    totals = r.get("event_totals", {})
    stages = [
        ("targeted", r["targeted"], None),
        ("sent", r["sent"], None),
        ("delivered", r["delivered"], totals.get("Delivery", 0)),
        ("opened", r["unique_opens"], totals.get("Open", 0)),
        ("clicked", r["unique_clicks"], totals.get("Click", 0)),
    ]
    targeted = r["targeted"]

    def share(value: int) -> str:
        return percent(value / targeted, 1) if targeted else percent(0)

    values = {key: number(value) for key, value, _ in stages}
    svg = charts.bars(
        "funnel",
        w["funnel"],
        w["funnel_desc"].format(**values),
        [w[key] for key, _, _ in stages],
        [value for _, value, _ in stages],
        [f"{number(value)} ({share(value)})" for _, value, _ in stages],
    )
    rows = [
        [w[key], number(value), "–" if total is None else number(total), share(value)]
        for key, value, total in stages
    ]
    table = _table(
        w["table_of"].format(what=w["funnel"]),
        [w["stage"], w["unique"], w["total"], w["share"]],
        rows,
    )
    other = w["other"].format(
        bounced=number(r["bounced"]),
        permanent=number(r["bounced_permanent"]),
        complained=number(r["complained"]),
        failed=number(r["failed"]),
        unknown=number(r["unknown"]),
        skipped=number(r["skipped"]),
        unsubscribed=number(r["unsubscribed"]),
    )
    notes = f'<p>{escape(other)}</p><p class="muted">{escape(w["approximate"])}</p>'
    if r["top_links"]:
        # The addresses are text, not links: the report opens nothing by itself.
        links = [
            [str(link["link"] or "?"), number(link["unique_clicks"]), number(link["clicks"])]
            for link in r["top_links"]
        ]
        notes += _table(w["top_links"], [w["link"], w["unique"], w["clicks"]], links)
    if not totals:
        notes = f"<p><strong>{escape(w['no_events'])}</strong></p>" + notes
    figure = _figure(w["funnel"], svg, table)
    return f"<section><h2>{escape(w['funnel'])}</h2>{figure}{notes}</section>"


def _rates(r: dict[str, Any], w: dict[str, str]) -> str:
    bounce, complaint = float(r["bounce_rate"]), float(r["complaint_rate"])
    checks = [
        ("bounce", w["bounce_rate"], bounce, SES_BOUNCE, False),
        ("complaint", w["complaint_rate"], complaint, SES_COMPLAINT, False),
        ("spam", w["spam_rate"], complaint, GMAIL_SPAM, True),
    ]
    parts, rows = [], []
    for key, title, value, (warning, review), gmail in checks:
        flag = _flag(value, (warning, review))
        state = w[f"gmail_{flag}"] if gmail else w[flag]
        lines = (
            [(warning, w["gmail_keep"], "warn"), (review, w["gmail_never"], "bad")]
            if gmail
            else [(warning, w["warning_line"], "warn"), (review, w["review_line"], "bad")]
        )
        limits = (w["gmail_limits"] if gmail else w["ses_limits"]).format(
            warning=percent(warning), review=percent(review)
        )
        svg = charts.rate(
            f"rate-{key}",
            title,
            f"{title}: {percent(value)}; {limits}; {state}",
            value,
            [charts.Threshold(v, label.format(value=percent(v)), css) for v, label, css in lines],
            percent,
        )
        parts.append(
            f"<figure><figcaption>{escape(title)}: {escape(percent(value))} "
            f'<span class="state-{flag}">({escape(state)})</span></figcaption>{svg}</figure>'
        )
        rows.append([title, percent(value), limits, state])
    texts = [
        w["bounce_text"].format(
            value=percent(bounce),
            permanent=number(r["bounced_permanent"]),
            sent=number(r["sent"]),
        ),
        w["complaint_text"].format(
            value=percent(complaint),
            complained=number(r["complained"]),
            delivered=number(r["delivered"] or r["sent"]),
        ),
        w["spam_text"],
    ]
    table = _table(
        w["table_of"].format(what=w["rates"]),
        [w["rate"], w["value"], w["limits"], w["state"]],
        rows,
    )
    prose = "".join(f"<p>{escape(t)}</p>" for t in texts)
    return f"<section><h2>{escape(w['rates'])}</h2>{prose}{''.join(parts)}{table}</section>"


def _history(history: WeeklyHistory, list_name: str, lang: str, w: dict[str, str]) -> str:
    weeks = history.weeks
    short = [f"W{week.number:02d}" for week in weeks]
    earlier = w["earlier"].format(count=history.earlier) if history.earlier else ""
    note = w["history_note"].format(weeks=len(weeks), earlier=earlier)
    changes = [
        charts.Series(w["joined"], history.joined, "s2"),
        charts.Series(w["unsubscribed"], history.unsubscribed, "s3"),
        charts.Series(w["bounced"], history.bounced, "s4"),
        charts.Series(w["complained"], history.complained, "s1"),
    ]
    totals = {
        "joined": number(sum(history.joined)),
        "unsubscribed": number(sum(history.unsubscribed)),
        "bounced": number(sum(history.bounced)),
        "complained": number(sum(history.complained)),
    }
    changes_svg = charts.columns(
        "weekly-changes",
        w["weekly_changes"],
        w["weekly_changes_desc"].format(weeks=len(weeks), **totals),
        short,
        changes,
        number,
    )
    subscribers_svg = charts.lines(
        "weekly-subscribers",
        w["weekly_subscribers"],
        w["weekly_subscribers_desc"].format(
            first=weeks[0].label,
            start=number(history.subscribers[0]),
            last=weeks[-1].label,
            end=number(history.subscribers[-1]),
        ),
        short,
        [charts.Series(w["subscribers"], history.subscribers, "s1")],
        number,
    )
    rows = [
        [
            week.label,
            week_dates(week.monday, week.sunday, lang),
            number(history.subscribers[i]),
            number(history.joined[i]),
            number(history.unsubscribed[i]),
            number(history.bounced[i]),
            number(history.bounced_permanent[i]),
            number(history.complained[i]),
        ]
        for i, week in enumerate(weeks)
    ]
    head = [
        w["week"],
        w["dates"],
        w["subscribers"],
        w["joined"],
        w["unsubscribed"],
        w["bounced"],
        w["bounced_permanent"],
        w["complained"],
    ]
    title = w["history"].format(list=list_name)
    table = _table(w["table_of"].format(what=title), head, rows)
    return (
        f"<section><h2>{escape(title)}</h2><p>{escape(note)}</p>"
        f"<figure><figcaption>{escape(w['weekly_subscribers'])}</figcaption>{subscribers_svg}"
        f"</figure>{_figure(w['weekly_changes'], changes_svg, table)}</section>"
    )


def document(
    record: dict[str, Any],
    history: WeeklyHistory,
    *,
    name: str,
    lang: str,
    generated_at: datetime,
) -> str:
    """The page for one campaign's report (from `one_campaign`) and its list's history."""
    w = words(lang)
    page_lang = "ko" if w is words("ko") else "en"
    started = record["started_at"]
    title = w["title"].format(name=name, number=record["issue"])
    summary = w["summary"].format(
        list=record["list"] or "?",
        status=w.get(f"status_{record['status']}", record["status"]),
        started=f"{started:%Y-%m-%d %H:%M}" if started else w["not_started"],
        generated=f"{generated_at.astimezone(UTC):%Y-%m-%d %H:%M}",
    )
    subject = f"<p>{escape(record['subject'])}</p>" if record.get("subject") else ""
    body = (
        _funnel(record, w)
        + _rates(record, w)
        + _history(history, str(record["list"] or "?"), page_lang, w)
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{page_lang}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{subject}"
        f'<p class="muted">{escape(summary)}</p>{body}</main>'
        f'<footer><p class="muted">{escape(w["footer"])}</p></footer></body></html>\n'
    )


def build(
    store: Store,
    issue_number: int,
    list_name: str | None,
    *,
    name: str,
    lang: str,
    now: datetime | None = None,
    campaign_id: int | None = None,
) -> tuple[dict[str, Any], str]:
    """The report record and its page for the issue's campaign (see `one_campaign`)."""
    now = now or utcnow()
    record = one_campaign(store, issue_number, list_name, campaign_id)
    # A deleted list has no members left: its history is empty (list id -1 matches none).
    list_id = record["list_id"] if record["list_id"] is not None else -1
    history = list_history(store, list_id, now=now)
    return record, document(record, history, name=name, lang=lang, generated_at=now)
