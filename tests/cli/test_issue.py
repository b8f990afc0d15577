"""The author's commands through the real entry point: exit codes, output, files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from tests.support.cli import ROOT, SAMPLE_ISSUE

# check, render, the settings and --help never open the store: SQLite's run is enough.
pytestmark = pytest.mark.single_backend

BROKEN = '---\ntitle: "x"\nnumber: 0\n---\n## Not a link\n- [x](javascript:y)\n'
WARNED = (
    '---\ntitle: "x"\nnumber: 4\n---\n## [A](https://e.com/a)\n- x\n## [B](https://e.com/a)\n- y\n'
)


def test_check_sample_issue_passes(project, cli) -> None:
    result = cli("check", SAMPLE_ISSUE)
    assert result.code == 0, result.output
    assert "0 error(s), 0 warning(s) in 1 file" in result.stderr
    # The email-client features that only look plainer are counted, not listed, and
    # none of the sample's may break the layout.
    assert "email clients: 0 feature(s) may break the layout" in result.stderr
    assert "looks plainer" not in result.output
    strict = cli("check", "--strict", SAMPLE_ISSUE)
    assert strict.code == 0, strict.output
    listed = cli("check", "--clients", SAMPLE_ISSUE)
    assert listed.code == 0 and "looks plainer: border-radius" in listed.stdout


def test_check_reports_compiler_style_and_exits_1(project, cli) -> None:
    path = project / "issues" / "broken.md"
    path.write_text(BROKEN, encoding="utf-8")
    result = cli("check", path)
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert f"{path}:3:9: error: number must be positive, not 0" in lines
    assert any(
        line.startswith(f"{path}:5:1: error: article heading is not a link") for line in lines
    )
    assert any(":6:7: error: link 'javascript:y'" in line for line in lines)
    assert "Traceback" not in result.output


def test_check_strict_turns_warnings_into_errors(project, cli) -> None:
    path = project / "issues" / "warned.md"
    path.write_text(WARNED, encoding="utf-8")
    assert cli("check", path).code == 0
    strict = cli("check", "--strict", path)
    assert strict.code == 1
    assert ":7:1: error: article URL already used" in strict.stdout


def test_check_json_for_scripts(project, cli) -> None:
    path = project / "issues" / "broken.md"
    path.write_text(BROKEN, encoding="utf-8")
    result = cli("check", "--format", "json", path)
    problems = json.loads(result.stdout)["files"][0]["problems"]
    assert {"path", "line", "col", "severity", "message"} <= set(problems[0])
    assert all(p["severity"] == "error" for p in problems)


def test_check_missing_file(project, cli) -> None:
    result = cli("check", "issues/nope.md")
    assert result.code == 1 and "issues/nope.md:1:1: error: no such file" in result.stdout


def test_render_writes_the_four_files(project, cli) -> None:
    out = project / "out"
    result = cli("render", SAMPLE_ISSUE, "--out", out)
    assert result.code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "email.html",
        "email.txt",
        "message.eml",
        "web.html",
    ]
    message = message_from_bytes((out / "message.eml").read_bytes(), policy=default)
    assert message["To"].addresses[0].username == "reader"
    html_part = message.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert html_part.rstrip("\n") == (out / "email.html").read_text().rstrip("\n")
    assert message["List-Unsubscribe"].startswith("<https://weekly.example.com/unsubscribe/")


def test_render_refuses_an_issue_with_errors_and_writes_nothing(project, cli) -> None:
    path = project / "issues" / "broken.md"
    path.write_text(BROKEN, encoding="utf-8")
    out = project / "out"
    result = cli("render", path, "--out", out)
    assert result.code == 1
    assert "has 3 error(s)" in result.stderr and "newsletter check" in result.stderr
    assert not out.exists()


def test_bad_setting_names_key_and_source(project, cli, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "weekly.example.com")
    (project / "newsletter.toml").write_text('name = "W"\nfrom_adress = "x@example.com"\n')
    result = cli("check", SAMPLE_ISSUE)
    assert result.code == 2
    assert "environment variable NEWSLETTER_PUBLIC_URL: public_url: must be an http(s) URL" in (
        result.stderr
    )
    assert "newsletter.toml: from_adress: unknown setting" in result.stderr
    assert "Traceback" not in result.output


def test_broken_toml_is_a_clean_error(project, cli) -> None:
    (project / "newsletter.toml").write_text('name = "W\n')
    result = cli("check", SAMPLE_ISSUE)
    assert result.code == 2 and "newsletter.toml: not valid TOML" in result.stderr


def test_every_command_has_help(project, cli) -> None:
    for command in ("check", "render", "preview"):
        result = cli(command, "--help")
        assert result.code == 0 and "Usage:" in result.stdout, command


def test_console_script_and_module_entry_point(project) -> None:
    shutil.copytree(ROOT / "issues", project / "sample", dirs_exist_ok=True)
    for argv in (
        [str(Path(sys.executable).parent / "newsletter"), "check", "sample"],
        [sys.executable, "-m", "pipeline", "check", "sample"],
    ):
        found = list((project / "sample").glob("*.md"))
        done = subprocess.run(argv[:-1] + [str(p) for p in found], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_unknown_settings_are_named_with_a_suggestion_wherever_they_are(
    project, cli, monkeypatch
) -> None:
    (project / ".env").write_text(
        "AWS_REGION=us-east-1\nNEWSLETTER_SECRETKEY=abc\n# NEWSLETTER_NOPE=1\n", encoding="utf-8"
    )
    (project / "newsletter.toml").write_text('nam = "W"\n', encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_LANGUAGE", "ko")
    result = cli("config")
    assert result.code == 2
    assert "newsletter.toml: nam: unknown setting; did you mean 'name'?" in result.stderr
    assert (
        "environment variable NEWSLETTER_LANGUAGE: language: unknown setting; did you mean 'lang'?"
        in result.stderr
    )
    assert (
        ".env (NEWSLETTER_SECRETKEY): secretkey: unknown setting; did you mean 'secret_key'?"
        in result.stderr
    )
    assert "AWS_REGION" not in result.stderr and "NOPE" not in result.stderr


def test_other_tools_variables_in_dotenv_are_fine(project, cli) -> None:
    (project / ".env").write_text("AWS_REGION=us-east-1\nNEWSLETTER_LANG=en\n", encoding="utf-8")
    result = cli("config", "--format", "json")
    assert result.code == 0, result.output
    values = {row["key"]: row["value"] for row in json.loads(result.stdout)}
    assert values["lang"] == "en" and values["secret_key"] == "********"


def test_render_onto_an_existing_file_is_a_clean_error(project, cli) -> None:
    taken = project / "taken"
    taken.write_text("mine", encoding="utf-8")
    for out in (taken, taken / "inside"):
        result = cli("render", SAMPLE_ISSUE, "--out", out)
        assert result.code == 1, result.output
        assert f"error: --out {out}" in result.stderr or f"cannot write to {out}" in (result.stderr)
        assert "Traceback" not in result.output and "internal error" not in result.output
    assert taken.read_text(encoding="utf-8") == "mine"
