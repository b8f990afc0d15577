"""The CLI runner and the paths that tests in every folder share."""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE_ISSUE = ROOT / "issues" / "2024-06-22-article-weekly-25.md"
TEST_SECRET = "test-secret-key-0123456789abcdef"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: object, input: str | None = None) -> Result:
    """Run `newsletter ARGS...` through the real entry point and capture what it prints."""
    from pipeline.cli.app import main

    out, errs = io.StringIO(), io.StringIO()
    old_argv, old_stdin = sys.argv, sys.stdin
    sys.argv = ["newsletter", *map(str, args)]
    sys.stdin = io.StringIO(input or "")
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(errs):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdin = old_argv, old_stdin
    return Result(code, out.getvalue(), errs.getvalue())


def ok(result: Result) -> Result:
    """A command that succeeded, and printed no traceback."""
    assert result.code == 0, result.output
    assert "Traceback" not in result.output
    return result


def refused(result: Result, *words: str) -> Result:
    """A clean refusal: non-zero exit, an `error:` line naming the problem, no traceback."""
    assert result.code != 0, result.output
    assert "Traceback" not in result.output
    assert "error:" in result.stderr, result.output
    for word in words:
        assert word in result.stderr, result.output
    return result


def use_project(mp: Any, folder: Path, database_url: str) -> None:
    """Run the CLI as in a project at `folder` on `database_url` (with a MonkeyPatch, so
    that it is undone): its working directory, no NEWSLETTER_ variable of the outer run,
    the test secret key."""
    mp.chdir(folder)
    for name in [n for n in os.environ if n.startswith("NEWSLETTER_")]:
        mp.delenv(name)
    mp.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    mp.setenv("NEWSLETTER_DATABASE_URL", database_url)
