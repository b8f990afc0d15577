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
    env = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_ENDPOINT_URL_SESV2": endpoint,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{OUT / 'demo.db'}",
        # A throwaway key for this demo database only; real use sets its own in .env.
        "NEWSLETTER_SECRET_KEY": secrets.token_hex(32),
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
    finally:
        server.stop()
    print(
        f"\nDone. Output in {OUT}/: email.html (open it in a browser), email.txt, web.html,\n"
        f"message.eml (open it in a mail client), demo.db (the send log).\n"
        f"Live preview: .venv/bin/newsletter preview {SAMPLE_ISSUE}"
    )


if __name__ == "__main__":
    main()
