"""Render an issue once: Markdown -> sanitised HTML -> Jinja2 MJML -> HTML -> inlined CSS.

Personal fields (name, email, unsubscribe URL) are placeholders in the rendered output,
split out once, so each recipient's copy is a cheap join instead of a re-render.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2
import nh3
from markdown_it.token import Token
from markupsafe import Markup
from mjml import mjml2html
from premailer import Premailer

from pipeline.errors import RenderError
from pipeline.issue.archive import archive_url, issue_url
from pipeline.issue.i18n import format_period, strings
from pipeline.issue.limits import MAX_HTML_BEFORE_INLINING
from pipeline.issue.plaintext import blocks_text
from pipeline.issue.source import Issue, markdown
from pipeline.settings import Settings
from pipeline.words.templates import SHIPPED

PERSONAL_FIELDS = ("name", "email", "unsubscribe_url")
_PLACEHOLDER = re.compile(r"%%NL:(\w+)%%")
TEMPLATE = "issue.mjml.j2"
REPO_TEMPLATES = SHIPPED  # the default templates, shipped in the package

_ALLOWED_TAGS = {
    "a", "p", "br", "ul", "ol", "li", "code", "pre", "blockquote", "em", "strong", "s",
    "del", "img", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}


def placeholder(field: str) -> str:
    return f"%%NL:{field}%%"


class PersonalTemplate:
    """Rendered text with personal-field placeholders, split once; `fill` is one join."""

    __slots__ = ("_fields", "_parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        pieces = _PLACEHOLDER.split(source)
        self._parts = pieces
        self._fields = [(i, pieces[i]) for i in range(1, len(pieces), 2)]
        unknown = {name for _, name in self._fields} - set(PERSONAL_FIELDS)
        if unknown:
            raise RenderError(f"unknown personal field(s) in template: {', '.join(unknown)}")

    @property
    def fields(self) -> set[str]:
        return {name for _, name in self._fields}

    def fill(self, values: Mapping[str, str], *, escape: bool) -> str:
        parts = self._parts.copy()
        for index, name in self._fields:
            value = values.get(name, "")
            parts[index] = html.escape(value) if escape else value
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One issue, rendered once: what every recipient's copy is made from."""

    issue: Issue
    subject: str
    preheader: str | None
    html: PersonalTemplate  # final email HTML, CSS inlined
    text: PersonalTemplate  # plain-text part
    web_url: str
    # The web version, when it was rendered with the rest (a schedule stores it); else the
    # campaign renders it from `issue` when it starts.
    web_html: str | None = None

    @property
    def html_bytes(self) -> int:
        return len(self.html.source.encode("utf-8"))


def _environment(templates: Path) -> jinja2.Environment:
    return _environment_at(templates.resolve())


@functools.lru_cache(maxsize=8)
def _environment_at(templates: Path) -> jinja2.Environment:
    """One environment per templates folder and process, so that each template is compiled
    once (a third of a render), not at every render; Jinja looks at the template's file
    each time it is asked for it and compiles it again when it has changed."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(templates), str(REPO_TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def templates_dir() -> Path:
    """The project's own `templates/` when it has one, else the templates shipped here."""
    local = Path("templates")
    return local if (local / TEMPLATE).exists() else REPO_TEMPLATES


def sanitise(fragment: str) -> str:
    """Only the markup Markdown makes; only http, https and mailto links survive."""
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=None,
    )


# An image as nh3 writes it: `<img src="..." alt="...">`, attributes escaped.
_IMAGE = re.compile(r"<img ([^>]*)>")
# The column is 640 px less 24 px each side; Outlook on Windows draws an image at this width.
OUTLOOK_IMAGE_WIDTH = 592


def _images(fragment: str, *, email: bool) -> str:
    """Every image no wider than the column. Outlook on Windows ignores `max-width` on an
    image and would draw a large one at its full size, past the column: it gets its own
    copy with a `width` attribute (inside `<!--[if mso]>`), and every other client the
    flexible one, which Outlook skips (`<!--[if !mso]>`)."""
    flexible = r'<img \1 style="max-width:100%;height:auto;border:0;">'
    if not email:
        return _IMAGE.sub(flexible, fragment)
    outlook = (
        r'<!--[if mso]><table role="presentation" cellpadding="0" cellspacing="0"><tr><td>'
        rf'<img \1 width="{OUTLOOK_IMAGE_WIDTH}" style="border:0;"></td></tr></table><![endif]-->'
    )
    return _IMAGE.sub(outlook + "<!--[if !mso]><!-->" + flexible + "<!--<![endif]-->", fragment)


