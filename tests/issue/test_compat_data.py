"""The vendored caniemail data: the refresh command's shape check and trimming, and the lint
on today's sample issue through `build`, as `check`, `preview` and `send` see it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.issue import compat_data
from pipeline.issue.build import build
from pipeline.issue.compat import BREAKS, PLAINER, RULE
from pipeline.issue.problems import Severity
from pipeline.settings import load_settings
from tests.support.cli import ROOT, SAMPLE_ISSUE

VENDORED = Path(str(resources.files("pipeline.issue") / "caniemail"))
GOOD_FEATURE = {
    "slug": "css-x",
    "title": "x",
    "category": "css",
    "notes_by_num": {"1": "a note"},
    "stats": {"outlook": {"windows": {"2016": "n", "2019": "a #1"}}},
}


def test_the_vendored_folder_has_the_licence_and_version() -> None:
    assert "MIT License" in (VENDORED / "LICENSE").read_text(encoding="utf-8")
    assert (VENDORED / "VERSION").read_text(encoding="utf-8").strip() == "2.0.2"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ([], "is not an object with a `data` list"),
        ({"data": "x"}, "is not an object with a `data` list"),
        ({"data": [42]}, "feature #0: is not an object"),
        ({"data": [{**GOOD_FEATURE, "slug": ""}]}, "has no text field 'slug'"),
        ({"data": [{**GOOD_FEATURE, "stats": []}]}, "has no stats object"),
        (
            {"data": [{**GOOD_FEATURE, "stats": {"gmail": {"ios": {"2020": "maybe"}}}}]},
            "gmail.ios 2020 has the status 'maybe'",
        ),
        ({"data": [{**GOOD_FEATURE, "notes_by_num": {"1": 3}}]}, "notes_by_num"),
        ({"data": [{**GOOD_FEATURE, "category": "html"}]}, "has no CSS features"),
    ],
)
def test_malformed_data_is_refused_with_a_clear_message(raw: object, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compat_data.parse(raw)
    assert says in caught.value.message
    assert "make vendor-caniemail" in (caught.value.hint or "")


def test_the_latest_version_decides_and_its_notes_come_along() -> None:
    (feature,) = compat_data.parse({"data": [GOOD_FEATURE]}).values()
    assert feature.support["outlook.windows"].level == "a"
    assert feature.support["outlook.windows"].notes == ("a note",)
    assert "gmail.ios" not in feature.support  # no data: nothing is claimed


def test_the_refresh_trims_and_its_output_loads(tmp_path: Path) -> None:
    source = tmp_path / "caniemail.json"
    extra = {**GOOD_FEATURE, "slug": "amp", "category": "others"}
    wide = {
        **GOOD_FEATURE,
        "stats": {
            "outlook": {"windows": {"2016": "n", "2019": "a #1"}, "ios": {"2020": "y"}},
            "thunderbird": {"macos": {"1": "n"}},
        },
    }
    source.write_text(json.dumps({"api_version": "1", "data": [wide, extra]}), encoding="utf-8")
    assert compat_data.main([str(source), str(tmp_path / "out")]) == 0
    written = json.loads((tmp_path / "out" / "caniemail.json").read_text(encoding="utf-8"))
    (kept,) = written["data"]  # "others" (AMP, BIMI) are not HTML or CSS
    assert kept["stats"] == {"outlook": {"windows": {"2019": "a #1"}}}
    assert compat_data.parse(written)["css-x"].support["outlook.windows"].level == "a"


def test_the_refresh_refuses_a_malformed_file(tmp_path: Path, capsys) -> None:
    source = tmp_path / "caniemail.json"
    source.write_text('{"data": [{"slug": "x"}]}', encoding="utf-8")
    assert compat_data.main([str(source), str(tmp_path / "out")]) == 1
    assert "has no text field 'title'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_vendored_file_is_already_trimmed(tmp_path: Path) -> None:
    """Trimming the vendored file again changes nothing: it is what the refresh writes."""
    assert compat_data.main([str(VENDORED / "caniemail.json"), str(tmp_path)]) == 0
    again = (tmp_path / "caniemail.json").read_text(encoding="utf-8")
    assert again == (VENDORED / "caniemail.json").read_text(encoding="utf-8")


def test_the_sample_issue_gets_a_short_list_on_line_1() -> None:
    settings = load_settings(ROOT / "newsletter.toml")
    result = build(SAMPLE_ISSUE, settings)
    assert result.rendered is not None and not result.errors
    compat = [p for p in result.problems if p.rule == RULE]
    # a naive caniemail lint reports 188 items for this email; each feature is one here
    assert 5 <= len(compat) <= 30
    for problem in compat:
        assert problem.severity is Severity.WARNING
        assert (problem.path, problem.line, problem.col) == (str(SAMPLE_ISSUE), 1, 1)
        assert problem.message.startswith("rendered email, ")
        assert problem.kind in (BREAKS, PLAINER) and problem.clients
    kinds = [p.kind for p in compat]
    assert kinds == sorted(kinds, key=lambda k: k != BREAKS)  # breaking ones first
    messages = " ".join(p.message for p in compat)
    # the progressive enhancement the issue names is in the plainer class
    assert "looks plainer: border-radius is not supported in Outlook (Windows)" in messages
    assert "looks plainer: @media (prefers-color-scheme)" in messages
    assert any("Class selector" in m and "non Google accounts" in m for m in messages.split("\n"))


def test_a_project_template_with_a_flex_row_gets_the_breaking_warning_first(
    project: Path, cli
) -> None:
    """A project's own template is where layout code comes from: `check` names it first."""
    template = (ROOT / "templates" / "issue.mjml.j2").read_text(encoding="utf-8")
    row = '<mj-raw><div style="display:flex"><div>one</div><div>two</div></div></mj-raw>'
    marker = '<mj-body background-color="{{ theme.background }}" width="640px" css-class="nl-page">'
    assert marker in template
    (project / "templates").mkdir()
    (project / "templates" / "issue.mjml.j2").write_text(
        template.replace(marker, marker + row, 1), encoding="utf-8"
    )
    issue = project / "issues" / SAMPLE_ISSUE.name
    issue.write_bytes(SAMPLE_ISSUE.read_bytes())
    result = cli("check", issue)
    assert result.code == 0  # warnings: the email can still be sent
    compat = [line for line in result.stdout.splitlines() if "rendered email, " in line]
    assert compat[0] == (
        f"{issue}:1:1: warning: rendered email, may break the layout or hide content: "
        "display:flex is not supported in Outlook (Windows); partly supported in Gmail (iOS, "
        "Android) (Not supported with non Google accounts.)"
    )
    assert all("looks plainer" in line for line in compat[1:])
