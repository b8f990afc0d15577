"""Settings that reach a mail header are one line, every settings file is read cleanly or
named in a clean error, and what `newsletter config` shows is what is in force, literally."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.settings import load_settings
from tests.support.cli import SAMPLE_ISSUE, Result, run_cli
from tests.support.properties import examples

# Each setting that ends up in a header or an SES parameter, with a good value for it.
HEADER_SETTINGS = {
    "name": "Article Weekly",
    "from_address": "Article Weekly <weekly@example.com>",
    "reply_to": "editors@example.com",
    "public_url": "https://weekly.example.com",
    "list_id": "weekly.example.com",
    "unsubscribe_mailto": "unsubscribe@example.com",
    "configuration_set": "newsletter-events",
    "lang": "en",
}
CONTROLS = ["\n", "\r", "\r\n", "\x00", "\x1b", "\x7f", "\x85", "\t", "\x0b"]


def clean(result: Result, code: int = 2) -> Result:
    """A clean refusal: the expected exit (never 70), an `error:` line, no traceback."""
    assert result.code == code, result.output
    assert "error:" in result.stderr, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result


def config_json(*args: object) -> dict[str, object]:
    result = run_cli(*args, "config", "--format", "json")
    assert result.code == 0, result.output
    return {row["key"]: row["value"] for row in json.loads(result.stdout)}


# --- one line, checked where the value enters -------------------------------------------------


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string (\n, \u001b, ...)


def _dotenv_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


@hypothesis_settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=st.sampled_from(sorted(HEADER_SETTINGS)),
    control=st.sampled_from(CONTROLS),
    where=st.sampled_from(["toml", "env", "dotenv"]),
    position=st.floats(min_value=0, max_value=1),
)
@example(key="public_url", control="\n", where="env", position=1.0)  # the issue's example
@example(key="name", control="\r\n", where="toml", position=0.5)
def test_a_control_character_in_a_header_setting_is_an_error_naming_key_and_source(
    project: Path, key: str, control: str, where: str, position: float
) -> None:
    good = HEADER_SETTINGS[key]
    cut = round(position * len(good))
    value = good[:cut] + control + "Bcc: victim@example.net" * (cut < len(good)) + good[cut:]
    toml = project / "newsletter.toml"
    env_name = f"NEWSLETTER_{key.upper()}"
    os.environ.pop(env_name, None)
    toml.write_text("", encoding="utf-8")
    (project / ".env").unlink(missing_ok=True)
    if where == "toml":
        toml.write_text(f"{key} = {_toml_string(value)}\n", encoding="utf-8")
        source = "newsletter.toml"
    elif where == "dotenv":
        if "\x00" in control or "\x0b" in control or "\x85" in control:
            return  # a .env line cannot carry these (python-dotenv has no escape for them)
        (project / ".env").write_text(f"{env_name}={_dotenv_string(value)}\n", encoding="utf-8")
        source = f".env ({env_name})"
    else:
        if "\x00" in control:
            return  # no environment variable can hold NUL
        os.environ[env_name] = value
        source = f"environment variable {env_name}"
    try:
        with pytest.raises(ConfigError) as caught:
            load_settings()
    finally:
        os.environ.pop(env_name, None)
    assert f"{source}: {key}: " in caught.value.message
    if not (key == "configuration_set" and control == "\t"):
        assert "it must be one line without control characters" in caught.value.message


def test_every_bad_header_setting_is_reported_at_once_through_the_cli(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "https://weekly.example.com\n")
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_MAILTO", "u@example.com>, <https://evil.example")
    (project / ".env").write_text('NEWSLETTER_NAME="Weekly\\r\\nBcc: x@evil.example"\n')
    (project / "newsletter.toml").write_text(
        'from_address = "a@example.com, b@evil.example"\nconfiguration_set = "a b"\n'
        'list_id = "weekly.example.com\\nBcc: y@evil.example"\n',
        encoding="utf-8",
    )
    result = clean(run_cli("check", SAMPLE_ISSUE))
    for line in (
        "environment variable NEWSLETTER_PUBLIC_URL: public_url: contains a line break (LF)",
        "environment variable NEWSLETTER_UNSUBSCRIBE_MAILTO: unsubscribe_mailto: must be a bare",
        ".env (NEWSLETTER_NAME): name: contains a carriage return (CR) at character 7",
        "newsletter.toml: from_address: must be one email address",
        "newsletter.toml: configuration_set: must be an SES configuration set name",
        "newsletter.toml: list_id: contains a line break (LF) at character 19",
    ):
        assert line in result.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("public_url", "https://weekly.example.com/>, <mailto:evil@example.net"),
        ("public_url", "https://weekly.example.com/?a=b"),
        ("public_url", 'https://weekly.example.com/a"b'),
        ("unsubscribe_mailto", "u@example.com?subject=x"),
        ("unsubscribe_mailto", "Unsub <u@example.com>"),
        ("from_address", "weekly@example.com, other@example.net"),
        ("from_address", "Weekly <weekly@example.com> trailing"),
        ("reply_to", "a@example.com, b@example.net"),
        ("configuration_set", "set-with-a-very-long-name-" + "x" * 60),
        ("lang", "en\n"),
    ],
)
def test_a_value_that_would_change_a_header_s_meaning_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(f"NEWSLETTER_{key.upper()}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"environment variable NEWSLETTER_{key.upper()}: {key}: " in caught.value.message


def test_ordinary_values_with_specials_and_korean_stay_accepted(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_NAME", '아티클 위클리, "주간"')
    monkeypatch.setenv("NEWSLETTER_FROM_ADDRESS", '"O\'Brien, Pat" <weekly@example.com>')
    monkeypatch.setenv("NEWSLETTER_PUBLIC_URL", "https://example.com/weekly/")
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_MAILTO", "mailto:unsubscribe+weekly@example.com")
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "123 Example Street\nSeoul 04524")
    settings = load_settings()
    assert settings.public_url == "https://example.com/weekly"
    assert settings.unsubscribe_mailto == "unsubscribe+weekly@example.com"
    assert settings.sender_address == "weekly@example.com"


def test_a_control_character_in_the_postal_address_is_refused_but_a_line_break_is_not(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_POSTAL_ADDRESS", "123 Example Street\x1b[2J, Seoul")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "postal_address: contains the control character U+001B" in caught.value.message


# --- the files settings come from ------------------------------------------------------------


def test_a_dotenv_that_is_a_folder_is_a_clean_error(project: Path) -> None:
    (project / ".env").mkdir()
    result = clean(run_cli("config"))
    assert ".env: the .env file is a folder, not a file" in result.stderr


def test_a_dotenv_that_cannot_be_read_is_a_clean_error(project: Path) -> None:
    # Tests run as root, whom chmod 000 does not stop: a symlink loop cannot be read by anyone.
    (project / ".env").symlink_to(".env")
    result = clean(run_cli("config"))
    assert ".env: cannot read the .env file: Too many levels of symbolic links" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_a_dotenv_without_read_permission_is_a_clean_error(project: Path) -> None:
    env = project / ".env"
    env.write_text("NEWSLETTER_LANG=en\n", encoding="utf-8")
    env.chmod(0)
    result = clean(run_cli("config"))
    assert ".env: cannot read the .env file: Permission denied" in result.stderr


def test_a_dotenv_that_is_a_fifo_is_refused_without_hanging(project: Path) -> None:
    os.mkfifo(project / ".env")
    result = clean(run_cli("config"))
    assert ".env: the .env file is not a regular file" in result.stderr


def test_a_dotenv_that_is_not_utf8_names_its_line(project: Path) -> None:
    (project / ".env").write_bytes(b"NEWSLETTER_LANG=en\nNEWSLETTER_NAME=\xc7\xd1\xb1\xdb\n")
    result = clean(run_cli("config"))
    assert ".env:2: the .env file is not UTF-8 (byte 0xc7)" in result.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_settings_file_that_is_missing_is_a_clean_error_saying_who_named_it(
    project: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "option":
        result = clean(run_cli("--config", "nope.toml", "config"))
        assert "nope.toml: no such configuration file (given by --config)" in result.stderr
    else:
        monkeypatch.setenv("NEWSLETTER_CONFIG", "nope.toml")
        result = clean(run_cli("config"))
        assert "nope.toml: no such configuration file (given by NEWSLETTER_CONFIG)" in (
            result.stderr
        )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "conf: the settings file is a folder, not a file"),
        (b'name = "W\n', "conf: not valid TOML"),
        (b"name = [1, \n", "conf: not valid TOML"),
        (b'name = "\xff"\n', "conf:1: the settings file is not UTF-8 (byte 0xff)"),
    ],
    ids=["folder", "unterminated-string", "unterminated-array", "not-utf8"],
)
def test_a_settings_file_that_cannot_be_used_is_a_clean_error(
    project: Path, content: bytes | None, expected: str
) -> None:
    path = project / "conf"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result = clean(run_cli("--config", path.name, "config"))
    assert expected in result.stderr


def test_config_option_and_environment_name_the_file_in_force(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "one.toml").write_text('name = "One Weekly"\nlang = "en"\n', encoding="utf-8")
    (project / "two.toml").write_text('name = "Two Weekly"\n', encoding="utf-8")
    assert config_json()["name"] == "Article Weekly"  # ./newsletter.toml
    assert config_json("--config", "one.toml")["name"] == "One Weekly"
    monkeypatch.setenv("NEWSLETTER_CONFIG", "two.toml")
    assert config_json()["name"] == "Two Weekly"
    values = config_json("--config", "one.toml")  # the option wins over the environment
    assert values["name"] == "One Weekly" and values["lang"] == "en"
    # ... and a bad value in it is named with that file's path.
    (project / "two.toml").write_text('lang = "Korean"\n', encoding="utf-8")
    result = clean(run_cli("config"))
    assert "two.toml: lang: must be a language tag" in result.stderr


# --- the database the settings point at ------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"


@pytest.mark.parametrize(
    "content", [b"not a database\n", PNG, b"SQLite format 3\x00" + b"\xff" * 200], ids=str
)
def test_a_database_url_at_a_file_that_is_no_database_is_a_clean_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    path = project / "subscribers" / "data.db"
    path.write_bytes(content)
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{path}")
    result = clean(run_cli("lists"), code=1)
    assert f"cannot open the database sqlite:///{path}" in result.stderr
    assert "database_url" in result.stderr
    assert path.read_bytes() == content  # untouched


def test_a_database_url_at_a_folder_is_a_clean_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "db").mkdir()
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{project / 'db'}")
    result = clean(run_cli("lists"), code=1)
    assert "the database is a folder, not a file" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+nosuchdriver://newsletter:s3cret-pw@db.example.com/newsletter",
        "postgresql://newsletter:s3cret-pw@db.example.com:notaport/newsletter",
        "nosuchdb://newsletter:s3cret-pw@db.example.com/newsletter",
    ],
)
def test_a_database_password_is_never_printed(
    project: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", url)
    result = run_cli("lists")
    assert result.code in (1, 2), result.output
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
    assert "newsletter:***@" in result.stderr
    for fmt in ("table", "json"):
        shown = run_cli("config", "--format", fmt)
        assert shown.code == 0, shown.output
        assert "s3cret-pw" not in shown.output and "newsletter:***@db.example.com" in shown.stdout


# --- what `newsletter config` prints -----------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$", r"^[bold]sns[/bold]\.example\.com$", r"^x[/]$"],
)
def test_config_table_prints_values_literally(
    project: Path, monkeypatch: pytest.MonkeyPatch, pattern: str
) -> None:
    monkeypatch.setenv("NEWSLETTER_SNS_CERT_HOST_PATTERN", pattern)
    monkeypatch.setenv("NEWSLETTER_NAME", "[red]Weekly[/red]")
    result = run_cli("config")
    assert result.code == 0, result.output
    assert pattern in result.stdout
    assert "[red]Weekly[/red]" in result.stdout


def test_an_error_message_quoting_a_value_prints_it_literally(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_SNS_CERT_HOST_PATTERN", "[a-z0-9-")
    result = clean(run_cli("config"))
    assert r"like '^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$'" in result.stderr


@pytest.mark.parametrize("value", ["/etc/\x1b[2Jca.pem", "/etc/ca\n.pem", "/etc/\x9bca.pem"])
def test_config_table_shows_control_characters_as_escapes(
    project: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NEWSLETTER_SNS_CA_BUNDLE", value)
    result = run_cli("config")
    assert result.code == 0, result.output
    assert not any(c in result.stdout for c in "\x1b\x9b") and "/etc/ca\n" not in result.stdout
    assert value.encode("unicode_escape").decode("ascii") in result.stdout
    assert config_json()["sns_ca_bundle"] == value  # scripts get the value exact


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("mail_from_domain", "bounce example.com", "must be a domain name"),
        ("mail_from_domain", "bounce.example.com>", "must be a domain name"),
        ("dns_servers", '["resolver.example"]', "is not an IP address"),
        ("dns_servers", '["127.0.0.1:70000"]', "is not an IP address"),
        ("events_queue_url", "my-queue", "must be an SQS queue URL"),
    ],
)
def test_the_aws_setup_settings_are_checked_where_they_enter(
    project: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str, words: str
) -> None:
    monkeypatch.setenv(f"NEWSLETTER_{key.upper()}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert f"environment variable NEWSLETTER_{key.upper()}: {key}: " in caught.value.message
    assert words in caught.value.message


def test_the_mail_from_domain_defaults_to_bounce_under_the_sender_domain(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().mail_from == "bounce.example.com"
    monkeypatch.setenv("NEWSLETTER_MAIL_FROM_DOMAIN", "Mail.Example.com.")
    monkeypatch.setenv("NEWSLETTER_DNS_SERVERS", '["::1", "[::1]:5353", "127.0.0.1:5353"]')
    settings = load_settings()
    assert settings.mail_from == "mail.example.com"
    assert settings.dns_servers == ["::1", "[::1]:5353", "127.0.0.1:5353"]


def test_settings_read_again_follow_every_change_to_their_sources(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settings are read once per process for the same sources: a change to the file, the
    .env file or the environment gives new settings, and no caller shares another's."""
    first = load_settings()
    assert load_settings() == first and load_settings() is not first
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("Article Weekly", "Other Weekly"))
    assert load_settings().name.startswith("Other Weekly")
    (project / ".env").write_text("NEWSLETTER_LANG=en\n", encoding="utf-8")
    assert load_settings().lang == "en"
    monkeypatch.setenv("NEWSLETTER_LANG", "ko")
    assert load_settings().lang == "ko"
    mine = load_settings()
    mine.sns_topic_arns.append("arn:aws:sns:us-east-1:1:mine")
    assert load_settings().sns_topic_arns == []
