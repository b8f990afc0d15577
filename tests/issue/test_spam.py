"""SpamAssassin's content rules should find nothing against the sample issue's message."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import SAMPLE_ISSUE


@pytest.mark.spam
def test_sample_message_scores_under_one(project: Path, cli) -> None:
    spamassassin = shutil.which("spamassassin")
    assert spamassassin, "spamassassin is missing: `make test` installs Debian's package"
    assert cli("render", SAMPLE_ISSUE, "--out", project / "out").code == 0
    eml = (project / "out" / "message.eml").read_bytes()
    done = subprocess.run(
        [spamassassin, "-L", "-t"], input=eml, capture_output=True, timeout=120, check=False
    )
    report = done.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, re.MULTILINE)
    assert match, report[-2000:]
    score = float(match.group(1))
    assert score < 1.0, report[report.find("Content analysis") :]
