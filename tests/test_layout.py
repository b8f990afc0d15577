"""The layout rules that a reader of `ls pipeline/` relies on (the import rules are
import-linter contracts in pyproject.toml, checked by `make lint`)."""

from __future__ import annotations

import ast

import pytest

from tests.support.cli import ROOT

PACKAGE = ROOT / "pipeline"
MAX_LINES = 400
# A module may be longer only if its docstring says why, starting with this phrase.
REASON = "Longer than 400 lines because"
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_layout_is_found() -> None:
    assert len(MODULES) > 30
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} >= {
        "issue",
        "audience",
        "db",
        "delivery",
        "feedback",
        "web",
        "cli",
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small_or_says_why(module) -> None:
    source = module.read_text(encoding="utf-8")
    lines = source.count("\n")
    doc = ast.get_docstring(ast.parse(source)) or ""
    assert lines <= MAX_LINES or REASON in doc, (
        f"{module.relative_to(ROOT)} has {lines} lines: split it along a seam, or start a "
        f"paragraph of its docstring with {REASON!r}"
    )


@pytest.mark.parametrize(
    "package",
    sorted(p.parent for p in PACKAGE.rglob("__init__.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_package_says_what_it_is_for(package) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"{package.relative_to(ROOT)}/__init__.py needs a docstring: what is it for?"


def test_tests_mirror_the_package() -> None:
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders - {"support"} <= packages, "a test folder names no package of pipeline/"
    # The core (settings, errors, output, retry) has no folder: its tests stand at the top, with
    # the test of the package as installed.
    top = {p.name for p in (ROOT / "tests").glob("test_*.py")}
    assert top <= {
        "test_layout.py",
        "test_settings.py",
        "test_output.py",
        "test_retry.py",
        "test_package.py",
    }, "tests of one part go in that part's folder"
