"""`make demo`: the whole weekly job on embedded defaults, with no AWS account.

Starts a local SES emulator (moto's server, on 127.0.0.1), imports the sample list into a
fresh demo database, checks, renders and sends the sample issue to it, prints the send
log, and stops the emulator. Every step is the real `newsletter` command.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

SAMPLE_ISSUE = Path("issues/2024-06-22-article-weekly-25.md")
SAMPLE_LIST = Path("subscribers/sample.csv")
OUT = Path("build/demo")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(env: dict[str, str], *args: str) -> None:
    print(f"\n$ newsletter {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "pipeline", *args], env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo step failed: newsletter {' '.join(args)}")


def _simulated_events(env: dict[str, str]) -> Path:
    """SES events as SNS would deliver them, for the messages the demo just sent."""
    import json

    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "log", str(SAMPLE_ISSUE), "-l", "sample", "-f", "jsonl"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    events = []
    for index, row in enumerate(rows):
        mail = {"messageId": row["message_id"], "destination": [row["email"]]}
        if index == len(rows) - 1:
            bounce = {
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "bouncedRecipients": [{"emailAddress": row["email"]}],
            }
            events.append({"eventType": "Bounce", "mail": mail, "bounce": bounce})
            continue
        events.append({"eventType": "Delivery", "mail": mail, "delivery": {}})
        if index < 2:
            events.append({"eventType": "Open", "mail": mail, "open": {}})
        if index == 0:
            link = "https://engineering.fb.com/2024/06/12/production-engineering/"
            events.append({"eventType": "Click", "mail": mail, "click": {"link": link}})
    path = OUT / "simulated-events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def main() -> None:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SystemExit("the demo needs moto's server: pip install 'moto[server]'") from None
    import logging

    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the emulator's request log
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    secret = secrets.token_hex(32)
    # Kept beside the demo database (build/ is git-ignored) so that its links verify later.
    (OUT / "secret-key").write_text(secret + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_ENDPOINT_URL_SESV2": endpoint,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{OUT / 'demo.db'}",
        # A throwaway key for this demo database only; real use sets its own in .env.
        "NEWSLETTER_SECRET_KEY": secret,
    }
    env.pop("AWS_PROFILE", None)
    try:
        # SES only sends from a verified identity; the emulator enforces that too.
        ses = boto3.client(
            "ses",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="demo",
            aws_secret_access_key="demo",
        )
        ses.verify_email_identity(EmailAddress="weekly@example.com")
        print(f"local SES emulator (moto) on {endpoint}; demo database {OUT / 'demo.db'}")
        _run(env, "lists", "create", "sample", "--exist-ok")
        _run(env, "subscribers", "import", str(SAMPLE_LIST), "--list", "sample")
        _run(env, "check", str(SAMPLE_ISSUE))
        _run(env, "render", str(SAMPLE_ISSUE), "--out", str(OUT))
        _run(env, "send", str(SAMPLE_ISSUE), "--list", "sample", "--yes")
        _run(env, "log")
        events = _simulated_events(env)
        print(
            f"\n(The local emulator publishes no SES events; {events} holds simulated ones "
            "for the sent messages: deliveries, two opens, a click, a soft bounce.)"
        )
        _run(env, "events", "ingest", str(events))
        _run(env, "report", str(SAMPLE_ISSUE))
        _run(env, "report", str(SAMPLE_ISSUE), "--html", str(OUT / "report.html"))
        _run(env, "archive", "--out", str(OUT / "archive"))
    finally:
        server.stop()
    print(
        f"\nDone. Output in {OUT}/: email.html (open it in a browser), email.txt, web.html,\n"
        f"message.eml (open it in a mail client), demo.db (the send log), report.html\n"
        f"(the campaign report) and archive/ (the public site: its home page, the sent\n"
        f"issues and their feed).\n"
        f"Live preview: .venv/bin/newsletter preview {SAMPLE_ISSUE}\n"
        f"The web app on the demo data (with the same two variables, `newsletter subscribers\n"
        f"show seoyeon.lee@example.com` gives a reader's unsubscribe link; use its path):\n"
        f"  NEWSLETTER_DATABASE_URL=sqlite:///{OUT}/demo.db "
        f"NEWSLETTER_SECRET_KEY=$(cat {OUT}/secret-key) .venv/bin/newsletter serve"
    )


if __name__ == "__main__":
    main()