def markdown_html(issue: Issue, *, email: bool = True) -> tuple[str, list[tuple[str, str, str]]]:
    md = markdown()

    def html_of(tokens: list[Token]) -> str:
        return _images(sanitise(md.renderer.render(tokens, md.options, {})), email=email)

    intro = html_of(issue.intro) if issue.intro else ""
    articles = [(a.title, a.url, html_of(a.tokens)) for a in issue.articles]
    return intro, articles


def _context(issue: Issue, settings: Settings, *, web: bool) -> dict[str, object]:
    t = strings(issue.lang)
    esc = html.escape
    reason = t["reason"].format(name=esc(settings.name), email=placeholder("email"))
    intro, articles = markdown_html(issue, email=not web)
    return {
        "lang": issue.lang,
        "web": web,
        "subject": issue.subject,
        "title": issue.title,
        "preheader": issue.preheader,
        "name": settings.name,
        "theme": settings.theme,
        "logo": settings.theme.logo_for(settings.name),
        # The name once at the top: the logo says it, or a title that holds it already.
        "show_name": not settings.theme.logo and settings.name not in issue.title,
        "home_url": f"{settings.public_url}/",
        "issue_label": t["issue_label"].format(number=issue.number),
        "period": format_period(issue.period, issue.lang) if issue.period else None,
        "intro_html": Markup(intro),
        "articles": [
            {"title": title, "url": url, "html": Markup(body)} for title, url, body in articles
        ],
        "web_url": web_url(issue, settings),
        "archive_url": archive_url(settings),
        "postal_address": settings.postal_address,
        "fields": {name: Markup(placeholder(name)) for name in PERSONAL_FIELDS},
        "t": {
            **t,
            "reason": Markup(reason),
            "web_footer": t["web_footer"].format(name=settings.name),
            "archive": t["all_issues"],
        },
    }


def web_url(issue: Issue, settings: Settings) -> str:
    return issue_url(issue.number, settings)


def _mjml_error(exc: Exception, source: str) -> RenderError:
    """MRML reports byte offsets; name the line of the generated MJML instead."""
    message = str(exc)
    match = re.search(r"(?:position|offset|at)\s+(\d+)|(\d+)\.\.\d+", message)
    where = ""
    if match:
        offset = int(match.group(1) or match.group(2))
        # surrogatepass: the error may be about a character that UTF-8 cannot encode
        encoded = source.encode("utf-8", "surrogatepass")
        line = encoded[:offset].decode("utf-8", "replace").count("\n") + 1
        where = f" at line {line} of the generated MJML: {source.splitlines()[line - 1].strip()}"
    return RenderError(
        f"MJML could not be compiled: {message}{where}",
        hint=f"check the template {TEMPLATE} (the issue text itself is always escaped)",
    )


