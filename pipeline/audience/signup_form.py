"""The signup form as readers see it: on the hosted page, on the home page, printed by
`newsletter form` for any site, and its short form (an address and a button) on the
archive's pages. Which lists are ticked for a reader is decided here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from pipeline.audience.records import MailingList
from pipeline.settings import Settings
from pipeline.words import templates

HONEYPOT = "website"  # a field people never see; bots fill every field they find


def chosen(settings: Settings, public: list[MailingList]) -> list[str]:
    """The lists ticked for a reader who has chosen nothing yet: the one public list, else
    the public ones the theme's `default_lists` names."""
    if len(public) == 1:
        return [public[0].name]
    offered = {m.name for m in public}
    return [name for name in settings.theme.default_lists if name in offered]


def form_html(
    settings: Settings,
    public: list[MailingList],
    *,
    action: str = "/subscribe",
    values: Mapping[str, Sequence[str]] | None = None,
    problems: Mapping[str, str] | None = None,
) -> str:
    """The signup form (`templates/web/signup_form.html.j2`), with what the reader typed
    and what is wrong with it."""
    values, problems = values or {}, problems or {}
    ticked = set(values.get("list", [])) or set(chosen(settings, public))
    return templates.render(
        "web/signup_form.html.j2",
        settings.lang,
        brand=templates.Brand.of(settings),
        action=action,
        lists=public,
        chosen=ticked,
        email=(values.get("email") or [""])[0],
        name=(values.get("name") or [""])[0],
        problems=problems,
        honeypot=HONEYPOT,
    )


def subscribe_box(settings: Settings, public: list[MailingList], *, form_url: str) -> Markup:
    """The short form on the archive's pages: an address and a button, for the lists a
    reader gets by default; where none is chosen for them, a link to the whole form at
    `form_url`. Nothing when no list is open for signup."""
    if not public:
        return Markup("")
    return Markup(
        templates.render(
            "web/subscribe_box.html.j2",
            settings.lang,
            brand=templates.Brand.of(settings),
            lists=chosen(settings, public),
            form_url=form_url,
            honeypot=HONEYPOT,
        )
    )
