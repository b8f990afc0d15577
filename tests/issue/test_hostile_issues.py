"""An issue file is hostile input: every class of bad front matter or body is a check error
at its place, never a crash, a hang, a header injection or a silently broken email."""

from __future__ import annotations

import json
import os
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.issue.build import build
from pipeline.issue.frontmatter import front_matter_number
from pipeline.issue.limits import MAX_ARTICLES, MAX_FILE_BYTES, MAX_NESTING, MAX_NUMBER
from pipeline.issue.problems import Problem, Severity
from pipeline.settings import load_settings

ARTICLE = "## [An article](https://example.com/a)\n- a point\n"


def head(**values: str) -> str:
    fields = {"title": '"Weekly"', "number": "3", **values}
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n"


def problems_of(folder: Path, text: str | bytes, name: str = "issue.md") -> list[Problem]:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return build(path, load_settings()).problems


def errors_of(folder: Path, text: str | bytes, name: str = "issue.md") -> list[Problem]:
    return [p for p in problems_of(folder, text, name) if p.severity is Severity.ERROR]


# -- 1. nothing from the front matter reaches a mail header with a line break ---------------

HEADER_BREAKERS = ["\n", "\r", "\r\n", "\x00", "\t", "\x0b", "\x1b", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("key", ["title", "subject", "preheader"])
@pytest.mark.parametrize("char", HEADER_BREAKERS)
def test_a_control_character_in_a_header_value_is_an_error_at_its_line(
    project: Path, key: str, char: str
) -> None:
    # json.dumps writes a YAML double-quoted scalar with the character escaped.
    text = head(**{key: json.dumps(f"Hello{char}Bcc: victim@example.com")}) + ARTICLE
    line = 2 if key == "title" else 4
    errors = errors_of(project, text)
    assert [(p.line, p.col) for p in errors] == [(line, len(key) + 3)], errors
    assert f"{key} contains a " in errors[0].message
    assert "write it on one line" in errors[0].message


def test_a_block_scalar_title_is_an_error_and_render_refuses_it(project: Path, cli) -> None:
    path = project / "issues" / "block.md"
    path.write_text(
        "---\ntitle: |\n  Hello\n  Bcc: victim@example.com\nnumber: 3\n---\n" + ARTICLE,
        encoding="utf-8",
    )
    checked = cli("check", path)
    assert checked.code == 1
    assert f"{path}:2:8: error: title contains a line break (U+000A): write it on one line" in (
        checked.stdout
    )
    rendered = cli("render", path, "--out", project / "out")
    assert rendered.code == 1 and "Traceback" not in rendered.output
    assert not (project / "out").exists()


def test_a_raw_control_byte_in_front_matter_is_an_error(project: Path) -> None:
    (error,) = errors_of(project, '---\ntitle: "He\x00llo"\nnumber: 3\n---\n' + ARTICLE)
    assert (error.line, error.col) == (2, 11) and "U+0000" in error.message


# Controls, line separators, lone surrogates (a YAML escape makes one) and noncharacters.
_UNSAFE = st.characters(categories=["Cc", "Zl", "Zp", "Cs"]) | st.sampled_from("\ufffe\uffff")
_SAFE = st.characters(
    exclude_categories=["Cc", "Zl", "Zp", "Cs"], exclude_characters="\ufffe\uffff"
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=st.text(_SAFE, min_size=1, max_size=20), bad=_UNSAFE, after=st.text(_SAFE, max_size=20)
)
def test_property_no_title_with_a_control_character_passes(
    project: Path, before: str, bad: str, after: str
) -> None:
    title = before + bad + after
    # Python's strip() removes some controls (\x1c-\x1f, \x85, U+2028...) from the ends,
    # harmlessly; what stays inside the value is what matters.
    assume(bad in title.strip())
    errors = errors_of(project, head(title=json.dumps(title)) + ARTICLE)
    assert any(p.line == 2 and "write it on one line" in p.message for p in errors), errors


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=st.text(_SAFE, min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_property_a_title_without_control_characters_is_accepted(project: Path, title: str) -> None:
    result = build(_write(project, head(title=json.dumps(title)) + ARTICLE), load_settings())
    assert result.errors == [] and result.rendered is not None
    assert result.rendered.subject == title.strip()
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in title.strip())


def _write(folder: Path, text: str, name: str = "issue.md") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- 2. one broken file never affects another ---------------------------------------------

BROKEN_FRONT_MATTER = {
    "impossible date": head(period="{start: 2024-02-30, end: 2024-03-01}"),
    "impossible timestamp": head(period="{start: 2024-06-16 25:61:00, end: 2024-06-22}"),
    "explicit int tag": head(number='!!int "abc"'),
    "explicit timestamp tag": head(period="{start: !!timestamp 2024-02-30, end: 2024-03-01}"),
    "python tag": head(title="!!python/object/apply:os.system ['true']"),
    "deep nesting": head(period="[" * 3000 + "]" * 3000),
    # Each level refers to the one before nine times: 9**5 strings when expanded.
    "alias bomb": (
        '---\ntitle: "Weekly"\nperiod: &a ["x","x","x","x","x","x","x","x","x"]\n'
        "lang: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nsubject: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "preheader: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nnumber: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n---\n"
    ),
    "bad UTF-8": head().encode() + b"# caf\xe9\n",
    "NUL byte": head(title='"a\x00b"'),
}


def _sibling(folder: Path, kind: str) -> Path:
    path = folder / f"sibling-{kind.replace(' ', '-')}.md"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too big":
        path.write_bytes(head().encode() + b"x" * (MAX_FILE_BYTES + 1))
    else:
        content = BROKEN_FRONT_MATTER[kind]
        data = content if isinstance(content, bytes) else (content + ARTICLE).encode()
        path.write_bytes(data)
    return path


SIBLING_KINDS = [*BROKEN_FRONT_MATTER, "FIFO", "folder", "too big"]


@pytest.mark.parametrize("kind", SIBLING_KINDS)
def test_a_broken_sibling_does_not_affect_the_checked_file(project: Path, kind: str) -> None:
    _sibling(project, kind)
    assert problems_of(project, head(number="7") + ARTICLE) == []


@pytest.mark.parametrize("kind", SIBLING_KINDS)
def test_front_matter_number_never_raises_or_blocks(project: Path, kind: str) -> None:
    path = _sibling(project, kind)
    started = time.monotonic()
    # A readable number is still the file's number when another value, or the body, is
    # broken: only the front matter is read.
    readable = kind in ("impossible date", "impossible timestamp", "bad UTF-8")
    assert front_matter_number(path) == (3 if readable else None)
    # An alias bomb expanded, or a FIFO opened, would take far longer than this.
    assert time.monotonic() - started < 30


def test_a_duplicate_number_is_still_found_among_broken_siblings(project: Path) -> None:
    for kind in SIBLING_KINDS:
        _sibling(project, kind)
    _write(project, head(title='"Another"', number="5") + ARTICLE, "other.md")
    errors = errors_of(project, head(number="5") + ARTICLE)
    assert [p.message for p in errors] == [
        f"number 5 is also used by {project / 'other.md'}; each issue needs its own"
    ]
    assert front_matter_number(project / "other.md") == 5


@pytest.mark.parametrize("kind", list(BROKEN_FRONT_MATTER))
def test_the_same_input_in_the_checked_file_is_a_check_error(project: Path, cli, kind: str) -> None:
    path = _sibling(project / "issues", kind)
    result = cli("check", path)
    assert result.code == 1, result.output
    assert f"{path}:" in result.stdout and ": error: " in result.stdout
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert all(len(line) < 400 for line in result.stdout.splitlines())


def test_check_of_several_files_reports_each_under_its_own_path(project: Path, cli) -> None:
    good = _write(project / "issues", head(number="8") + ARTICLE, "good.md")
    bad = _sibling(project / "issues", "explicit int tag")
    pipe = _sibling(project / "issues", "FIFO")
    worse = _write(project / "issues", head(number="0x9") + "## Not a link\n", "worse.md")
    result = cli("check", good, bad, pipe, worse)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert not any(line.startswith(f"{good}:") for line in lines)
    assert f"{bad}:3:9: error: YAML tags like '!!int' are not allowed here" in result.stdout
    assert f"{pipe}:1:1: error: not a regular file" in result.stdout
    assert f"{worse}:3:9: error: number must be plain decimal digits like 25" in result.stdout
    assert f"{worse}:5:1: error: article heading is not a link" in result.stdout
    assert "in 4 files" in result.stderr


# -- 3. input has bounds ------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(project: Path) -> None:
    text = head() + ARTICLE + ("- " + "word " * 200 + "\n") * (MAX_FILE_BYTES // 1000 + 10)
    result = build(_write(project, text), load_settings())
    (error,) = result.problems
    assert (error.line, error.col) == (1, 1)
    assert "an issue can be at most 2 MB" in error.message and result.rendered is None


def test_more_articles_than_the_limit_is_an_error_and_nothing_is_rendered(project: Path) -> None:
    articles = "".join(f"## [A{i}](https://example.com/{i})\n" for i in range(MAX_ARTICLES + 5))
    result = build(_write(project, head() + articles), load_settings())
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
    result = build(_write(project, head() + ARTICLE + body), load_settings())
    assert result.errors == [] and result.rendered is not None
    text = result.rendered.text.source
    assert f"level {MAX_NESTING - 2}" in text and "the deepest quote" in text
    assert "the deepest quote" in result.rendered.html.source


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("9223372036854775808", f"number 9223372036854775808 is too large: at most {MAX_NUMBER}"),
        ("18446744073709551616", "is too large"),
        (str(MAX_NUMBER + 1), f"number {MAX_NUMBER + 1} is too large"),
        ("9" * 5000, "is too large"),
    ],
)
def test_an_issue_number_past_the_cap_is_an_error(project: Path, raw: str, message: str) -> None:
    (error,) = errors_of(project, head(number=raw) + ARTICLE)
    assert (error.line, error.col) == (3, 9) and message in error.message
    assert len(error.message) < 300


