"""The Jinja2 templates of reader-facing pages, with the catalogue's words in them.

A template is looked up in the project's own `templates/` first, then in the templates
shipped with the newsletter, as the email template is: a publisher overrides a page by
putting a file of the same name (`templates/web/base.html.j2`) in their project.

In a template, `_("signup.sent")` is the message in the page's language, as markup: it
is written as it stands, and `_("preferences.ask").format(who=who)` escapes the values
it fills in (markupsafe's `Markup.format`), so a list name cannot add markup.
`text_in(lang, "archive.sent_on")` is the same in another language than the page's.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from pipeline import words
from pipeline.settings import Settings
from pipeline.settings.theme import Logo, Theme

# The default templates: the repository's `templates/`, which `pipeline/templates` links to
# so that the wheel ships them (package data) and an installed package finds them here.
SHIPPED = Path(__file__).resolve().parent.parent / "templates"
PROJECT = Path("templates")  # the project's own, relative to where a command runs


class _Html(Markup):
    """Markup that escapes as Python's `html.escape` does (`'` as `&#x27;`, where
    markupsafe writes `&#39;`): the pages stay byte for byte what the code wrote."""

    @classmethod
    def escape(cls, s: Any) -> _Html:
        if hasattr(s, "__html__"):
            return cls(s.__html__())
        return cls(html.escape(str(s)))


def _finalize(value: Any) -> Any:
    return _Html.escape(value) if isinstance(value, str) else value


def environment(lang: str) -> jinja2.Environment:
    """The environment for pages in one language (a language tag or its catalogue), for
    the project in the current directory."""
    return _environment(words.language(lang), PROJECT.resolve())


@cache
def _environment(catalogue: str, project: Path) -> jinja2.Environment:
    # One per project folder: Jinja2 caches a template by name, and the same name is
    # another file in another project.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(project), str(SHIPPED)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
        finalize=_finalize,
    )
    translations = words.catalogue(catalogue)

    def gettext(message_id: str) -> Markup:
        # Our own sentences are trusted markup; the values filled into them are not.
        return _Html(translations.gettext(message_id))

    def ngettext(singular: str, plural: str, n: int) -> Markup:
        return _Html(translations.ngettext(singular, plural, n))

    env.install_gettext_callables(gettext, ngettext, newstyle=False)  # type: ignore[attr-defined]
    env.globals["text_in"] = text_in
    return env


def text_in(lang: str, message_id: str) -> Markup:
    """`_(message_id)` in another language than the page's, as markup: for a part of a
    page in its own language (the archive lists each issue in the issue's)."""
    return _Html(words.catalogue(words.language(lang)).gettext(message_id))


@dataclass(frozen=True)
class Brand:
    """What every page shows of the newsletter: its name, theme and logo, and the
    addresses of its public pages (absolute: a page may be a file on another host)."""

    name: str
    description: str
    public_url: str
    theme: Theme
    logo: Logo | None

    @classmethod
    def of(cls, settings: Settings) -> Brand:
        theme = settings.theme
        return cls(
            settings.name, theme.description, settings.public_url, theme,
            theme.logo_for(settings.name),
        )  # fmt: skip

    @property
    def home_url(self) -> str:
        return f"{self.public_url}/"

    @property
    def signup_url(self) -> str:
        return f"{self.public_url}/subscribe"


def render(template: str, lang: str, *, brand: Brand, **context: object) -> str:
    """The page `template` (a name under templates/) in the language `lang`, with the
    newsletter's `brand` (its theme: one look for every page)."""
    return environment(lang).get_template(template).render(lang=lang, brand=brand, **context)
