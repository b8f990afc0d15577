"""What the hostile-input tests of the audience share: the inputs and a few helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pipeline.db import Store
from tests.support.properties import examples

NOW = datetime(2024, 6, 1, tzinfo=UTC)
LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"]
# Any text, with the characters that break headers and spreadsheets made likely.
HOSTILE_TEXT = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(
        [*(b for b in LINE_BREAKS if len(b) == 1), "\t", "\x00", "\u202e", "\u200b", "\u200d", " "]
    ),
    max_size=60,
)
# A Hypothesis test makes its own folder: pytest's tmp_path is one per test, not per example.
SETTINGS = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def names(store: Store) -> dict[str, str | None]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT email, name FROM subscribers").all())