def test_the_largest_issue_number_is_accepted(project: Path) -> None:
    assert errors_of(project, head(number=str(MAX_NUMBER)) + ARTICLE) == []


def test_an_alias_bomb_is_refused_at_once_with_a_short_message(project: Path) -> None:
    started = time.monotonic()
    (error,) = errors_of(project, BROKEN_FRONT_MATTER["alias bomb"] + ARTICLE)
    assert (error.line, error.col) == (3, 9) and "anchors" in error.message
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "text",
    [
        head(lang=json.dumps("x" * 100_000)),
        head(number=json.dumps("x" * 100_000)),
        head(period=json.dumps({"start": "x" * 100_000, "end": "2024-01-01"})),
        head(period=json.dumps({"y" * 100_000: 1, "start": "2024-01-01", "end": "2024-01-01"})),
        head(**{"z" * 100_000: "1"}),
        head() + "## [A](ftp://" + "x" * 100_000 + ")\n",
    ],
)
def test_messages_quote_user_values_briefly(project: Path, text: str) -> None:
    errors = errors_of(project, text + ARTICLE)
    assert errors and all(len(p.message) < 400 for p in errors), [len(p.message) for p in errors]


# -- 4. YAML 1.1 quirks and the smaller ones ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "read_as"),
    [
        ("031", 25),
        ("0x19", 25),
        ("1:30", 90),
        ("+25", 25),
        ("1_000", 1000),
        ("0b11001", 25),
    ],
)
def test_only_plain_decimal_digits_are_an_issue_number(
    project: Path, raw: str, read_as: int
) -> None:
    (error,) = errors_of(project, head(number=raw) + ARTICLE)
    assert (error.line, error.col) == (3, 9)
    assert error.message == (
        f"number must be plain decimal digits like 25, not {raw!r} (YAML would read it as {read_as})"
    )
    assert front_matter_number(project / "issue.md") is None


