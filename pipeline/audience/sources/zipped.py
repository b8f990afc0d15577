"""A zip to import (Mailchimp's audience export is one): which of its files are read, in
which order, and the limits it must keep before a byte of it is decompressed.

A zip's central directory says how large each file is once decompressed, and that size
is binding: Python's zipfile stops at it (a file that claims less than it holds fails
its CRC check). So the limits are checked on the directory, before reading: a zip bomb
is refused in milliseconds, not decompressed for minutes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.audience.sources import mailchimp
from pipeline.errors import InputError
from pipeline.settings import Settings
from pipeline.text import cut, printable

# Mailchimp's suppressed files first: should an address be in two files, the first one
# read wins (the rest are duplicates), and the one that stops mail is the safe one.
_ZIP_ORDER = {"cleaned": 0, "unsubscribed": 1, "subscribed": 2, "nonsubscribed": 3}
# A file this small cannot expand into much, whatever its ratio.
_RATIO_EXEMPT = 1 << 20  # bytes, decompressed


@dataclass(frozen=True)
class ZipLimits:
    """What a zip may hold (the `import_zip_*` settings)."""

    max_megabytes: int  # all its files together, decompressed
    max_ratio: int  # decompressed / compressed size of one file
    max_files: int  # entries in the zip, of any kind

    @classmethod
    def of(cls, settings: Settings) -> ZipLimits:
        return cls(
            settings.import_zip_max_megabytes,
            settings.import_zip_max_ratio,
            settings.import_zip_max_files,
        )


def _raise_it(setting: str, value: str) -> str:
    return (
        f"a zip bomb? If the export is genuine, raise {setting} in newsletter.toml "
        f"({setting} = {value}) or in the environment (NEWSLETTER_{setting.upper()}={value})"
    )


def members(archive: zipfile.ZipFile, path: Path, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The CSV files of a zip in the order they are read; InputError for none, or for a
    zip past its limits."""
    entries = archive.infolist()
    if len(entries) > limits.max_files:
        raise InputError(
            f"{path}: the zip holds {len(entries):,} files; at most {limits.max_files:,} "
            "are read (the setting import_zip_max_files)",
            hint=_raise_it("import_zip_max_files", f"{len(entries)}"),
        )
    found = []
    for info in entries:
        member = PurePosixPath(info.filename)
        if info.is_dir() or member.suffix.lower() != ".csv":
            continue
        if "__MACOSX" in member.parts or member.name.startswith("._"):
            continue  # the resource forks macOS's Archive Utility adds
        _check_ratio(info, path, limits)
        found.append(info)
    if not found:
        raise InputError(
            f"{path}: the zip holds no CSV file",
            hint="Mailchimp's audience export is a zip of CSVs; or import a CSV directly",
        )
    total = sum(i.file_size for i in found)
    if total > limits.max_megabytes * 1_000_000:
        needed = -(-total // 1_000_000)
        raise InputError(
            f"{path}: the zip's CSV files hold {needed:,} MB decompressed; at most "
            f"{limits.max_megabytes:,} MB are read (the setting import_zip_max_megabytes)",
            hint=_raise_it("import_zip_max_megabytes", f"{needed}"),
        )
    kind = {i.filename: mailchimp.kind_by_name(PurePosixPath(i.filename).name) for i in found}
    return sorted(found, key=lambda i: (_ZIP_ORDER.get(kind[i.filename] or "", 9), i.filename))


def _check_ratio(info: zipfile.ZipInfo, path: Path, limits: ZipLimits) -> None:
    if info.file_size <= _RATIO_EXEMPT:
        return
    ratio = info.file_size / max(info.compress_size, 1)
    if ratio > limits.max_ratio:
        shown = cut(printable(info.filename), 120)
        raise InputError(
            f"{path}/{shown}: expands {ratio:,.0f} times ({info.compress_size:,} bytes to "
            f"{info.file_size:,}); at most {limits.max_ratio:,} times is read (the setting "
            "import_zip_max_ratio). Nothing was imported",
            hint=_raise_it("import_zip_max_ratio", f"{int(ratio) + 1}"),
        )
