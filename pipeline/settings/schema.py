"""Every setting, its default and its check, in one class: a bad value is refused where it
enters, with a message that says what a good one looks like.

The theme's table and its contrast checks have a module of their own (`theme.py`), and so
do the values settings hold that are more than a string (`values.py`).
"""

from __future__ import annotations

import ipaddress
import re
from contextvars import ContextVar
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pipeline import zones
from pipeline.errors import ConfigError
from pipeline.settings.theme import Theme
from pipeline.settings.values import SecretKey, control_problem, dns_server

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
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
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
    "mail_from_domain",
    "events_queue_url",
    "database_url",
    "timezone",
)


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
        # NEWSLETTER_THEME__ACCENT sets `accent` in the `[theme]` table.
        env_nested_delimiter="__",
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
    # The custom MAIL FROM domain `aws setup` gives the sending identity (default
    # `bounce.<domain of from_address>`): bounces go there, and SPF aligns for DMARC.
    mail_from_domain: str | None = None
    # The SQS queue `aws setup --queue` made for SES events, which `events poll` reads.
    events_queue_url: str | None = None
    # The DNS servers `doctor` asks (addresses, `host:port` for another port); default:
    # the system's resolver.
    dns_servers: list[str] = []
    database_url: str = "sqlite:///subscribers/newsletter.db"
    secret_key: SecretStr | None = None
    # Keys that signed links in the past (a JSON list in the environment): still accepted
    # to verify unsubscribe, confirmation and test-copy links, never used to sign.
    old_secret_keys: list[SecretStr] = []
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
    # The proxies whose X-Forwarded-For (and -Proto) `serve` believes: addresses or networks.
    # None by default: a header from any other peer is the client's own word, and a peer
    # trusted by accident lets every client pick the address its limit and consent record
    # are kept under. Behind a proxy without it, readers share the proxy's address.
    forwarded_allow_ips: list[str] = []
    # A Markdown file in the issue format, sent once to each reader who confirms.
    welcome: str | None = None
    # Schedules: the zone `--at` is read in (default: the machine's), and how late a
    # scheduled campaign may still start after its time (the server was down) before it
    # is marked `missed` instead of being sent late in silence.
    timezone: str | None = None
    schedule_grace: int = Field(3600, ge=0)  # seconds
    # A sender on a shared campaign silent this long is dead; its rows in flight `unknown`.
    sender_lease_seconds: float = Field(10.0, ge=3, le=600)
    # Imports: what a zip (an export of another tool) may hold before it is refused
    # unread, so a zip bomb costs milliseconds. Far above any real export.
    import_zip_max_megabytes: int = Field(2000, ge=1)  # decompressed, all its CSVs
    import_zip_max_ratio: int = Field(100, ge=2)  # decompressed / compressed, per file
    import_zip_max_files: int = Field(1000, ge=1)
    # A crashed campaign (issue 17): rows left `unknown` wait this long for SES's events
    # (which name the row in a message tag) before `send --retry-unknown` resends them.
    unknown_settle_seconds: float = Field(300.0, ge=0, le=7 * 24 * 3600)
    # A campaign that hurts the account pauses: SES reviews an account at 5% (hard) bounces
    # or 0.1% complaints; these are half of that, judged once this many messages went out.
    pause_bounce_rate: float = Field(0.025, gt=0, le=1)
    pause_complaint_rate: float = Field(0.0005, gt=0, le=1)
    pause_min_sent: int = Field(500, ge=1)
    # The brand: logo, colours, font, description (pipeline/settings/theme.py).
    theme: Theme = Theme()

    @field_validator(*_ONE_LINE, mode="before")
    @classmethod
    def _one_line(cls, value: Any) -> Any:
        """Checked before anything else: a line break here would stand in a mail header."""
        if isinstance(value, str) and (problem := control_problem(value)):
            raise ValueError(f"{problem}; it must be one line without control characters")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips(cls, value: list[str]) -> list[str]:
        networks = []
        for item in value:
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(
                    f"{item[:80]!r} is not an IP address or network; give the addresses of "
                    'your proxies, like ["127.0.0.1", "10.0.0.0/8"]'
                ) from None
        return networks

    @field_validator("postal_address", mode="before")
    @classmethod
    def _postal_address(cls, value: Any) -> Any:
        # Line breaks are fine in the footer; other control characters are not text.
        if isinstance(value, str) and (problem := control_problem(re.sub(r"\r?\n", " ", value))):
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

    @field_validator("mail_from_domain")
    @classmethod
    def _mail_from_domain(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        value = value.strip().rstrip(".").lower()
        if not _DOMAIN.fullmatch(value):
            raise ValueError("must be a domain name, like 'bounce.example.com'")
        return value

    @field_validator("events_queue_url")
    @classmethod
    def _events_queue_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.fullmatch(r"https?://[^\s/]+/[^\s]+", value):
            raise ValueError(
                "must be an SQS queue URL, like "
                "'https://sqs.us-east-1.amazonaws.com/123456789012/newsletter-events'"
            )
        return value

    @field_validator("dns_servers")
    @classmethod
    def _dns_servers(cls, value: list[str]) -> list[str]:
        for item in value:
            if dns_server(item) is None:
                raise ValueError(
                    f"{item[:80]!r} is not an IP address with an optional :port; "
                    'give resolvers like ["1.1.1.1", "127.0.0.1:5353"]'
                )
        return [item.strip() for item in value]

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
        if zones.find(value) is None:
            raise ValueError(
                "must be a time zone name from the tz database, like 'Asia/Seoul' or 'UTC'"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (use `openssl rand -hex 32`)")
        return value

    @field_validator("old_secret_keys")
    @classmethod
    def _old_secret_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for position, key in enumerate(value, 1):
            if len(key.get_secret_value()) < 16:
                # Never the key itself in the message: it may be a real one, cut short.
                raise ValueError(
                    f"key {position} of {len(value)} is shorter than 16 characters; "
                    "give the old keys exactly as secret_key held them"
                )
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

    @property
    def mail_from(self) -> str:
        """The custom MAIL FROM domain: the setting, else `bounce.<sender domain>`."""
        return self.mail_from_domain or f"bounce.{self.sender_domain.lower()}"

    def require_secret_key(self) -> SecretKey:
        """The key that signs links, with the old keys that still verify them."""
        key = self.signing_key()
        if key is None:
            raise ConfigError(
                "secret_key is not set; it signs every unsubscribe link",
                hint="set NEWSLETTER_SECRET_KEY in the environment or in .env "
                "(for example: echo NEWSLETTER_SECRET_KEY=$(openssl rand -hex 32) >> .env)",
            )
        return key

    def signing_key(self) -> SecretKey | None:
        """As `require_secret_key`, or None where links are optional (`subscribers show`)."""
        if self.secret_key is None:
            return None
        current = self.secret_key.get_secret_value().encode()
        old = tuple(
            key.get_secret_value().encode()
            for key in self.old_secret_keys
            if key.get_secret_value().encode() != current
        )
        return SecretKey(current, old)
