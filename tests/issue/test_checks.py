"""Each check rule on a bad input: the right severity, at the right place, with a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.issue.problems import Problem, Severity
from tests.issue.hostile import problems_of

GOOD_HEAD = '---\ntitle: "Weekly, Issue 3"\nnumber: 3\n---\n'
GOOD_ARTICLE = "## [An article](https://example.com/a)\n- a point\n  - a detail\n"


def only(problems: list[Problem], severity: Severity) -> list[Problem]:
    return [p for p in problems if p.severity is severity]


def test_a_good_issue_has_no_problems(project: Path) -> None:
    assert problems_of(project, GOOD_HEAD + "Hello.\n\n" + GOOD_ARTICLE) == []


@pytest.mark.parametrize(
    ("text", "line", "col", "fragment"),
    [
        # YAML syntax error, with its line
        ('---\ntitle: "x\nnumber: 3\n---\n' + GOOD_ARTICLE, 3, 10, "YAML syntax error"),
        ("---\ntitle: [a, b\nnumber: 3\n---\n" + GOOD_ARTICLE, 3, 7, "YAML syntax error"),
        # missing keys
        ("---\nnumber: 3\n---\n" + GOOD_ARTICLE, 2, 1, "missing required front-matter key 'title'"),
        ("---\ntitle: x\n---\n" + GOOD_ARTICLE, 2, 1, "missing required front-matter key 'number'"),
        # unknown key with a suggestion
        (GOOD_HEAD.replace("---\n", "---\ntitel: y\n", 1) + GOOD_ARTICLE, 2, 1, "did you mean 'title'"),
        (GOOD_HEAD.replace("---\n", "---\nperiode: y\n", 1) + GOOD_ARTICLE, 2, 1, "did you mean 'period'"),
        # wrong types and values
        ('---\ntitle: "x"\nnumber: three\n---\n' + GOOD_ARTICLE, 3, 9, "number must be a whole number"),
        ('---\ntitle: "x"\nnumber: 0\n---\n' + GOOD_ARTICLE, 3, 9, "number must be positive"),
        ('---\ntitle: "x"\nnumber: -4\n---\n' + GOOD_ARTICLE, 3, 9, "number must be positive"),
        ("---\ntitle: [x]\nnumber: 1\n---\n" + GOOD_ARTICLE, 2, 8, "title must be text"),
        (GOOD_HEAD.replace("number: 3", "number: 3\nlang: Korean") + GOOD_ARTICLE, 4, 7, "lang must be"),
        # dates
        (
            GOOD_HEAD.replace("number: 3", "number: 3\nperiod: {start: 2024-02-30, end: 2024-03-01}")
            + GOOD_ARTICLE,
            4, 9, "not a valid date",
        ),
        (
            GOOD_HEAD.replace("number: 3", "number: 3\nperiod: {start: last week, end: 2024-03-01}")
            + GOOD_ARTICLE,
            4, 9, "is not a date; write YYYY-MM-DD",
        ),
        (
            GOOD_HEAD.replace("number: 3", "number: 3\nperiod: {start: 2024-06-22, end: 2024-06-16}")
            + GOOD_ARTICLE,
            4, 9, "ends (2024-06-16) before it starts (2024-06-22)",
        ),
        (GOOD_HEAD.replace("number: 3", "number: 3\nperiod: 2024-06-16") + GOOD_ARTICLE, 4, 9, "period must be"),
        # body structure
        (GOOD_HEAD + "Just an intro, no articles.\n", 5, 1, "no articles"),
        (GOOD_HEAD + "## Not a link\n- x\n", 5, 1, "article heading is not a link"),
        (GOOD_HEAD + "## [Title](ftp://example.com/f)\n- x\n", 5, 12, "must be http or https"),
        (GOOD_HEAD + "# Big title\n" + GOOD_ARTICLE, 5, 1, "'#' heading in the body"),
        # links in the body
        (GOOD_HEAD + GOOD_ARTICLE + "- see [this](javascript:alert(1))\n", 8, 14, "javascript:"),
        (GOOD_HEAD + GOOD_ARTICLE + "- see [this](data:text/html,hi)\n", 8, 14, "data:"),
        (GOOD_HEAD + GOOD_ARTICLE + "- see [this](/relative/page)\n", 8, 14, "a relative link"),
        # empty bullets
        (GOOD_HEAD + GOOD_ARTICLE + "-\n- after\n", 8, 1, "empty bullet"),
        # images
        (GOOD_HEAD + GOOD_ARTICLE + "\n![](https://example.com/i.png)\n", 9, 5, "no alt text"),
        (GOOD_HEAD + GOOD_ARTICLE + "\n![chart](http://example.com/i.png)\n", 9, 10, "must be an https"),
    ],
)  # fmt: skip
def test_each_error_names_its_place(
    project: Path, text: str, line: int, col: int, fragment: str
) -> None:
    errors = only(problems_of(project, text), Severity.ERROR)
    matching = [p for p in errors if fragment in p.message]
    assert matching, f"no error containing {fragment!r} in {errors}"
    assert (matching[0].line, matching[0].col) == (line, col)
    assert str(matching[0]).startswith(f"{project / 'issue.md'}:{line}:{col}: error: ")


def test_all_problems_are_reported_at_once(project: Path) -> None:
    text = '---\ntitle: "x"\nnumber: 0\ntitel: y\n---\n## Not a link\n- [bad](javascript:x)\n-\n'
    messages = [p.message for p in problems_of(project, text)]
    assert len(messages) >= 4, messages
    assert any("positive" in m for m in messages)
    assert any("did you mean 'title'" in m for m in messages)
    assert any("not a link" in m for m in messages)
    assert any("javascript:" in m for m in messages)


def test_invalid_utf8_names_the_byte(project: Path) -> None:
    data = (GOOD_HEAD + GOOD_ARTICLE).encode() + b"- caf\xe9\n"
    (problem,) = problems_of(project, data)
    assert (problem.line, problem.col) == (8, 6)
    assert "not valid UTF-8" in problem.message


def test_missing_front_matter(project: Path) -> None:
    (problem,) = problems_of(project, GOOD_ARTICLE)
    assert "missing front matter" in problem.message


def test_duplicate_article_url_is_a_warning(project: Path) -> None:
    problems = problems_of(project, GOOD_HEAD + GOOD_ARTICLE + "\n" + GOOD_ARTICLE)
    (warning,) = only(problems, Severity.WARNING)
    assert warning.line == 9 and "already used on line 5" in warning.message
    assert not only(problems, Severity.ERROR)


def test_unrendered_bold_next_to_korean_is_a_warning(project: Path) -> None:
    text = GOOD_HEAD + "## [기사](https://example.com/k)\n- **'코드'**는 중요함\n- **굵게** 정상\n"
    problems = problems_of(project, text)
    (warning,) = only(problems, Severity.WARNING)
    assert (warning.line, warning.col) == (6, 3)
    assert "'**' is shown as-is" in warning.message


def test_issue_numbers_must_be_unique_in_the_folder(project: Path) -> None:
    (project / "other.md").write_text(GOOD_HEAD + GOOD_ARTICLE, encoding="utf-8")
    errors = only(problems_of(project, GOOD_HEAD + GOOD_ARTICLE), Severity.ERROR)
    assert any("number 3 is also used by" in p.message for p in errors)


def _bullets(count: int, size: int) -> str:
    return "".join(f"- item {i} " + "가" * size + "\n" for i in range(count))


def test_size_warning_from_90_kb(project: Path) -> None:
    problems = problems_of(project, GOOD_HEAD + GOOD_ARTICLE + _bullets(500, 40))
    sizes = [p for p in problems if "rendered HTML is" in p.message]
    assert [p.severity for p in sizes] == [Severity.WARNING], problems


def test_size_error_at_102_kb(project: Path) -> None:
    problems = problems_of(project, GOOD_HEAD + GOOD_ARTICLE + _bullets(620, 40))
    sizes = [p for p in problems if "rendered HTML is" in p.message]
    assert [p.severity for p in sizes] == [Severity.ERROR]
    assert "Gmail clips it" in sizes[0].message
