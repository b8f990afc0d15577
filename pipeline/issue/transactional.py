"""Transactional mail of the signup: the confirmation email (double opt-in) and the welcome.

The confirmation is rendered from `templates/confirm.mjml.j2` with the same MJML compiler
and CSS inliner as an issue, in the newsletter's language (Korean for `ko`, else English),
with an HTML and a text part. It is transactional: it carries no List-Unsubscribe header
and no unsubscribe link, since it goes once to someone who asked for it, and whoever did
not sign up hears no more by ignoring it. The welcome is an issue-format Markdown file,
built and personalised exactly like an issue (so it carries the reader's own unsubscribe
link and headers). This module knows no database: the caller brings the addresses.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import jinja2
from mjml import mjml2html

from pipeline import words
from pipeline.errors import RenderError
from pipeline.issue.build import build
from pipeline.issue.message import Addressee, Message, format_address, one_line, personalise
from pipeline.issue.render import REPO_TEMPLATES, Rendered, inline_css
from pipeline.settings import Settings

CONFIRM_TEMPLATE = "confirm.mjml.j2"
_T = TypeVar("_T")
_Key = tuple[object, ...]


def strings(lang: str) -> dict[str, str]:
    """The confirmation email's words (`confirm_mail.*` in the catalogue)."""
    return words.table(lang, "confirm_mail")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        # The project's own templates/ first, then the ones shipped here.
        loader=jinja2.FileSystemLoader([str(Path("templates")), str(REPO_TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


# Stand-ins for the two personal values while the confirmation is rendered: letters and
# digits only, so that escaping, MJML and the CSS inliner leave them as they are.
_EMAIL = "nlconfirmemail7f3a9c"
_URL = "nlconfirmurl7f3a9c"
_CACHE_SIZE = 64


def _cached(
    cache: dict[tuple[object, ...], _T], key: tuple[object, ...], make: Callable[[], _T]
) -> _T:
    """Rendered once per key (the settings and what differs between messages), kept for the
    next message: a burst of signups renders the template once, not once a reader."""
    if key not in cache:
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = make()
    return cache[key]


_CONFIRMATIONS: dict[_Key, tuple[str, str]] = {}


def _confirmation_document(settings: Settings, lists: tuple[str, ...]) -> tuple[str, str]:
    """(subject, inlined HTML with the stand-ins) for one set of lists."""
    t = strings(settings.lang)
    subject = t["subject"].format(name=one_line(settings.name))
    context = {
        "lang": settings.lang,
        "subject": subject,
        "name": settings.name,
        "theme": settings.theme,
        "logo": settings.theme.logo_for(settings.name),
        "heading": t["heading"],
        "intro": t["intro"].format(email=_EMAIL, name=settings.name),
        "lists": list(lists),
        "button": t["button"],
        "link_hint": t["link_hint"].format(days=settings.confirm_link_days),
        "ignore": t["ignore"],
        "confirm_url": _URL,
        "postal_address": settings.postal_address,
    }
    try:
        source = _environment().get_template(CONFIRM_TEMPLATE).render(context)
        document = inline_css(mjml2html(source, disable_comments=False, fonts={}))
    except (jinja2.TemplateError, ValueError) as exc:
        raise RenderError(
            f"the confirmation email cannot be rendered: {exc}",
            hint=f"check the template {CONFIRM_TEMPLATE}",
        ) from None
    if _URL not in document:
        raise RenderError(
            "the rendered confirmation email lacks its link", hint=f"check {CONFIRM_TEMPLATE}"
        )
    return subject, document


def confirmation(
    settings: Settings, *, email: str, name: str | None, lists: list[str], confirm_url: str
) -> Message:
    """The confirmation email for one person: the link confirms their signup."""
    t = strings(settings.lang)
    key = (settings.model_dump_json(), tuple(lists))
    subject, document = _cached(
        _CONFIRMATIONS, key, lambda: _confirmation_document(settings, tuple(lists))
    )
    document = document.replace(_EMAIL, html.escape(email)).replace(_URL, html.escape(confirm_url))
    intro = t["intro"].format(email=email, name=settings.name)
    listed = "".join(f"- {item}\n" for item in lists)
    link_hint = t["link_hint"].format(days=settings.confirm_link_days)
    text = (
        f"{settings.name}\n\n{t['heading']}\n\n{intro}\n\n"
        + (f"{t['lists']}\n{listed}\n" if lists else "")
        + f"{link_hint}\n{confirm_url}\n\n{t['ignore']}\n\n--\n"
        + f"{settings.postal_address}\n"
    )
    return Message(
        from_address=settings.from_address,
        to=format_address(email, name or ""),
        to_mailbox=(one_line(name or ""), email),
        subject=subject,
        html=document,
        text=text,
        headers={},  # transactional: no List-Unsubscribe, no List-Id
        reply_to=settings.reply_to,
    )


_WELCOMES: dict[_Key, Rendered] = {}


def _welcome_rendered(settings: Settings, path: Path) -> Rendered:
    built = build(path, settings)
    if built.errors or built.rendered is None:
        first = built.errors[0] if built.errors else None
        where = f"{first.path}:{first.line}: {first.message}" if first else str(path)
        raise RenderError(
            f"the welcome message {path} has errors ({where})",
            hint=f"run `newsletter check {path}`",
        )
    return built.rendered


def welcome(settings: Settings, path: Path, recipient: Addressee) -> Message:
    """The welcome message: an issue-format file, built and checked like an issue, for one
    reader (their own unsubscribe link). RenderError when it has errors. The file is built
    once per version of it (its size and modification time), then only personalised."""
    try:
        info = path.stat()
        version: _Key = (str(path.resolve()), info.st_mtime_ns, info.st_size)
    except OSError:
        version = (str(path), None, None)  # build() reports the missing file
    key = (settings.model_dump_json(), *version)
    rendered = _cached(_WELCOMES, key, lambda: _welcome_rendered(settings, path))
    return personalise(rendered, recipient, settings)
