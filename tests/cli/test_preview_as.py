"""`newsletter preview ISSUE --as EMAIL`: the copy a real subscriber would get, served by
the real command in its own process; and the clean refusals before it starts."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pipeline.audience.tokens import verify_token
from tests.support.cli import ROOT, SAMPLE_ISSUE, TEST_SECRET, refused
from tests.support.preview_readers import GONE, ONE_LIST, ONE_LIST_NAME, TWO_LISTS, seed_readers

PATIENCE = 30.0  # seconds: a cold start of the CLI on a busy machine
PREVIEW = [sys.executable, "-m", "pipeline", "preview"]
TOKEN = re.compile(r"/unsubscribe/([A-Za-z0-9_-]{44})")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_preview_as_serves_their_copy(project: Path, database_url: str) -> None:
    seeded = seed_readers(database_url)
    issue = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT)
    log = project / "preview.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            # addresses match ignoring case
            [*PREVIEW, issue, "--port", str(port), "--as", ONE_LIST.upper()],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + PATIENCE
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    page = client.get("/email.html")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            text = client.get("/email.txt").text
            reader = client.get("/api/reader").json()  # what the page's inbox line shows
        said = log.read_text()
        assert f"as {ONE_LIST_NAME} <{ONE_LIST}> on the list 'weekly'" in said
        assert reader["name"] == ONE_LIST_NAME and reader["email"] == ONE_LIST
        assert reader["list"] == "weekly" and reader["note"] is None
        for copy in (page.text, text):
            assert ONE_LIST in copy  # "you receive this at ..." in the footer
            (token,) = set(TOKEN.findall(copy))
            # their own working token: it names them and the list
            assert verify_token(TEST_SECRET.encode(), token) == (
                seeded.ids[ONE_LIST],
                seeded.lists["weekly"],
            )
        assert "sample-token" not in page.text
        assert reader["unsubscribe_url"].endswith(token)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_preview_as_refuses_what_it_cannot_show(project: Path, cli, database_url: str) -> None:
    seed_readers(database_url)
    issue = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    refused(cli("preview", issue, "--as", "nobody@example.org"), "no subscriber", "nobody@")
    refused(cli("preview", issue, "--as", "not an address"), "not a valid email address")
    # on two lists: which one is for the author to say, and the error names both
    refused(cli("preview", issue, "--as", TWO_LISTS), "'monthly'", "'weekly'", "--list")
    refused(
        cli("preview", issue, "--as", ONE_LIST, "--list", "monthly"),
        "not on the list 'monthly'",
        "'weekly'",
    )
    refused(cli("preview", issue, "--as", ONE_LIST, "--list", "nope"), "not on the list 'nope'")
    refused(cli("preview", issue, "--list", "weekly"), "--as")
    refused(cli("preview", issue, "--host", "0.0.0.0"), "loopback")


def test_preview_as_needs_the_secret_key(
    project: Path, cli, database_url: str, monkeypatch
) -> None:
    seed_readers(database_url)
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    refused(cli("preview", SAMPLE_ISSUE, "--as", ONE_LIST), "secret_key")


def test_an_unsubscribed_reader_is_shown_with_a_note(project: Path, database_url: str) -> None:
    from pipeline.db import Store
    from pipeline.settings import load_settings
    from pipeline.web.preview_reader import find_reader

    seed_readers(database_url)
    with Store.open(database_url) as store:
        reader = find_reader(store, load_settings(), GONE, None)
    assert reader.list_name == "weekly"
    assert reader.note == "they would not get this issue: unsubscribed on 'weekly'"