@pytest.mark.parametrize(
    "raw", ["25.0", "2.5e1", ".inf", "true", '"25"', "[25]", "0o31", "25:61:00", "1e3"]
)
def test_other_non_integers_are_still_not_a_number(project: Path, raw: str) -> None:
    (error,) = errors_of(project, head(number=raw) + ARTICLE)
    assert (error.line, error.col) == (3, 9) and "number must be a whole number" in error.message


@pytest.mark.parametrize("scheme", ["HTTPS", "Https", "HTTP"])
def test_an_article_link_scheme_in_any_case_is_accepted(project: Path, scheme: str) -> None:
    url = f"{scheme}://example.com/upper"
    result = build(_write(project, head() + f"## [Upper]({url})\n- x\n"), load_settings())
    assert result.errors == [] and result.rendered is not None
    assert f'href="{url}"' in result.rendered.html.source


def test_json_style_surrogate_pairs_make_one_character(project: Path) -> None:
    result = build(
        _write(project, head(subject='"New \\ud83d\\ude00 issue"') + ARTICLE), load_settings()
    )
    assert result.errors == [] and result.rendered is not None
    assert result.rendered.subject == "New \U0001f600 issue"


@pytest.mark.parametrize("char", ["\x01", "\x0b", "\x1b", "\ufffe", "\uffff"])
def test_a_character_no_email_can_carry_in_the_body_is_an_error_at_its_place(
    project: Path, char: str
) -> None:
    result = build(_write(project, head() + ARTICLE + f"- caf{char}e\n"), load_settings())
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
    path = _write(project / "issues", head() + ARTICLE)
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
    result = build(_write(project, head() + ARTICLE), settings)
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
    result = build(_write(project, head() + ARTICLE + "\n" + images + "\n"), load_settings())
    (error,) = result.errors
    assert "even before its CSS is inlined, far past Gmail's 102 KB clipping limit" in (
        error.message
    )


def test_front_matter_is_bounded_and_the_scan_reads_only_the_head(project: Path) -> None:
    from pipeline.issue.limits import MAX_FRONT_MATTER_BYTES

    padding = "# " + "x" * 1000 + "\n"
    big = "---\ntitle: T\nnumber: 5\n" + padding * (MAX_FRONT_MATTER_BYTES // 1000 + 2) + "---\n"
    (error,) = errors_of(project, big + ARTICLE, "big.md")
    assert (error.line, error.col) == (2, 1) and "at most 64 KB" in error.message
    assert front_matter_number(project / "big.md") is None
    # A long body after a short front matter does not hide the number from the scan.
    _write(project, head(number="5") + ARTICLE + "- " + "word " * 100_000 + "\n", "long.md")
    assert front_matter_number(project / "long.md") == 5


@pytest.mark.parametrize("raw", ['"ko\\n"', "|\n  ko\n", '"ko\\r\\nX-Evil: 1"'])
def test_lang_is_a_whole_language_tag(project: Path, raw: str) -> None:
    (error,) = errors_of(project, head(lang=raw) + ARTICLE)
    assert (error.line, error.col) == (4, 7) and "lang must be a language tag" in error.message
