"""The preference page's words and markup, in Korean and English: the reader's lists in a
table with their states in words (never colour alone), one small form per action with a
real button, and the outcome of what they just did.

Plain HTML with no script (it works with scripts off, and the page's CSP allows none);
the frame, the focus outline of buttons and the security headers are `pages.page`'s.
Every value that comes from the database (list names, descriptions, the newsletter's
name) is escaped here, and the address is shown masked.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from starlette.responses import HTMLResponse

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


KO = Texts(
    unsubscribe="수신 거부",
    already="이미 수신 거부됨",
    left="수신 거부되었습니다",
    left_all="모든 목록에서 수신 거부되었습니다",
    rejoined="다시 구독되었습니다",
    not_rejoined="다시 구독할 수 없습니다",
    not_confirmed="아직 구독이 확인되지 않았습니다",
    bad_request="처리할 수 없는 요청",
    ask="{who} 주소로 {newsletter} ({name}) 메일을 그만 받으시겠어요?",
    is_unsubscribed="{who} 주소는 {name} 목록에서 수신 거부되어 있습니다.",
    is_unconfirmed="{who} 주소의 {name} 구독 신청은 아직 확인되지 않았습니다.",
    left_one="{who} 주소로 더 이상 {name} 메일을 보내지 않습니다.",
    by_mistake="실수로 누르셨다면 다시 구독할 수 있습니다.",
    left_everything="{who} 주소로 더 이상 어떤 목록의 메일도 보내지 않습니다.",
    back_on="{who} 주소로 {name} 메일을 다시 보내 드립니다.",
    bounced_cannot="{who} 주소로 보낸 메일이 반송되었거나 스팸으로 신고되어 여기서는 다시 "
    "구독할 수 없습니다. 이메일에 답장해 주시면 도와드리겠습니다.",
    unconfirmed_cannot="{name} 구독은 확인 메일의 링크를 눌러야 시작됩니다. 이 페이지에서는 "
    "확인할 수 없습니다.",
    nothing_changed="이 요청은 처리할 수 없어 아무것도 바꾸지 않았습니다.",
    open_again="이메일에 있는 링크를 다시 열어 주세요.",
    lists="구독 목록",
    lists_intro="{who} 주소의 목록입니다. 목록마다 받을지 정할 수 있습니다.",
    column_list="목록",
    column_state="상태",
    this_email="이 메일의 목록",
    subscribed="구독 중",
    unsubscribed="수신 거부됨",
    unconfirmed="확인 대기 중",
    not_subscribed="구독하지 않음",
    stopped="구독 중이지만 발송 중지됨",
    confirm_by_link="확인 메일의 링크를 누르면 구독이 시작됩니다. 여기서는 확인할 수 없습니다.",
    leave="수신 거부",
    rejoin="다시 구독하기",
    leave_all="모든 목록에서 수신 거부",
    leave_all_note="나중에 생기는 목록의 메일도 보내지 않습니다.",
    bounced_note="{who} 주소로 보낸 메일이 반송되어 지금은 아무 메일도 보내지 않습니다. "
    "다시 받으시려면 이메일에 답장해 주세요.",
    complained_note="{who} 주소에서 메일이 스팸으로 신고되어 지금은 아무 메일도 보내지 "
    "않습니다. 다시 받으시려면 이메일에 답장해 주세요.",
)

EN = Texts(
    unsubscribe="Unsubscribe",
    already="You are unsubscribed",
    left="You are unsubscribed",
    left_all="You are unsubscribed from all lists",
    rejoined="You are subscribed again",
    not_rejoined="Not resubscribed",
    not_confirmed="Not confirmed yet",
    bad_request="This request could not be handled",
    ask="Stop sending {newsletter} ({name}) to {who}?",
    is_unsubscribed="{who} no longer receives {name}.",
    is_unconfirmed="The signup of {who} to {name} is not confirmed yet.",
    left_one="{who} will no longer receive {name}.",
    by_mistake="Did that by mistake? You can subscribe again.",
    left_everything="{who} will no longer receive any of our lists.",
    back_on="{who} will receive {name} again.",
    bounced_cannot="Mail to {who} bounced or was reported as spam, so it cannot be "
    "resubscribed here. Reply to the email and we will help.",
    unconfirmed_cannot="A subscription to {name} starts with the link in its confirmation "
    "email; this page cannot confirm it.",
    nothing_changed="This request could not be handled, so nothing was changed.",
    open_again="Open the link in the email again.",
    lists="Your lists",
    lists_intro="The lists of {who}. Choose for each one whether to receive it.",
    column_list="List",
    column_state="Status",
    this_email="The list of this email",
    subscribed="Subscribed",
    unsubscribed="Unsubscribed",
    unconfirmed="Waiting for confirmation",
    not_subscribed="Not subscribed",
    stopped="Subscribed, but mail is stopped",
    confirm_by_link="The link in the confirmation email starts the subscription; it "
    "cannot be confirmed here.",
    leave="Unsubscribe",
    rejoin="Resubscribe",
    leave_all="Unsubscribe from all lists",
    leave_all_note="This also stops any list we start later.",
    bounced_note="Mail to {who} bounced, so nothing is sent to it now. To receive it "
    "again, reply to the email.",
    complained_note="Mail to {who} was reported as spam, so nothing is sent to it now. To "
    "receive it again, reply to the email.",
)

# Inline styles: the page frame's stylesheet is shared, and the CSP allows inline styles.
_TABLE = ' style="width:100%;border-collapse:collapse;margin:1rem 0"'
_CELL = ' style="text-align:left;vertical-align:top;padding:.6rem .5rem .6rem 0;'
_CELL += 'border-top:1px solid #d0d7de"'
_NAME_CELL = _CELL[:-1] + ';overflow-wrap:anywhere"'  # a long list name wraps, not the page
# A second line in a cell: normal weight, muted (a table header cell is bold).
_NOTE = ' class="muted" style="display:block;font-weight:normal"'
_SMALL_BUTTON = ' style="font-size:.95rem;padding:.4rem .8rem;white-space:nowrap"'


def texts(ko: bool) -> Texts:
    return KO if ko else EN


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
