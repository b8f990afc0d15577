"""The `[theme]` table: set once, checked where it enters (contrast, https logo, font
stack), from the settings file or `NEWSLETTER_THEME__<KEY>`, and shown by `config`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.settings.theme import contrast
from tests.support.cli import ok, refused

pytestmark = pytest.mark.single_backend


def _theme(project: Path, lines: str) -> None:
    toml = project / "newsletter.toml"
    text = toml.read_text(encoding="utf-8").split("[theme]")[0]
    toml.write_text(text + "[theme]\n" + lines, encoding="utf-8")


def test_contrast_is_wcag_s_ratio() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the classic just-below-AA grey
    assert contrast("#0b57d0", "#ffffff") == contrast("#ffffff", "#0b57d0")


def test_a_faint_accent_is_refused_naming_the_pair_and_the_ratio(project: Path, cli) -> None:
    _theme(project, 'accent = "#88aaff"\ndark_muted = "#444"\n')
    result = refused(cli("config"), "newsletter.toml: theme:")
    assert "accent #88aaff on surface #ffffff is 2.27:1 in light mode" in result.stderr
    assert "dark_muted #444444 on dark_surface #1f2226 is 1.64:1 in dark mode" in result.stderr
    assert result.code == 2


def test_the_environment_sets_a_theme_key_and_config_shows_it(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_THEME__ACCENT", "#A50E0E")
    rows = json.loads(ok(cli("config", "--format", "json")).stdout)
    values = {row["key"]: row["value"] for row in rows}
    assert values["theme.accent"] == "#a50e0e"
    assert values["theme.description"] == "매주 토요일, 엔지니어링 아티클 요약"  # the file's


def test_a_bad_theme_value_from_the_environment_names_the_variable(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_THEME__LOGO", "http://weekly.example.com/logo.png")
    result = refused(cli("config"), "environment variable NEWSLETTER_THEME__LOGO: theme.logo:")
    assert "must be an https URL" in result.stderr


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('acent = "#000000"', "theme.acent: unknown setting; did you mean 'theme.accent'?"),
        ('accent = "blue"', "theme.accent: must be a colour written #rrggbb"),
        ('font = "x; } body { display:none"', "theme.font: must be a CSS font stack"),
        ('logo = "javascript:alert(1)"', "theme.logo: must be an https URL"),
        ("logo_width = 4000", "theme.logo_width:"),
        (
            'description = "two\\nlines"',
            "theme.description: contains a line break (LF) at character 4; it must be one line",
        ),
    ],
)
def test_bad_theme_values_are_refused_where_they_enter(
    project: Path, cli, line: str, words: str
) -> None:
    _theme(project, line + "\n")
    refused(cli("config"), words)
