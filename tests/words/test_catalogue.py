"""The message catalogue: every message in every language, with the same values to fill,
and no reader-facing Korean left in the Python code outside it."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from pipeline import words
from pipeline.settings import load_settings
from pipeline.words import templates
from tests.support.cli import ROOT

PACKAGE = ROOT / "pipeline"
HANGUL = re.compile("[\uac00-\ud7a3]")
# Korean that is not yet, or never, a reader's sentence of the catalogue, each with why.
NOT_IN_THE_CATALOGUE = {
    # A hint to the publisher in `check`'s output, quoting a Korean particle as an example.
    "pipeline/issue/checks.py",
}
# A quoted `section.name`: `words.text(lang, "signup.sent")`, `_("signup.sent")`.
QUOTED_ID = re.compile(r"""["']([a-z_]+\.[a-z0-9_]+)["']""")


def fields(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def test_every_message_is_in_every_language() -> None:
    ids = {lang: set(words.messages(lang)) for lang in words.LANGUAGES}
    everything = set().union(*ids.values())
    assert len(everything) > 100
    for lang, have in ids.items():
        assert not everything - have, f"missing in {lang}: {sorted(everything - have)}"


def test_a_translation_fills_the_same_values() -> None:
    """Except a date's patterns, which each language builds from the parts it needs
    (`{month}월` in Korean, `{month_name}` in English)."""
    english = words.messages("en")
    for lang in words.LANGUAGES:
        for message_id, message in words.messages(lang).items():
            if not message_id.startswith("date."):
                assert fields(message) == fields(english[message_id]), (lang, message_id)


def test_every_message_id_the_code_uses_exists() -> None:
    known = set(words.messages("en"))
    sections = {message_id.split(".")[0] for message_id in known}
    sources = [*PACKAGE.rglob("*.py"), *(ROOT / "templates").rglob("*.j2")]
    quoted = {m for path in sources for m in QUOTED_ID.findall(path.read_text(encoding="utf-8"))}
    files = {"html", "txt", "json", "csv", "md"}  # `report.html` names a file, not a message
    used = {m for m in quoted if m.split(".")[0] in sections and m.split(".")[1] not in files}
    assert used, "the pattern finds the ids in use"
    assert not used - known, sorted(used - known)


@pytest.mark.parametrize(
    "tag, catalogue", [("ko", "ko"), ("ko-KR", "ko"), ("en", "en"), ("fr", "en")]
)
def test_a_language_tag_reads_its_catalogue_or_english(tag: str, catalogue: str) -> None:
    assert words.language(tag) == catalogue


def _strings_outside_docstrings(tree: ast.Module) -> list[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]  # fmt: skip


def test_no_korean_sentence_in_the_python_code() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = str(path.relative_to(ROOT))
        if where in NOT_IN_THE_CATALOGUE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            f"{where}:{node.lineno}"
            for node in _strings_outside_docstrings(tree)
            if HANGUL.search(str(node.value))
        ]
    assert not found, f"Korean outside the catalogue (pipeline/words/locale): {found}"


def test_the_list_of_exceptions_is_kept_short() -> None:
    for where in NOT_IN_THE_CATALOGUE:
        assert HANGUL.search((ROOT / where).read_text(encoding="utf-8")), (
            f"{where} has no Korean any more: take it off NOT_IN_THE_CATALOGUE"
        )


def own_template(project: Path, name: str, text: str) -> None:
    """A project's own `templates/web/<name>`, in place of the shipped one."""
    own = project / "templates" / "web"
    own.mkdir(parents=True, exist_ok=True)
    (own / name).write_text(text, encoding="utf-8")


def test_a_project_overrides_a_page_and_keeps_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_template(
        tmp_path,
        "notice.html.j2",
        '{% extends "web/base.html.j2" %}{% block title %}{{ _(title) }}{% endblock %}'
        "{% block body %}<p>ours: {{ _(text).format(**values) }}</p>{% endblock %}",
    )
    context = {"title": "signup.sent_title", "text": "signup.already", "hint": None, "again": False}
    brand = templates.Brand.of(load_settings())
    shipped = templates.render(
        "web/notice.html.j2", "en", brand=brand, values={"who": "<a>"}, **context
    )
    monkeypatch.chdir(tmp_path)  # a command runs in its project's folder
    page = templates.render(
        "web/notice.html.j2", "ko", brand=brand, values={"who": "<a>"}, **context
    )
    assert "<p>ours: &lt;a&gt; 주소의 구독은 이미 확인되었습니다." in page
    assert "<title>메일함을 확인해 주세요</title>" in page  # the shipped frame, in Korean
    assert "ours" not in shipped and "<p>The subscription of &lt;a&gt; is" in shipped


def test_a_project_overrides_the_archive_index_and_the_feed_keeps_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from pipeline.issue.archive import WEB_APP_LINKS, atom_feed, index_page
    from pipeline.settings import load_settings

    own_template(
        tmp_path,
        "archive_index.html.j2",
        "<h1>ours: {{ _('archive.index_title').format(name=name) }}</h1>",
    )
    monkeypatch.chdir(tmp_path)  # `archive --out` and `serve` run in the project's folder
    settings = load_settings(name="<Weekly>", lang="en")
    assert index_page([], settings, WEB_APP_LINKS) == "<h1>ours: &lt;Weekly&gt;: all issues</h1>"
    feed = atom_feed([], settings, now=datetime(2024, 6, 23, tzinfo=UTC))
    assert "<title>&lt;Weekly&gt;: all issues</title>" in feed
