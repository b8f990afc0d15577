"""The preference page's markup, its words from the catalogue (`pipeline.words`): the
reader's lists in a table with their states in words (never colour alone), one small form
per action with a real button, and the outcome of what they just did.

Plain HTML with no script (it works with scripts off, and the page's CSP allows none);
the frame, the focus outline of buttons and the security headers are `pages.page`'s.
Every value that comes from the database (list names, descriptions, the newsletter's
name) is escaped here, and the address is shown masked.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache

from starlette.responses import HTMLResponse

from pipeline import words
from pipeline.audience.preferences import ListState, Preferences
from pipeline.web.pages import mask, page


@dataclass(frozen=True)
class Texts:
    """Everything the page says. {who} is the masked address, {name} a list's name,
    {newsletter} the newsletter's; all three arrive escaped."""

    unsubscribe: str
    already: str
    left: str
    left_all: str
    rejoined: str
    not_rejoined: str
    not_confirmed: str
    bad_request: str
    ask: str
    is_unsubscribed: str
    is_unconfirmed: str
    left_one: str
    by_mistake: str
    left_everything: str
    back_on: str
    bounced_cannot: str
    unconfirmed_cannot: str
    nothing_changed: str
    open_again: str
    lists: str
    lists_intro: str
    column_list: str
    column_state: str
    this_email: str
    subscribed: str
    unsubscribed: str
    unconfirmed: str
    not_subscribed: str
    stopped: str
    confirm_by_link: str
    leave: str
    rejoin: str
    leave_all: str
    leave_all_note: str
    bounced_note: str
    complained_note: str


# Inline styles: the page frame's stylesheet is shared, and the CSP allows inline styles.
_TABLE = ' style="width:100%;border-collapse:collapse;margin:1rem 0"'
_CELL = ' style="text-align:left;vertical-align:top;padding:.6rem .5rem .6rem 0;'
_CELL += 'border-top:1px solid #d0d7de"'
_NAME_CELL = _CELL[:-1] + ';overflow-wrap:anywhere"'  # a long list name wraps, not the page
# A second line in a cell: normal weight, muted (a table header cell is bold).
_NOTE = ' class="muted" style="display:block;font-weight:normal"'
_SMALL_BUTTON = ' style="font-size:.95rem;padding:.4rem .8rem;white-space:nowrap"'


def texts(ko: bool) -> Texts:
    """The page's words (`preferences.*` in the catalogue)."""
    return _texts("ko" if ko else "en")


@cache
def _texts(lang: str) -> Texts:
    return Texts(**words.table(lang, "preferences"))


def paragraph(text: str, *, muted: bool = False) -> str:
    """`text` is markup already (escaped values in a sentence of ours)."""
    return f'<p class="muted">{text}</p>' if muted else f"<p>{text}</p>"


class Words:
    """The texts with this page's values filled in, escaped."""

    def __init__(self, t: Texts, prefs: Preferences, newsletter: str) -> None:
        self.t = t
        self.prefs = prefs
        self.who = html.escape(mask(prefs.email))
        self.newsletter = html.escape(newsletter)

    def say(self, template: str, list_name: str | None = None) -> str:
        name = html.escape(list_name if list_name is not None else self.prefs.link_list.name)
        return template.format(who=self.who, name=name, newsletter=self.newsletter)


def form(
    action: str,
    label: str,
    *,
    list_id: int | None = None,
    named: str | None = None,
    primary: bool = False,
    small: bool = False,
) -> str:
    """A form of one button. `named` (a list's name) goes into the button's accessible
    name, after its visible label, so that a screen reader tells the rows apart."""
    hidden = f'<input type="hidden" name="action" value="{action}">'
    if list_id is not None:
        hidden += f'<input type="hidden" name="list" value="{list_id}">'
    attributes = "" if primary else ' class="secondary"'
    if named is not None:
        attributes += f' aria-label="{html.escape(f"{label}: {named}")}"'
    if small:
        attributes += _SMALL_BUTTON
    return (
        f'<form method="post">{hidden}'
        f'<button type="submit"{attributes}>{html.escape(label)}</button></form>'
    )


def _state_text(words: Words, state: ListState) -> str:
    t = words.t
    if state.status == "subscribed":
        return t.stopped if words.prefs.suppressed else t.subscribed
    if state.status == "unconfirmed":
        return f"{t.unconfirmed}" + f"<span{_NOTE}>{t.confirm_by_link}</span>"
    if state.status == "unsubscribed":
        return t.unsubscribed
    return t.not_subscribed


