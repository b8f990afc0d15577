"""The configuration schema, in one place.

Non-secret settings live in `newsletter.toml` at the project root; environment variables
named `NEWSLETTER_<KEY>` override them, and so does a `.env` file (git-ignored, for
secrets). Every bad value is reported at once, naming the key and where it came from.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from contextvars import ContextVar
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline.errors import ConfigError
from pipeline.text import CONTROLS

ENV_PREFIX = "NEWSLETTER_"
DEFAULT_CONFIG = Path("newsletter.toml")
_toml_path: ContextVar[Path] = ContextVar("toml_path", default=DEFAULT_CONFIG)

_LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_LIST_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+")
# A base URL: scheme, host, optional path, in characters that need no escaping inside the
# `<...>` of List-Unsubscribe (so no `>`, quotes, spaces); no query or fragment, since
# `/unsubscribe/<token>` is appended to it.
_PUBLIC_URL = re.compile(
    r"https?://[A-Za-z0-9.\-_~:@!$&'()*+,;=%\[\]]+"  # host (and port, user info)
    r"(/[A-Za-z0-9.\-_~:@!$&'()*+,;=%/]*)?"  # path
)
# SES: up to 64 letters, digits, hyphens and underscores.
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What the From header parser reads (the same machinery that writes the header).
_ADDRESS_POLICY = SMTP.clone(max_line_length=0)
# Settings that end up in a mail header (From, Reply-To, List-Id, List-Unsubscribe) or in
# an SES request parameter: one line each, no control character.
_ONE_LINE = (
    "name",
    "from_address",
    "reply_to",
    "public_url",
    "lang",
    "list_id",
    "unsubscribe_mailto",
    "configuration_set",
    "database_url",
    "timezone",
)


def _control_problem(value: str) -> str | None:
    found = CONTROLS.search(value)  # none of them belongs in a header
    if found is None:
        return None
    char = found.group()
    what = {"\n": "a line break (LF)", "\r": "a carriage return (CR)", "\t": "a tab"}.get(
        char, f"the control character U+{ord(char):04X}"
    )
    return f"contains {what} at character {found.start() + 1}"


class Settings(BaseSettings):
    """What a publisher configures. Defaults make `make demo` work with nothing set."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        # Unknown keys are reported by `load_settings` (which knows where each came from);
        # a .env file may also hold other tools' variables, such as AWS_REGION.
        extra="ignore",
        case_sensitive=False,
    )

    name: str = "Article Weekly"
    from_address: str = "Article Weekly <weekly@example.com>"
    reply_to: str | None = None
    public_url: str = "http://127.0.0.1:8080"
    lang: str = "ko"
    list_id: str = "weekly.example.com"
    postal_address: str = "123 Example Street, Seoul 04524, Republic of Korea"
    unsubscribe_mailto: str | None = None
    configuration_set: str | None = None
    database_url: str = "sqlite:///subscribers/newsletter.db"
    secret_key: SecretStr | None = None
    sns_topic_arns: list[str] = []
    # The hosts SNS signing certificates and subscription URLs may come from (a full match
    # on the host name); tests point it at loopback.
    sns_cert_host_pattern: str = r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
    # A CA file for fetching them over TLS; default: the system's.
    sns_ca_bundle: str | None = None
    # Signup (double opt-in): how long a confirmation link works, how often one address
    # may be sent a confirmation however many signups arrive, and the per-IP limit.
    confirm_link_days: int = Field(7, ge=1, le=90)
    confirmation_period_hours: float = Field(24.0, gt=0, le=24 * 30)
    signup_ip_limit: int = Field(10, ge=1)
    signup_ip_window: int = Field(3600, ge=1)  # seconds
    # A Markdown file in the issue format, sent once to each reader who confirms.
    welcome: str | None = None
    # Schedules: the zone `--at` is read in (default: the machine's), and how late a
    # scheduled campaign may still start after its time (the server was down) before it
    # is marked `missed` instead of being sent late in silence.
    timezone: str | None = None
    schedule_grace: int = Field(3600, ge=0)  # seconds
    # A sender on a shared campaign silent this long is dead; its rows in flight `unknown`.
    sender_lease_seconds: float = Field(10.0, ge=3, le=600)

    @field_validator(*_ONE_LINE, mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        """Checked before anything else: a line break here would stand in a mail header."""
        if isinstance(value, str) and (problem := _control_problem(value)):
            raise ValueError(f"{problem}; it must be one line without control characters")
        return value

    @field_validator("postal_address", mode="before")
    @classmethod
    def _postal_address(cls, value: Any) -> Any:
        # Line breaks are fine in the footer; other control characters are not text.
        if isinstance(value, str) and (problem := _control_problem(re.sub(r"\r?\n", " ", value))):
            raise ValueError(f"{problem}; remove it")
        return value

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        header = _ADDRESS_POLICY.header_factory("From", value)
        addresses = header.addresses
        if len(addresses) > 1:
            raise ValueError(
                "must be one email address, like 'Weekly <weekly@example.com>'; "
                f"found {len(addresses)}"
            )
        if header.defects or not addresses or not addresses[0].username or not addresses[0].domain:
            raise ValueError("must be an email address, like 'Weekly <weekly@example.com>'")
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        address = value.removeprefix("mailto:")
        # It stands inside `<mailto:ADDRESS?subject=unsubscribe>`: a bare address only.
        try:
            parsed = Address(addr_spec=address)
        except (ValueError, IndexError):
            parsed = None
        if (
            parsed is None
            or not parsed.username
            or not parsed.domain
            or re.search(r"[?#%&<>\"(),;:\\\[\]\s]", address)
        ):
            raise ValueError("must be a bare email address, like 'unsubscribe@example.com'")
        return address

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not _PUBLIC_URL.fullmatch(value):
            raise ValueError(
                "must be an http(s) URL without query or fragment, "
                "like 'https://weekly.example.com'"
            )
        return value.rstrip("/")

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        if not _LANG.fullmatch(value):
            raise ValueError("must be a language tag, like 'ko' or 'en'")
        return value

    @field_validator("list_id")
    @classmethod
    def _list_id(cls, value: str) -> str:
        value = value.strip().strip("<>")
        if not _LIST_ID.fullmatch(value):
            raise ValueError("must look like a domain (RFC 2919), like 'weekly.example.com'")
        return value

    @field_validator("configuration_set")
    @classmethod
    def _configuration_set(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not _CONFIGURATION_SET.fullmatch(value):
            raise ValueError(
                "must be an SES configuration set name: up to 64 letters, digits, '-' and '_'"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError("must be a database URL, like 'sqlite:///subscribers/newsletter.db'")
        return value

    @field_validator("sns_cert_host_pattern")
    @classmethod
    def _sns_cert_host_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"must be a regular expression for host names ({exc}), "
                r"like '^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$'"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "must be a time zone name from the tz database, like 'Asia/Seoul' or 'UTC'"
            ) from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use `openssl rand -hex 32`)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_toml_path.get())
        return (init_settings, env_settings, dotenv_settings, toml)

    @property
    def sender_address(self) -> str:
        return parseaddr(self.from_address)[1]

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    def require_secret_key(self) -> bytes:
        if self.secret_key is None:
            raise ConfigError(
                "secret_key is not set; it signs every unsubscribe link",
                hint="set NEWSLETTER_SECRET_KEY in the environment or in .env "
                "(for example: echo NEWSLETTER_SECRET_KEY=$(openssl rand -hex 32) >> .env)",
            )
        return self.secret_key.get_secret_value().encode()


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

    def report(where: str, key: str) -> str:
        close = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        return f"{where}: {key}: unknown setting" + (
            f"; did you mean {close[0]!r}?" if close else ""
        )

    found = [report(str(toml_path), key) for key in toml_data if key not in known]
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
    token = _toml_path.set(toml_path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "?"
            top = str(err["loc"][0]) if err["loc"] else key
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
    return settings
