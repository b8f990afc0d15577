"""Reading the settings: the files, the environment, and one error that lists every bad
value with where it came from."""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.errors import ConfigError
from pipeline.settings.schema import DEFAULT_CONFIG, ENV_PREFIX, Settings, _toml_path
from pipeline.settings.theme import Theme


def hide_password(url: str) -> str:
    """A database URL fit to show: `postgresql://user:***@host/db`. Works on a URL that
    does not parse too (a message about a bad URL must not show its password either)."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


def _read_text(path: Path, what: str) -> str | None:
    """A settings file's text, None if there is none; anything else that stops it being
    read (a folder, a FIFO, no permission, not UTF-8) is a ConfigError naming the file."""
    if not os.path.lexists(path):
        return None
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{path}: the {what} is a folder, not a file", hint=_FILE_HINT)
        if not stat.S_ISREG(mode):  # a FIFO or a device would hang or never end
            raise ConfigError(f"{path}: the {what} is not a regular file", hint=_FILE_HINT)
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the {what}: {exc.strerror or exc}", hint=_FILE_HINT
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: the {what} is not UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="save it as UTF-8",
        ) from None


_FILE_HINT = "make it a readable UTF-8 text file, or remove it"


def _env_lines(env_text: str | None) -> list[str]:
    return env_text.splitlines() if env_text else []


def _source_of(key: str, toml_path: Path, env_file: Path, env_text: str | None) -> str:
    """Where `key` (`theme__accent` for a key of a table) came from."""
    env_name = f"{ENV_PREFIX}{key.upper()}"
    if env_name in os.environ:
        return f"environment variable {env_name}"
    for line in _env_lines(env_text):
        if line.strip().upper().removeprefix("EXPORT ").strip().startswith(env_name + "="):
            return f"{env_file} ({env_name})"
    return str(toml_path)


_NOT_SETTINGS = {"CONFIG", "DEBUG"}  # NEWSLETTER_CONFIG and NEWSLETTER_DEBUG are not settings


def _unknown_keys(
    toml_data: dict[str, Any], toml_path: Path, env_file: Path, env_text: str | None
) -> list[str]:
    """Keys that name no setting, with where they are and the likely intended one."""
    known = set(Settings.model_fields)
    # Keys of a table, as the environment names them: `theme__accent`.
    known |= {f"theme__{key}" for key in Theme.model_fields}

    def report(where: str, key: str, among: Iterable[str] = known) -> str:
        close = difflib.get_close_matches(key.lower(), among, n=1, cutoff=0.6)
        return f"{where}: {key}: unknown setting" + (
            f"; did you mean {close[0]!r}?" if close else ""
        )

    found = [report(str(toml_path), key) for key in toml_data if key not in known]
    theme = toml_data.get("theme")
    if isinstance(theme, dict):  # else the schema says what [theme] must be
        theme_keys = [f"theme.{key}" for key in Theme.model_fields]
        found += [
            report(str(toml_path), f"theme.{key}", theme_keys)
            for key in theme
            if key not in Theme.model_fields
        ]
    names = [(f"environment variable {n}", n) for n in os.environ]
    for line in _env_lines(env_text):
        name = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if "=" in line and not line.lstrip().startswith("#"):
            names.append((f"{env_file} ({name})", name))
    for where, name in names:
        if name.upper().startswith(ENV_PREFIX):
            key = name[len(ENV_PREFIX) :].lower()
            if key.upper() not in _NOT_SETTINGS and key not in known:
                found.append(report(where, key))
    return found


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings, raising ConfigError that lists every bad value at once."""
    from_env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    toml_path = config or Path(from_env or DEFAULT_CONFIG)
    toml_text = _read_text(toml_path, "settings file")
    if toml_text is None and (config is not None or from_env):
        given = "--config" if config is not None else f"{ENV_PREFIX}CONFIG"
        raise ConfigError(
            f"{toml_path}: no such configuration file (given by {given})",
            hint="check the path, or leave it out to use ./newsletter.toml",
        )
    toml_data: dict[str, Any] = {}
    if toml_text is not None:
        try:
            toml_data = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{toml_path}: not valid TOML: {exc}") from None
    env_file = Path(".env")
    env_text = _read_text(env_file, ".env file")
    lines = _unknown_keys(toml_data, toml_path, env_file, env_text)
    inputs = _inputs(toml_path, toml_text, env_text) if not overrides else None
    if not lines and inputs is not None and inputs in _LOADED:
        return _LOADED[inputs].model_copy(deep=True)
    token = _toml_path.set(toml_path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "?"
            top = str(err["loc"][0]) if err["loc"] else key
            if err["type"] == "extra_forbidden":
                continue  # reported above, with a suggestion
            if top == "theme" and len(err["loc"]) > 1:
                top = f"theme__{err['loc'][1]}"
            source = _source_of(top, toml_path, env_file, env_text)
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {key}: {message}")
    finally:
        _toml_path.reset(token)
    if lines:
        raise ConfigError(
            "bad configuration:\n  " + "\n  ".join(lines),
            hint="fix the values above; `newsletter config` shows the settings in force",
        )
    if inputs is not None:
        if len(_LOADED) >= _REMEMBERED:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[inputs] = settings.model_copy(deep=True)
    return settings


# Settings already read in this process, by everything they are read from: the same files
# and environment give the same settings, and pydantic-settings takes about 13 ms to
# read them (a process that runs commands in turn, such as the tests, reads them often).
_LOADED: dict[tuple[str, ...], Settings] = {}
_REMEMBERED = 16


def _inputs(toml_path: Path, toml_text: str | None, env_text: str | None) -> tuple[str, ...]:
    environment = sorted(
        f"{name}={value}" for name, value in os.environ.items()
        if name.upper().startswith(ENV_PREFIX)
    )  # fmt: skip
    return (str(toml_path), toml_text or "", env_text or "", *environment)
