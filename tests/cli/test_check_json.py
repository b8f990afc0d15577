"""`newsletter check --format json`: one document for CI, every problem as data, the exit
status as for people; and `check --links` through the real entry point."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import SAMPLE_ISSUE
from tests.support.link_sites import LinkSites, link_sites

pytestmark = pytest.mark.single_backend  # check reads files, never the store

BROKEN = '---\ntitle: "x"\nnumber: 0\n---\n## Not a link\n- [x](javascript:y)\n'
WARNED = (
    '---\ntitle: "x"\nnumber: 4\n---\n## [A](https://e.com/a)\n- x\n## [B](https://e.com/a)\n- y\n'
)
PROBLEM_FIELDS = {"path", "line", "col", "severity", "message"}


def _document(stdout: str) -> dict[str, object]:
    document = json.loads(stdout)  # one document, nothing else on stdout
    assert set(document) == {"files", "summary"}
    return document


def test_a_file_with_errors_and_a_clean_one(project: Path, cli) -> None:
    broken = project / "issues" / "broken.md"
    broken.write_text(BROKEN, encoding="utf-8")
    clean = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, clean)
    result = cli("check", "--format", "json", broken, clean)
    assert result.code == 1
    document = _document(result.stdout)
    first, second = document["files"]
    assert first["path"] == str(broken) and second["path"] == str(clean)
    # The sample has no error; what warnings it has (the email-client lint) are data too.
    assert second["errors"] == 0 and second["path"] == str(clean)
    assert second["warnings"] == len(second["problems"])
    assert all(p["severity"] == "warning" for p in second["problems"])
    errors = [p for p in first["problems"] if p["severity"] == "error"]
    assert first["errors"] == len(errors) >= 3
    assert first["warnings"] == len(first["problems"]) - len(errors)
    for problem in [*first["problems"], *second["problems"]]:
        assert set(problem) >= PROBLEM_FIELDS
        assert problem["path"] in (str(broken), str(clean))
        assert isinstance(problem["line"], int) and isinstance(problem["col"], int)
        assert isinstance(problem["message"], str) and problem["message"]
    number = next(p for p in errors if "number must be positive" in p["message"])
    assert (number["line"], number["col"]) == (3, 9)
    assert document["summary"] == {
        "files": 2,
        "errors": first["errors"],
        "warnings": first["warnings"] + second["warnings"],
        "strict": False,
        "failed": True,
    }


def test_a_file_without_errors_exits_0(project: Path, cli) -> None:
    clean = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, clean)
    result = cli("check", "--format", "json", clean)
    assert result.code == 0, result.output
    document = _document(result.stdout)
    (file,) = document["files"]
    assert document["summary"] == {
        "files": 1,
        "errors": 0,
        "warnings": file["warnings"],
        "strict": False,
        "failed": False,
    }
    # Fields a check adds to its problems (a rule, the clients concerned...) come along.
    for problem in file["problems"]:
        assert json.loads(json.dumps(problem)) == problem
        for name, value in problem.items():
            assert isinstance(value, str | int | list | type(None)), (name, value)


def test_warnings_fail_only_with_strict(project: Path, cli) -> None:
    warned = project / "issues" / "warned.md"
    warned.write_text(WARNED, encoding="utf-8")
    lenient = cli("check", "--format", "json", warned)
    assert lenient.code == 0
    (file,) = _document(lenient.stdout)["files"]
    (problem,) = [p for p in file["problems"] if "already used" in p["message"]]
    assert problem["severity"] == "warning" and (problem["line"], problem["col"]) == (7, 1)
    assert file["errors"] == 0
    strict = cli("check", "--format", "json", "--strict", warned)
    assert strict.code == 1
    summary = _document(strict.stdout)["summary"]
    # the data keeps the true severity; the summary says the strict check failed
    assert summary["errors"] == 0 and summary["warnings"] == file["warnings"]
    assert summary["strict"] is True and summary["failed"] is True


def test_a_missing_file_is_a_problem_of_that_file(project: Path, cli) -> None:
    result = cli("check", "--format", "json", "issues/nope.md")
    assert result.code == 1
    (file,) = _document(result.stdout)["files"]
    assert file["path"] == "issues/nope.md"
    assert file["problems"][0]["message"].startswith("no such file")


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[LinkSites]:
    with link_sites(tmp_path) as running:
        yield running


def test_check_links_reports_at_the_line(project: Path, cli, sites: LinkSites) -> None:
    path = project / "issues" / "links.md"
    path.write_text(
        '---\ntitle: "Links"\nnumber: 3\n---\n'
        f"## [Fine]({sites.http}/ok)\n- see [it again]({sites.http}/ok)\n"
        f"## [Moved]({sites.http}/moved)\n- x\n"
        f"## [Missing]({sites.http}/missing)\n- x\n",
        encoding="utf-8",
    )
    # Without --links, nothing is fetched.
    assert cli("check", path).code == 0 and sites.count("/ok") == 0

    table = cli("check", "--links", path)
    assert table.code == 1, table.output
    col = len("## [Moved](") + 1
    assert (
        f"{path}:7:{col}: warning: link {sites.http}/moved: redirects (301) to {sites.http}/ok"
        in table.stdout
    )
    assert f"{path}:9:{len('## [Missing](') + 1}: error: link {sites.http}/missing: HTTP 404" in (
        table.stdout
    )
    assert "Traceback" not in table.output

    result = cli("check", "--links", "--format", "json", path)
    (file,) = _document(result.stdout)["files"]
    found = [p for p in file["problems"] if p["rule"] == "links"]
    assert [(p["line"], p["severity"], p["kind"], p["url"]) for p in found] == [
        (7, "warning", "redirect", f"{sites.http}/moved"),
        (9, "error", "http-error", f"{sites.http}/missing"),
    ]


def test_no_link_reached_suggests_the_network(project: Path, cli, sites: LinkSites) -> None:
    path = project / "issues" / "offline.md"
    path.write_text(
        '---\ntitle: "Links"\nnumber: 3\n---\n'
        f"## [Nobody home]({sites.closed}/a)\n- x\n## [No name](https://gone.invalid/)\n- x\n",
        encoding="utf-8",
    )
    result = cli("check", "--links", path)
    assert result.code == 1  # the missing name is an error all the same
    assert "none of the 2 links could be reached: is this machine offline" in result.stderr
    # one answer, even a 404, and the hint is not given
    path.write_text(path.read_text() + f"## [Here]({sites.http}/missing)\n- x\n")
    assert "could be reached" not in cli("check", "--links", path).stderr
