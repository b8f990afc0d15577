"""Writing what `aws setup` made into the settings file, keeping its comments and order
(tomlkit), in one atomic replace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from pipeline.errors import ConfigError
from pipeline.files import write_atomic


def snippet(values: dict[str, Any]) -> str:
    """The lines to paste where the file cannot be written (`--print`)."""
    document = tomlkit.document()
    for key, value in values.items():
        document[key] = value
    return tomlkit.dumps(document)


def changes(path: Path, values: dict[str, Any]) -> dict[str, Any]:
    """The values that differ from what the file holds."""
    current = _read(path)
    return {key: value for key, value in values.items() if current.get(key) != value}


def write(path: Path, values: dict[str, Any]) -> None:
    """Set `values` in the TOML file at `path` (created if missing); every other line stays."""
    import os

    document = _read(path)
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(
            f"{path}: the file is not writable",
            hint="run again with --print and put the lines it prints into your settings",
        )
    for key, value in values.items():
        if isinstance(value, list):
            array = tomlkit.array()
            array.extend(value)
            array.multiline(len(value) > 1)
            document[key] = array
        else:
            document[key] = value
    try:
        write_atomic(path, tomlkit.dumps(document).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot write it ({exc.strerror or exc})",
            hint="run again with --print and put the lines it prints into your settings",
        ) from None


def _read(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
