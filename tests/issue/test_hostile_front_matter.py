"""An issue's front matter is hostile input: every bad value is a check error at its place,
never a crash, a hang, a header injection or another file's problem."""

from __future__ import annotations

import json
import time
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.issue.build import build
from pipeline.issue.frontmatter import front_matter_number
from pipeline.issue.limits import MAX_NUMBER
from pipeline.settings import load_settings
from tests.issue.hostile import (
    ARTICLE,
    BROKEN_FRONT_MATTER,
    SIBLING_KINDS,
    errors_of,
    head,
    problems_of,
    sibling,
    write_issue,
)
from tests.support.properties import examples

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
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
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
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(title=st.text(_SAFE, min_size=1, max_size=40).filter(lambda t: t.strip()))
def test_property_a_title_without_control_characters_is_accepted(project: Path, title: str) -> None:
    result = build(write_issue(project, head(title=json.dumps(title)) + ARTICLE), load_settings())
    assert result.errors == [] and result.rendered is not None
    assert result.rendered.subject == title.strip()
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in title.strip())


@pytest.mark.parametrize("kind", SIBLING_KINDS)
def test_a_broken_sibling_does_not_affect_the_checked_file(project: Path, kind: str) -> None:
    sibling(project, kind)
    assert problems_of(project, head(number="7") + ARTICLE) == []


@pytest.mark.parametrize("kind", SIBLING_KINDS)
def test_front_matter_number_never_raises_or_blocks(project: Path, kind: str) -> None:
    path = sibling(project, kind)
    started = time.monotonic()
    # A readable number is still the file's number when another value, or the body, is
    # broken: only the front matter is read.
    readable = kind in ("impossible date", "impossible timestamp", "bad UTF-8")
    assert front_matter_number(path) == (3 if readable else None)
    # An alias bomb expanded, or a FIFO opened, would take far longer than this.
    assert time.monotonic() - started < 30


def test_a_duplicate_number_is_still_found_among_broken_siblings(project: Path) -> None:
    for kind in SIBLING_KINDS:
        sibling(project, kind)
    write_issue(project, head(title='"Another"', number="5") + ARTICLE, "other.md")
    errors = errors_of(project, head(number="5") + ARTICLE)
    assert [p.message for p in errors] == [
        f"number 5 is also used by {project / 'other.md'}; each issue needs its own"
    ]
    assert front_matter_number(project / "other.md") == 5


@pytest.mark.parametrize("kind", list(BROKEN_FRONT_MATTER))
def test_the_same_input_in_the_checked_file_is_a_check_error(project: Path, cli, kind: str) -> None:
    path = sibling(project / "issues", kind)
    result = cli("check", path)
    assert result.code == 1, result.output
    assert f"{path}:" in result.stdout and ": error: " in result.stdout
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert all(len(line) < 400 for line in result.stdout.splitlines())


def test_check_of_several_files_reports_each_under_its_own_path(project: Path, cli) -> None:
    good = write_issue(project / "issues", head(number="8") + ARTICLE, "good.md")
    bad = sibling(project / "issues", "explicit int tag")
    pipe = sibling(project / "issues", "FIFO")
    worse = write_issue(project / "issues", head(number="0x9") + "## Not a link\n", "worse.md")
    result = cli("check", good, bad, pipe, worse)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert not any(line.startswith(f"{good}:") for line in lines)
    assert f"{bad}:3:9: error: YAML tags like '!!int' are not allowed here" in result.stdout
    assert f"{pipe}:1:1: error: not a regular file" in result.stdout
    assert f"{worse}:3:9: error: number must be plain decimal digits like 25" in result.stdout
    assert f"{worse}:5:1: error: article heading is not a link" in result.stdout
    assert "in 4 files" in result.stderr


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


def test_json_style_surrogate_pairs_make_one_character(project: Path) -> None:
    result = build(
        write_issue(project, head(subject='"New \\ud83d\\ude00 issue"') + ARTICLE), load_settings()
    )
    assert result.errors == [] and result.rendered is not None
    assert result.rendered.subject == "New \U0001f600 issue"


def test_front_matter_is_bounded_and_the_scan_reads_only_the_head(project: Path) -> None:
    from pipeline.issue.limits import MAX_FRONT_MATTER_BYTES

    padding = "# " + "x" * 1000 + "\n"
    big = "---\ntitle: T\nnumber: 5\n" + padding * (MAX_FRONT_MATTER_BYTES // 1000 + 2) + "---\n"
    (error,) = errors_of(project, big + ARTICLE, "big.md")
    assert (error.line, error.col) == (2, 1) and "at most 64 KB" in error.message
    assert front_matter_number(project / "big.md") is None
    # A long body after a short front matter does not hide the number from the scan.
    write_issue(project, head(number="5") + ARTICLE + "- " + "word " * 100_000 + "\n", "long.md")
    assert front_matter_number(project / "long.md") == 5


@pytest.mark.parametrize("raw", ['"ko\\n"', "|\n  ko\n", '"ko\\r\\nX-Evil: 1"'])
def test_lang_is_a_whole_language_tag(project: Path, raw: str) -> None:
    (error,) = errors_of(project, head(lang=raw) + ARTICLE)
    assert (error.line, error.col) == (4, 7) and "lang must be a language tag" in error.message
