"""Every sentence a reader sees, from one gettext catalogue per language.

The catalogues are `locale/<lang>/LC_MESSAGES/newsletter.po` beside this module, read at
run time with Babel (no compile step, no binary `.mo` in git). Message ids name their
place (`signup.sent_title`) rather than repeat the English, since Korean is as much a
source language here as English. Values are filled with `str.format` (`{name}`), the
style the rest of the code and the report already used.

Python asks with `text(lang, "signup.sent")`; a Jinja2 template with `_("signup.sent")`
(see `pipeline.words.templates`), which returns markup whose `.format()` escapes the
values. A language other than Korean reads English, as the email always did.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from pipeline.zones import tz_hidden_when_unusable

with tz_hidden_when_unusable():  # Babel reads TZ on import; a bad one must not stop us
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

LOCALE = Path(__file__).resolve().parent / "locale"
DOMAIN = "newsletter"
LANGUAGES = ("ko", "en")


def language(lang: str) -> str:
    """The catalogue for a language tag: `ko`, `ko-KR` -> `ko`; anything else -> `en`."""
    return "ko" if lang.lower().startswith("ko") else "en"


@cache
def _read(lang: str) -> Catalog:
    with (LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


@cache
def messages(lang: str) -> dict[str, str]:
    """Every message of one of LANGUAGES by its id, read once per process."""
    return {str(m.id): str(m.string) for m in _read(lang) if m.id and m.string}


@cache
def catalogue(lang: str) -> Translations:
    """The catalogue as gettext translations (what Jinja2's i18n extension takes), made in
    memory from the .po: the .mo a compile step would have written."""
    compiled = io.BytesIO()
    write_mo(compiled, _read(lang))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def text(lang: str, message_id: str, **values: object) -> str:
    """The message in the language of `lang`, with `values` filled in. An id missing
    from the catalogue is a KeyError (a test checks every id in every language)."""
    message = messages(language(lang))[message_id]
    return message.format(**values) if values else message


def table(lang: str, prefix: str) -> dict[str, str]:
    """Every message under `prefix.` by its short name, unfilled: for code that looks its
    words up by key (`words["title"].format(...)`). The same dict on every call: treat
    it as read-only."""
    return _table(language(lang), prefix)


@cache
def _table(lang: str, prefix: str) -> dict[str, str]:
    start = f"{prefix}."
    return {
        key[len(start) :]: value for key, value in messages(lang).items() if key.startswith(start)
    }
