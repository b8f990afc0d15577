"""An issue's body is hostile input: bounded in size, articles, nesting and work, and every
rendered email is whole or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.issue.build import build
from pipeline.issue.limits import MAX_ARTICLES, MAX_FILE_BYTES, MAX_NESTING
from pipeline.settings import load_settings
from tests.issue.hostile import (
    ARTICLE,
    errors_of,
    head,
    write_issue,
)

# -- bounds: size, articles, nesting ------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(project: Path) -> None:
    text = head() + ARTICLE + ("- " + "word " * 200 + "\n") * (MAX_FILE_BYTES // 1000 + 10)
    result = build(write_issue(project, text), load_settings())
    (error,) = result.problems
    assert (error.line, error.col) == (1, 1)
    assert "an issue can be at most 2 MB" in error.message and result.rendered is None


def test_more_articles_than_the_limit_is_an_error_and_nothing_is_rendered(project: Path) -> None:
    articles = "".join(f"## [A{i}](https://example.com/{i})\n" for i in range(MAX_ARTICLES + 5))
    result = build(write_issue(project, head() + articles), load_settings())
    (error,) = result.errors
    assert error.line == 5 + MAX_ARTICLES and f"more than {MAX_ARTICLES} articles" in error.message
    assert result.rendered is None


def _nested_list(levels: int) -> str:
    return "".join("  " * i + f"- level {i}\n" for i in range(levels))


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (_nested_list(MAX_NESTING + 1), 7 + MAX_NESTING),
        (_nested_list(25), 7 + MAX_NESTING),
        ("> " * (MAX_NESTING + 1) + "deep\n", 7),
        ("> " * 25 + "hidden text\n\nafter\n", 7),
        ("- a\n" + "  " + "> " * 12 + "quoted in a list\n", 8),
    ],
)
def test_nesting_past_the_limit_is_an_honest_error(project: Path, body: str, line: int) -> None:
    errors = errors_of(project, head() + ARTICLE + body)
    assert [(p.line, p.message) for p in errors] == [
        (
            line,
            f"lists and quotes are nested more than {MAX_NESTING} levels deep here: flatten them",
        )
    ]


def test_nesting_up_to_the_limit_renders_every_level(project: Path) -> None:
    body = _nested_list(MAX_NESTING - 1) + "\n" + "> " * MAX_NESTING + "the deepest quote\n"
    result = build(write_issue(project, head() + ARTICLE + body), load_settings())
    assert result.errors == [] and result.rendered is not None
    text = result.rendered.text.source
    assert f"level {MAX_NESTING - 2}" in text and "the deepest quote" in text
    assert "the deepest quote" in result.rendered.html.source


@pytest.mark.parametrize("scheme", ["HTTPS", "Https", "HTTP"])
def test_an_article_link_scheme_in_any_case_is_accepted(project: Path, scheme: str) -> None:
    url = f"{scheme}://example.com/upper"
    result = build(write_issue(project, head() + f"## [Upper]({url})\n- x\n"), load_settings())
    assert result.errors == [] and result.rendered is not None
    assert f'href="{url}"' in result.rendered.html.source


@pytest.mark.parametrize("char", ["\x01", "\x0b", "\x1b", "\ufffe", "\uffff"])
def test_a_character_no_email_can_carry_in_the_body_is_an_error_at_its_place(
    project: Path, char: str
) -> None:
    result = build(write_issue(project, head() + ARTICLE + f"- caf{char}e\n"), load_settings())
    assert [(p.line, p.col, p.message) for p in result.problems] == [
        (7, 6, f"the character U+{ord(char):04X} cannot be shown in an email: delete it")
    ]
    assert result.rendered is None


# -- every rendered email is whole, or it is an error ----------------------------------------


def _custom_template(project: Path, old: str, new: str) -> None:
    from pipeline.issue.render import REPO_TEMPLATES, TEMPLATE

    source = (REPO_TEMPLATES / TEMPLATE).read_text(encoding="utf-8")
    assert old in source
    (project / "templates").mkdir(exist_ok=True)
    (project / "templates" / TEMPLATE).write_text(source.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "missing"),
    [
        (
            '<a href="{{ fields.unsubscribe_url }}">{{ t.unsubscribe }}</a> · ',
            "",
            "the unsubscribe link",
        ),
        ("          {{ postal_address }}\n", "", "the postal address"),
    ],
)
def test_a_template_that_drops_the_footer_cannot_render(
    project: Path, cli, old: str, new: str, missing: str
) -> None:
    _custom_template(project, old, new)
    path = write_issue(project / "issues", head() + ARTICLE)
    checked = cli("check", path)
    assert checked.code == 1 and f"the rendered email lacks {missing}" in checked.stdout
    rendered = cli("render", path, "--out", project / "out")
    assert rendered.code == 1 and "Traceback" not in rendered.output
    assert not (project / "out").exists()


def test_an_email_the_css_inliner_cut_short_is_caught_by_the_verification(
    project: Path,
) -> None:
    from pipeline.issue.render import inline_css, missing_parts

    # libxml2 (under premailer) silently drops a text node over 10 MB and everything after
    # it, footer included. Issues are refused long before (file size, HTML size), so the
    # verification that every render passes is tested on the cutter itself.
    settings = load_settings()
    result = build(write_issue(project, head() + ARTICLE), settings)
    assert result.rendered is not None
    whole = result.rendered.html.source
    assert missing_parts(whole, settings, web=False) == []
    inside = whole.index(">", whole.index("<body")) + 1
    huge = whole[:inside] + "<p>" + "word " * 2_100_000 + "</p>" + whole[inside:]
    cut = inline_css(huge)
    assert missing_parts(cut, settings, web=False) == ["the unsubscribe link", "the postal address"]


def test_thousands_of_the_same_mistake_are_shown_a_hundred_times_then_counted(
    project: Path,
) -> None:
    from pipeline.issue.limits import MAX_PER_RULE

    body = "- [x](javascript:1) -\n" + "-\n" * 5000 + "\n" + "[a](ftp://b) " * 3000 + "\n"
    errors = errors_of(project, head() + ARTICLE + body)
    bullets = [p for p in errors if "empty bullet" in p.message]
    links = [p for p in errors if "only http, https and mailto" in p.message]
    assert len(bullets) == len(links) == MAX_PER_RULE
    counts = [p.message for p in errors if "more problem(s) of this kind" in p.message]
    assert sorted(counts) == [
        f"and {n} more problem(s) of this kind: only the first {MAX_PER_RULE} are shown"
        for n in (3001 - MAX_PER_RULE, 5000 - MAX_PER_RULE)
    ]


def test_an_issue_far_past_the_clipping_limit_is_refused_before_css_inlining(
    project: Path,
) -> None:
    # 20,000 images: inlining their CSS one element at a time would take about half a minute.
    images = "".join(f"![chart {i}](https://example.com/{i}.png) " for i in range(20_000))
    result = build(write_issue(project, head() + ARTICLE + "\n" + images + "\n"), load_settings())
    (error,) = result.errors
    assert "even before its CSS is inlined, far past Gmail's 102 KB clipping limit" in (
        error.message
    )
