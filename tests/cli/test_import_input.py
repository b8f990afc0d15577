"""`newsletter subscribers import` with a file in another encoding, or a zip past its
limits: one clean refusal that says what to do, then the fix works."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import db
from tests.support.cli import Result, ok, refused

Cli = Callable[..., Result]


@pytest.fixture
def weekly(cli: Cli, project: Path) -> Path:
    ok(cli("lists", "create", "weekly"))
    return project


def test_a_korean_excel_csv_is_refused_then_imported_with_encoding(cli: Cli, weekly: Path) -> None:
    path = weekly / "excel.csv"
    path.write_bytes("email,name\r\na@example.com,A\r\nkim@example.com,김민준\r\n".encode("cp949"))
    result = refused(
        cli("subscribers", "import", path, "--list", "weekly"),
        "excel.csv:3: not UTF-8 text; it looks like cp949",
        "--encoding cp949",
    )
    assert result.stderr.count("error:") == 1  # once for the file, not once per row
    assert db.rows("SELECT count(*) FROM subscribers") == [(0,)]

    ok(cli("subscribers", "import", path, "--list", "weekly", "--encoding", "cp949"))
    assert sorted(db.rows("SELECT email, name FROM subscribers")) == [
        ("a@example.com", "A"),
        ("kim@example.com", "김민준"),
    ]


def test_a_zip_past_a_limit_names_the_setting_and_the_setting_raises_it(
    cli: Cli, weekly: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = weekly / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(3):
            archive.writestr(f"part{n}.csv", f"email\r\np{n}@example.com\r\n")
    monkeypatch.setenv("NEWSLETTER_IMPORT_ZIP_MAX_FILES", "2")
    refused(
        cli("subscribers", "import", path, "--list", "weekly"),
        "holds 3 files; at most 2 are read",
        "NEWSLETTER_IMPORT_ZIP_MAX_FILES=3",
    )
    monkeypatch.setenv("NEWSLETTER_IMPORT_ZIP_MAX_FILES", "3")
    ok(cli("subscribers", "import", path, "--list", "weekly"))
    assert db.rows("SELECT count(*) FROM subscribers") == [(3,)]