def _row(words: Words, state: ListState, *, link: bool) -> str:
    t = words.t
    name = html.escape(state.name)
    header = name
    if link:
        header += f"<span{_NOTE}>{t.this_email}</span>"
    if state.description:
        header += f"<span{_NOTE}>{html.escape(state.description)}</span>"
    if state.leavable:
        change = form(
            "leave", t.leave, list_id=state.list_id, named=state.name, primary=link, small=True
        )
    elif words.prefs.suppressed:
        change = ""  # only the publisher may resubscribe them: the note above says how
    else:
        change = form("rejoin", t.rejoin, list_id=state.list_id, named=state.name, small=True)
    if change:
        change = f'<div style="margin-top:.4rem">{change}</div>'
    # The button sits under the state, not in a third column: a phone's width (320 CSS px)
    # holds two columns without scrolling sideways.
    return (
        f'<tr><th scope="row"{_NAME_CELL}>{header}</th>'
        f"<td{_CELL}>{_state_text(words, state)}{change}</td></tr>"
    )


def lists_section(words: Words) -> str:
    """The table of the reader's lists (the link's first) and the leave-all form."""
    t, prefs = words.t, words.prefs
    parts = [f"<h2>{t.lists}</h2>", paragraph(words.say(t.lists_intro))]
    if prefs.suppressed:
        note = t.bounced_note if prefs.status == "bounced" else t.complained_note
        parts.append(paragraph(words.say(note)))
    rows = "".join(_row(words, s, link=i == 0) for i, s in enumerate(prefs.lists))
    parts.append(
        f'<table{_TABLE}><colgroup><col style="width:45%"><col></colgroup><thead><tr>'
        f'<th scope="col"{_CELL}>{t.column_list}</th><th scope="col"{_CELL}>{t.column_state}</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    if any(s.leavable for s in prefs.lists):
        parts.append(form("leave-all", t.leave_all) + paragraph(t.leave_all_note, muted=True))
    return "".join(parts)


def preference_page(
    t: Texts, prefs: Preferences, *, newsletter: str, lang: str, outcome: tuple[str, str] | None
) -> HTMLResponse:
    """The page for `prefs`: on a GET (`outcome` None) it asks about the link's list; after
    a change, `outcome` is (title, sentences) of what was done."""
    words = Words(t, prefs, newsletter)
    if outcome is not None:
        title, intro = outcome
    else:
        link = prefs.link_list
        if link.status == "subscribed":
            title, intro = t.unsubscribe, paragraph(words.say(t.ask))
        elif link.status == "unconfirmed":
            title = t.unsubscribe
            intro = paragraph(words.say(t.is_unconfirmed)) + paragraph(words.say(t.confirm_by_link))
        else:
            title, intro = t.already, paragraph(words.say(t.is_unsubscribed))
    return page(title, intro + lists_section(words), lang)


def left_one(t: Texts, prefs: Preferences, newsletter: str, list_name: str) -> tuple[str, str]:
    words = Words(t, prefs, newsletter)
    text = paragraph(words.say(t.left_one, list_name))
    if not prefs.suppressed:
        text += paragraph(t.by_mistake, muted=True)
    return t.left, text


def left_all(t: Texts, prefs: Preferences, newsletter: str) -> tuple[str, str]:
    words = Words(t, prefs, newsletter)
    text = paragraph(words.say(t.left_everything))
    if not prefs.suppressed:
        text += paragraph(t.by_mistake, muted=True)
    return t.left_all, text


def rejoined(t: Texts, prefs: Preferences, newsletter: str, list_name: str) -> tuple[str, str]:
    return t.rejoined, paragraph(Words(t, prefs, newsletter).say(t.back_on, list_name))


def refusal(t: Texts, email: str, reason: str, list_name: str, lang: str) -> HTMLResponse:
    """409: a rejoin this page may not do. No button: there is nothing to press."""
    who, name = html.escape(mask(email)), html.escape(list_name)
    if reason == "unconfirmed":
        return page(t.not_confirmed, paragraph(t.unconfirmed_cannot.format(name=name)), lang, 409)
    return page(t.not_rejoined, paragraph(t.bounced_cannot.format(who=who)), lang, 409)


def bad_request(t: Texts, lang: str) -> HTMLResponse:
    """400: a form value that is not one of this reader's (a forged or stale form)."""
    body = paragraph(t.nothing_changed) + paragraph(t.open_again, muted=True)
    return page(t.bad_request, body, lang, 400)
