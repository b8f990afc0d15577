"""The package as users install it: the wheel, built from this checkout and installed into a
fresh virtual environment without any extra, runs every command a publisher starts with.

The environment gets its dependencies from `build/wheelhouse`, which `make wheelhouse`
(part of `make test`) downloads with the versions of `requirements.lock`: the test itself
runs offline. A module that a command imports but the package does not declare ends here in
`ModuleNotFoundError`, as it would on `pip install newsletter`.

Slow (about 20 s: a venv, an offline install, a few processes), so marked `slow`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import ROOT, SAMPLE_ISSUE, TEST_SECRET
from tests.support.link_sites import link_sites

pytestmark = pytest.mark.slow
WHEELHOUSE = ROOT / "build" / "wheelhouse"

# Run inside the fresh environment: every module of the package imports (the `postgres` and
# `demo` extras' modules import them lazily), and every command and group answers --help.
CHECK_SCRIPT = r"""
import importlib, pkgutil, sys
import pipeline
from typer.main import get_command
from typer.testing import CliRunner
from pipeline.cli.app import app

modules = [m.name for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")
           # `python -m pipeline` runs the CLI; Alembic runs its env script itself
           if m.name not in ("pipeline.__main__", "pipeline.db.migrations.env")]
for name in modules:
    importlib.import_module(name)
for extra in ("psycopg", "moto", "pytest", "playwright"):
    assert extra not in sys.modules, f"{extra} was imported without its extra"

root = get_command(app)
runner = CliRunner()

def walk(command, path):
    yield path
    # a group has commands (typer may bring a click of its own: no isinstance check)
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, [*path, name])

paths = list(walk(root, []))
assert len(paths) > 30, paths  # every command and group, not only the root
for path in paths:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, (path, result.output, result.exception)
    assert "Usage:" in result.output, (path, result.output)
print(f"{len(modules)} modules imported, {len(paths)} commands answer --help")
"""


# Not this run's: the venv's own modules, and bytecode written, so that the first command
# (which imports every module) compiles the venv once and the later ones reuse it: with
# PYTHONDONTWRITEBYTECODE set, each command compiled everything it imports from source,
# over ten seconds of each test.
_NOT_PASSED = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*args: object, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel of this checkout and its runtime dependencies only,
    built once per run: xdist workers share the run's temporary folder, and the first to
    take the lock builds it while the others wait and then use it."""
    if not any(WHEELHOUSE.glob("*.whl")):
        pytest.fail(f"{WHEELHOUSE} is empty: run `make wheelhouse` (make test does)")
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    folder = shared / "package"
    with open(shared / "package.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            _install(folder)
            (folder / "done").touch()
        fcntl.flock(lock, fcntl.LOCK_UN)
    yield folder / "venv"


def _install(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"] = "1"  # offline: the wheelhouse or nothing
    env["PIP_FIND_LINKS"] = str(WHEELHOUSE)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The build copies the checkout; build/ and .venv are not part of it.
    source = folder / "source"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".venv", "build", ".git", "__pycache__",
                                                   "*.egg-info", ".*_cache"),
    )  # fmt: skip
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", folder / "dist", source,
         cwd=folder, env=env)  # fmt: skip
    wheel = next((folder / "dist").glob("newsletter-*.whl"))
    venv = folder / "venv"
    # No pip of its own and no byte-compiling: this run's pip installs into it, and the
    # commands compile what they import (most of botocore never is).
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=folder, env=env)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
         "--no-compile", wheel, cwd=folder, env=env, timeout=300)  # fmt: skip


@pytest.fixture
def project(installed: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project folder with only the settings and one issue: no templates of its own, so
    the ones shipped in the wheel are used."""
    shutil.copy(ROOT / "newsletter.toml", tmp_path / "newsletter.toml")
    (tmp_path / "issues").mkdir()
    shutil.copy(SAMPLE_ISSUE, tmp_path / "issues" / SAMPLE_ISSUE.name)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NEWSLETTER_") and k not in _NOT_PASSED}  # fmt: skip
    env["NEWSLETTER_SECRET_KEY"] = TEST_SECRET
    env["NEWSLETTER_DATABASE_URL"] = f"sqlite:///{tmp_path / 'newsletter.db'}"
    env["PATH"] = f"{installed / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return tmp_path, env


def test_every_module_imports_and_every_command_answers_help(installed: Path, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
    out = _run(installed / "bin" / "python", "-c", CHECK_SCRIPT, cwd=tmp_path, env=env)
    assert "modules imported" in out


def test_check_and_render_use_the_templates_shipped_in_the_wheel(project) -> None:
    folder, env = project
    issue = f"issues/{SAMPLE_ISSUE.name}"
    _run("newsletter", "check", issue, cwd=folder, env=env)
    _run("newsletter", "render", issue, "--out", "out", cwd=folder, env=env)
    for name in ("email.html", "email.txt", "web.html", "message.eml"):
        assert (folder / "out" / name).stat().st_size > 0, name
    html = (folder / "out" / "email.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Article Weekly" in html


def test_check_links_fetches_with_the_declared_client(project) -> None:
    folder, env = project
    with link_sites(folder) as sites:
        (folder / "issues" / "links.md").write_text(
            f'---\ntitle: "Links"\nnumber: 2\n---\n## [Fine]({sites.http}/ok)\n- a\n\n'
            f"## [Gone]({sites.http}/missing)\n- b\n",
            encoding="utf-8",
        )
        done = subprocess.run(
            ["newsletter", "check", "issues/links.md", "--links", "--timeout", "5"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "links.md:8:" in done.stdout + done.stderr and "404" in done.stdout + done.stderr
    assert sites.count("/ok") >= 1 and sites.count("/missing") >= 1


def test_preview_serves_the_issue(project) -> None:
    folder, env = project
    port = _free_port()
    process = subprocess.Popen(
        ["newsletter", "preview", f"issues/{SAMPLE_ISSUE.name}", "--port", str(port)],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}/email.html"
                with urllib.request.urlopen(url, timeout=5) as response:
                    page = response.read().decode("utf-8")
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert response.status == 200
        assert "Article Weekly" in page
    finally:
        process.terminate()
        _out, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors, errors
