"""`serve` behind Debian's nginx, run from the shipped site file (deploy/nginx/newsletter.conf)
with only its ports, certificate paths and upstream address substituted: a signup, a
one-click unsubscribe and a signed SNS notification pass through it; the signup limit
counts each reader behind the proxy on its own; and neither a client through nginx nor
one talking to `serve` directly can choose the address it is counted under.

Every process listens on loopback only. nginx reaches `serve` from 127.0.0.2
(`proxy_bind`, added by the test), which is the one address `serve` trusts
(`forwarded_allow_ips`); readers are clients bound to 127.0.0.3 and 127.0.0.4, a stranger
going around the proxy 127.0.0.5. SQLite only: the proxy does not depend on the backend."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.audience.lists import create_list
from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import add
from pipeline.audience.tokens import make_token
from pipeline.db import Store
from tests.support import db
from tests.support.cli import ROOT, TEST_SECRET
from tests.support.sns_fixtures import (
    SnsTestServer,
    bounce_permanent,
    new_signing_key,
    notification,
    self_signed_certificate,
    sign,
    tls_files,
    to_body,
)
from tests.web.test_serve_process import PATIENCE, free_port, serve_environment, wait_healthy

pytestmark = pytest.mark.single_backend

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "newsletter.conf"
PROXY, FIRST, SECOND, STRANGER = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
READER, BOUNCER = "reader@example.org", "bouncer@example.org"


def substitute(site: str, *, tls: int, plain: int, upstream: int, cert: Path, key: Path) -> str:
    """The shipped site with this machine's ports and files; each replacement must match,
    so a change to the file that the test no longer reads fails here, not silently."""
    replacements = [
        (r"\n\s*listen \[::\]:\d+[^\n]*", ""),  # IPv6: loopback only here
        (r"listen 80;", f"listen 127.0.0.1:{plain};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{tls} ssl http2;"),
        (r"ssl_certificate /etc/letsencrypt/\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key /etc/letsencrypt/\S+;", f"ssl_certificate_key {key};"),
        (
            r"proxy_pass http://127\.0\.0\.1:8080;",
            f"proxy_pass http://127.0.0.1:{upstream};\n        proxy_bind {PROXY};",
        ),
    ]
    for pattern, replacement in replacements:
        site, count = re.subn(pattern, replacement, site)
        assert count, f"{SITE.name} no longer has {pattern!r}"
    return site


def main_conf(prefix: Path, site: Path) -> str:
    """nginx.conf for a throwaway nginx: its own pid, logs and temporary folders."""
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    temp += f" uwsgi_temp_path {prefix / 'uwsgi'}; scgi_temp_path {prefix / 'scgi'};"
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the tmp folder
    return (
        f"{user}\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n  access_log {prefix / 'access.log'};\n  {temp}\n  include {site};\n}}\n"
    )


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        assert process.poll() is None, log.read_text() if log.exists() else "nginx exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert time.monotonic() < deadline, "nginx did not start listening"
        time.sleep(0.05)


@pytest.fixture
def nginx_prefix(tmp_path: Path) -> Path:
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: `make test` installs Debian's package (SYSTEM_PACKAGES)")
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    return prefix


def _serve(tmp_path: Path, url: str, sns: SnsTestServer, port: int) -> subprocess.Popen[bytes]:
    env = serve_environment(
        url,
        sns,
        public_url="https://weekly.example.com",
        forwarded_allow_ips=json.dumps([PROXY]),
        signup_ip_limit="2",
    )
    with (tmp_path / "serve.log").open("wb") as out:
        command = [sys.executable, "-m", "pipeline", "serve", "--port", str(port)]
        return subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=out)


@pytest.fixture
def stack(
    tmp_path: Path, database_url: str, nginx_prefix: Path
) -> Iterator[tuple[dict[str, httpx.Client], str, SnsTestServer, object]]:
    """serve behind nginx; yields (clients by source address, the reader's token, SNS, key)."""
    with Store.open(database_url) as store:
        create_list(store, "weekly", public=True)
        add(store, READER, "weekly")
        add(store, BOUNCER, "weekly")
        with store.begin(AudienceTx, write=False) as tx:
            reader, weekly = tx.subscriber_by_key(READER), tx.list_by_name("weekly")
            assert reader is not None and weekly is not None
            token = make_token(TEST_SECRET.encode(), reader.id, weekly.id)
    key = new_signing_key()
    ca, cert, cert_key = tls_files(nginx_prefix)
    upstream, tls, plain = free_port(), free_port(), free_port()
    site = nginx_prefix / "site.conf"
    site.write_text(
        substitute(
            SITE.read_text(), tls=tls, plain=plain, upstream=upstream, cert=cert, key=cert_key
        )
    )
    conf = nginx_prefix / "nginx.conf"
    conf.write_text(main_conf(nginx_prefix, site))
    checked = subprocess.run(
        [NGINX, "-t", "-q", "-c", conf, "-p", nginx_prefix], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    with SnsTestServer(certificate=self_signed_certificate(key)) as sns:
        serve = _serve(tmp_path, database_url, sns, upstream)
        nginx = subprocess.Popen(
            [NGINX, "-c", conf, "-p", nginx_prefix, "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        context = ssl.create_default_context(cafile=str(ca))
        clients = {
            source: httpx.Client(
                base_url=f"https://127.0.0.1:{tls}",
                transport=httpx.HTTPTransport(local_address=source, verify=context),
                timeout=10,
            )
            for source in (FIRST, SECOND)
        }
        clients[STRANGER] = httpx.Client(
            base_url=f"http://127.0.0.1:{upstream}",
            transport=httpx.HTTPTransport(local_address=STRANGER),
            timeout=10,
        )
        try:
            wait_healthy(clients[STRANGER], serve, tmp_path / "serve.log")
            wait_listening(tls, nginx, nginx_prefix / "error.log")
            yield clients, token, sns, key
        finally:
            for client in clients.values():
                client.close()
            nginx.terminate()  # nginx's fast stop; its master takes the workers with it
            serve.kill()  # stopping serve is test_serve_process.py's; no need to wait here
            for process in (nginx, serve):
                process.wait(timeout=PATIENCE)


def _signup(client: httpx.Client, email: str, claimed: str | None = None) -> int:
    headers = {"X-Forwarded-For": claimed} if claimed else {}
    answer = client.post("/subscribe", data={"email": email, "list": "weekly"}, headers=headers)
    return answer.status_code


def test_readers_pass_through_nginx_each_counted_as_themselves(stack, database_url: str) -> None:
    clients, token, sns, key = stack
    first, second, stranger = clients[FIRST], clients[SECOND], clients[STRANGER]
    assert first.get("/healthz").text == "ok\n"
    assert first.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"

    # The limit (2 here) is each reader's: the first reader's third signup is refused, the
    # second reader is not held back by it, and a claimed address changes nothing.
    assert [_signup(first, f"a{n}@example.org") for n in range(3)] == [200, 200, 429]
    assert _signup(second, "b0@example.org", claimed=FIRST) == 200
    assert _signup(second, "b1@example.org", claimed="198.51.100.7") == 200
    assert _signup(second, "b2@example.org") == 429
    # Around the proxy, a forged header is the stranger's own word: not believed.
    assert _signup(stranger, "c0@example.org", claimed="198.51.100.9") == 200
    counted = db.rows("SELECT ip, count(*) FROM signup_requests GROUP BY ip", url=database_url)
    assert dict((ip, n) for ip, n in counted) == {FIRST: 2, SECOND: 2, STRANGER: 1}

    # One-click unsubscribe (RFC 8058) through the proxy.
    done = first.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert (done.status_code, done.text) == (200, "unsubscribed\n")
    status = db.one(
        "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
        "WHERE s.email_key = ?",
        READER,
        url=database_url,
    )
    assert status == "unsubscribed"

    # A signed SES notification from SNS, whole through the proxy's body handling.
    envelope = notification(bounce_permanent(recipient=BOUNCER), cert_url=sns.cert_url)
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    unsigned = second.post("/ses/events", content=to_body(envelope), headers=headers)
    assert unsigned.status_code == 403
    signed = second.post("/ses/events", content=to_body(sign(envelope, key)), headers=headers)
    assert signed.status_code == 200, signed.text
    bounced = db.one(
        "SELECT status FROM subscribers WHERE email_key = ?", BOUNCER, url=database_url
    )
    assert bounced == "bounced"

    # What serve would refuse anyway, nginx refuses first: a body over serve's 1 MiB.
    large = second.post("/subscribe", content=b"x" * (1024 * 1024 + 1))
    assert large.status_code == 413
