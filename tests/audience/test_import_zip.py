"""A zip to import is read one file at a time, and refused unread past its limits (the
`import_zip_*` settings): a zip bomb costs milliseconds, a zip of thousands of small CSVs
no more memory than one CSV."""

from __future__ import annotations

import re
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from pipeline.audience import subscribers as lib
from pipeline.audience.sources import ZipLimits
from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.settings import Settings

DEFAULTS = ZipLimits.of(Settings.model_construct())


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


def _people(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM subscribers").scalar_one())


def _csv(first: int, count: int) -> bytes:
    rows = "".join(f"person{i}@example.com,Person {i}\n" for i in range(first, first + count))
    return ("email,name\n" + rows).encode()


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def _peak(store: Store, path: Path) -> tuple[lib.ImportReport, int]:
    tracemalloc.start()
    try:
        report = lib.import_csv(store, path, "weekly", dry_run=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, peak


def test_many_files_cost_the_memory_of_one(store: Store, tmp_path: Path) -> None:
    members, rows = 200, 2
    many = _zip(
        tmp_path / "many.zip",
        {f"part{n:04}.csv": _csv(n * rows, rows) for n in range(members)},
    )
    one = _zip(tmp_path / "one.zip", {"all.csv": _csv(0, members * rows)})
    _, baseline = _peak(store, one)
    report, peak = _peak(store, many)
    assert (report.added, report.invalid, len(report.files)) == (members * rows, 0, members)
    # Opened all at once, each file's decompressor and buffers stay alive: tens of KB each,
    # over 4x the baseline here. One at a time, only the zip's directory and the per-file
    # lines of the report grow.
    assert peak < 2 * baseline, (peak, baseline)


def _bomb(path: Path, megabytes: int = 40) -> Path:
    """A CSV of `megabytes` that deflates about a thousandfold, written in chunks."""
    chunk = b"a@example.com,x\n" * 65_536  # 1 MiB
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("subscribed_members.csv", "w", force_zip64=True) as member,
    ):
        member.write(b"email,name\n")
        for _ in range(megabytes):
            member.write(chunk)
    return path


def test_a_zip_bomb_is_refused_before_it_is_read(store: Store, tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.zip")
    assert bomb.stat().st_size < 200_000

    started = time.perf_counter()
    with pytest.raises(InputError) as refused:
        lib.import_csv(store, bomb, "weekly")
    refusing = time.perf_counter() - started
    started = time.perf_counter()
    with zipfile.ZipFile(bomb) as archive, archive.open("subscribed_members.csv") as member:
        while member.read(1 << 20):
            pass
    decompressing = time.perf_counter() - started

    message = str(refused.value)
    assert "bomb.zip/subscribed_members.csv: expands" in message
    assert f"at most {DEFAULTS.max_ratio} times" in message
    assert "import_zip_max_ratio" in refused.value.hint  # type: ignore[operator]
    assert "NEWSLETTER_IMPORT_ZIP_MAX_RATIO" in refused.value.hint  # type: ignore[operator]
    # Refused from the zip's directory: a small part of merely decompressing the file.
    assert refusing < decompressing / 5, (refusing, decompressing)
    assert _people(store) == 0


@pytest.mark.parametrize(
    ("limits", "said"),
    [
        (ZipLimits(2000, 100, 3), "holds 4 files; at most 3 are read (the setting "),
        (ZipLimits(1, 1000, 10), "hold 2 MB decompressed; at most 1 MB are read"),
        (ZipLimits(2000, 2, 10), "big.csv: expands"),
    ],
)
def test_each_limit_says_what_it_is_and_how_to_raise_it(
    store: Store, tmp_path: Path, limits: ZipLimits, said: str
) -> None:
    files = {f"small{n}.csv": _csv(n, 1) for n in range(3)}
    files["big.csv"] = _csv(100, 40_000)  # 1.3 MB that deflates about 5 times
    archive = _zip(tmp_path / "export.zip", files)

    with pytest.raises(InputError, match=re.escape(said)) as refused:
        lib.import_csv(store, archive, "weekly", zip_limits=limits)
    assert "raise import_zip_max_" in str(refused.value.hint)
    assert _people(store) == 0