@functools.lru_cache(maxsize=16)
def inline_css(document: str) -> str:
    """Inline the <style> rules into style attributes, keeping media queries and !important.

    premailer drops a lowercase doctype, so MRML's `<!doctype html>` is rewritten first.
    Remembered by the whole document (the same input gives the same output): half of a
    render's time, and a process that sends, previews or schedules the same issue again
    renders the same document again.
    """
    if document[:15].lower() == "<!doctype html>":
        document = "<!DOCTYPE html>" + document[15:]
    inlined: str = Premailer(
        document,
        keep_style_tags=True,
        strip_important=False,
        disable_validation=True,
        allow_network=False,
        remove_classes=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform(pretty_print=False)
    return inlined


def render_document(issue: Issue, settings: Settings, *, web: bool) -> str:
    env = _environment(templates_dir())
    try:
        mjml_source = env.get_template(TEMPLATE).render(_context(issue, settings, web=web))
    except jinja2.TemplateError as exc:
        lineno = getattr(exc, "lineno", None)
        where = f"{getattr(exc, 'filename', None) or TEMPLATE}:{lineno}: " if lineno else ""
        raise RenderError(f"{where}template error: {exc}") from None
    try:
        # fonts={}: no web-font <link> (MRML adds Google Fonts for Roboto): no third-party fetch.
        document = mjml2html(mjml_source, disable_comments=False, fonts={})
    except ValueError as exc:
        raise _mjml_error(exc, mjml_source) from None
    if len(document) > MAX_HTML_BEFORE_INLINING:
        raise RenderError(
            f"the HTML is {len(document) / 1024:.0f} KB even before its CSS is inlined, far "
            "past Gmail's 102 KB clipping limit: shorten the issue or split it"
        )
    return inline_css(document)


def render_text(issue: Issue, settings: Settings) -> str:
    t = strings(issue.lang)
    head = f"{settings.name} · {t['issue_label'].format(number=issue.number)}"
    if issue.period:
        head += f" · {format_period(issue.period, issue.lang)}"
    parts = [head, issue.title, f"{t['web_text']}: {web_url(issue, settings)}"]
    if issue.intro:
        parts.append(blocks_text(issue.intro))
    for index, article in enumerate(issue.articles, 1):
        body = blocks_text(article.tokens)
        parts.append(f"{index}. {article.title}\n{article.url}" + (f"\n\n{body}" if body else ""))
    reason = t["reason"].format(name=settings.name, email=placeholder("email"))
    parts.append(
        f"--\n{reason}\n{t['unsubscribe_text']}: {placeholder('unsubscribe_url')}\n"
        f"{settings.postal_address}"
    )
    return "\n\n".join(parts) + "\n"


def _words(text: str) -> str:
    return " ".join(text.split())


def missing_parts(document: str, settings: Settings, *, web: bool) -> list[str]:
    """What a finished HTML document lacks of what every copy must carry.

    Any stage can lose the end of a document: a project's own template, or the CSS
    inliner (libxml2 silently cuts a text node longer than 10 MB, and everything after it).
    """
    missing = []
    if not document.rstrip().lower().endswith("</html>"):
        missing.append("the closing </html>")
    if not web and f'href="{placeholder("unsubscribe_url")}"' not in document:
        missing.append("the unsubscribe link")
    if _words(settings.postal_address) not in _words(html.unescape(document)):
        missing.append("the postal address")
    return missing


def _text_missing(text: str, settings: Settings) -> list[str]:
    missing = []
    if placeholder("unsubscribe_url") not in text:
        missing.append("the text part's unsubscribe line")
    if _words(settings.postal_address) not in _words(text):
        missing.append("the text part's postal address")
    return missing


def _refuse_incomplete(missing: list[str], what: str) -> None:
    if missing:
        raise RenderError(
            f"the rendered {what} lacks {', '.join(missing)}, so it must not be sent or published",
            hint=f"check the template {TEMPLATE}; shorten very long paragraphs",
        )


def render(issue: Issue, settings: Settings) -> Rendered:
    """The email and its text part, rendered once for every recipient, and verified whole."""
    document = render_document(issue, settings, web=False)
    text = render_text(issue, settings)
    _refuse_incomplete(
        missing_parts(document, settings, web=False) + _text_missing(text, settings), "email"
    )
    return Rendered(
        issue=issue,
        subject=issue.subject,
        preheader=issue.preheader,
        html=PersonalTemplate(document),
        text=PersonalTemplate(text),
        web_url=web_url(issue, settings),
    )


# The web version's landmark tags, written as comments in the template (see there).
_LANDMARK = re.compile(r'<!--nl:((?:</?(?:nav|main|footer)(?: role="contentinfo")?>)+)-->')


def render_web(issue: Issue, settings: Settings) -> str:
    """The web version for the "view in browser" link: no personal field at all."""
    document = _LANDMARK.sub(r"\1", render_document(issue, settings, web=True))
    if _PLACEHOLDER.search(document):
        raise RenderError("the web version must not contain personal fields")
    _refuse_incomplete(missing_parts(document, settings, web=True), "web version")
    return document
