"""What an operator copies from deploy/, checked as it is shipped: the systemd units by
`systemd-analyze verify` and against the commands they run, the environment file by the
settings, the Caddyfile by `caddy validate`, the compose file's services and health
checks. (nginx runs for real in tests/web/test_behind_nginx.py; the image is built in
test_container.py.)"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.settings import Settings
from tests.support.cli import ROOT, ok, run_cli

pytestmark = pytest.mark.single_backend

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SHIPPED_BINARY = "/opt/newsletter/venv/bin/newsletter"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events"


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read(path)
    return parser


def _command(unit: configparser.ConfigParser) -> list[str]:
    words = shlex.split(unit["Service"]["ExecStart"].replace("${EVENTS_QUEUE_URL}", QUEUE))
    assert words[0] == SHIPPED_BINARY
    return words[1:]


def test_there_is_a_unit_for_serve_worker_and_events_poll() -> None:
    commands = {tuple(_command(_unit(path))[:2]) for path in UNITS}
    assert commands == {("serve", "--host"), ("worker",), ("events", "poll")}


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_a_unit_runs_confined_as_its_own_user_and_restarts(path: Path) -> None:
    service = _unit(path)["Service"]
    expected = {
        "User": "newsletter",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "true",
        "PrivateTmp": "true",
        "StateDirectory": "newsletter",
        "Restart": "on-failure",
        "EnvironmentFile": "/etc/newsletter/newsletter.env",
    }
    assert {key: service.get(key) for key in expected} == expected
    # The command line is one the program takes (an option renamed would fail here).
    ok(run_cli(*_command(_unit(path)), "--help"))


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package has it)")
    # Where the units expect the program, the one under test (verify checks it exists).
    installed = Path(sys.executable).parent / "newsletter"
    assert installed.exists(), installed
    for path in UNITS:
        text = path.read_text(encoding="utf-8").replace(SHIPPED_BINARY, str(installed))
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    checked = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0 and not checked.stdout + checked.stderr, checked.stderr


def test_the_environment_file_holds_settings_only_and_they_load(project: Path) -> None:
    """Filled in as the comments say, the example is a working .env for the settings."""
    text = (DEPLOY / "newsletter.env.example").read_text(encoding="utf-8")
    names = re.findall(r"^#? ?NEWSLETTER_([A-Z_]+)=", text, flags=re.MULTILINE)
    assert names and {name.lower() for name in names} <= set(Settings.model_fields)
    filled = text.replace("NEWSLETTER_SECRET_KEY=\n", f"NEWSLETTER_SECRET_KEY={'k' * 64}\n")
    (project / ".env").write_text(filled, encoding="utf-8")
    shown = ok(run_cli("config")).stdout
    assert "https://weekly.example.com" in shown and "127.0.0.1/32" in shown
    # With ProtectSystem=strict only the state directory is writable: the database is there.
    (url,) = re.findall(r"^NEWSLETTER_DATABASE_URL=(sqlite\S+)$", text, flags=re.MULTILINE)
    state = _unit(UNITS[0])["Service"]["StateDirectory"]
    assert url.startswith(f"sqlite:////var/lib/{state}/")


def test_caddy_accepts_the_caddyfile_without_a_warning() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (Debian's caddy package; `make test` installs it)")
    checked = subprocess.run(
        [caddy, "validate", "--config", DEPLOY / "Caddyfile", "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert '"level":"warn"' not in checked.stderr + checked.stdout, checked.stderr


def test_compose_runs_postgres_serve_and_worker_with_health_checks() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "serve", "worker"}
    assert all("healthcheck" in service for service in services.values())
    # Published on the host's loopback only; the proxy is in front.
    assert services["serve"]["ports"] == ["127.0.0.1:8080:8080"]
    assert "ports" not in services["worker"] and "ports" not in services["db"]
    for name in ("serve", "worker"):
        assert services[name]["depends_on"]["db"] == {"condition": "service_healthy"}
        assert services[name]["env_file"] == "newsletter.env"
        ok(run_cli(*services[name]["command"][1:], "--help"))
    assert services["serve"]["build"]["dockerfile"] == "deploy/Containerfile"
