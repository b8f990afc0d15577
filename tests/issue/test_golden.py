"""The sample issue's output, byte for byte.

After an intended change to the template or renderer, regenerate with `make golden`
(UPDATE_GOLDEN=1) and review the diff of tests/issue/golden/ before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.issue.build import build, sample_recipient
from pipeline.issue.message import personalise
from pipeline.issue.render import render_web
from pipeline.settings import load_settings
from tests.support.cli import ROOT, SAMPLE_ISSUE

GOLDEN = Path(__file__).parent / "golden" / "issue-25"


def outputs() -> dict[str, str]:
    settings = load_settings(ROOT / "newsletter.toml")
    result = build(SAMPLE_ISSUE, settings)
    assert result.rendered is not None and not result.errors, result.problems
    message = personalise(result.rendered, sample_recipient(settings), settings)
    return {
        "email.html": message.html,
        "email.txt": message.text,
        "web.html": render_web(result.issue, settings),
    }


@pytest.mark.parametrize("name", ["email.html", "email.txt", "web.html"])
def test_sample_issue_matches_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("NEWSLETTER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(ROOT)
    actual = outputs()[name]
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run `make golden`"
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from {golden}; if intended, run `make golden`"
