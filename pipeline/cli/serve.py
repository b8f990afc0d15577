"""`newsletter serve`: the web app behind `public_url`, with the background loops (the
scheduler, see background.py); `newsletter worker`: the background loops alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import background, kit
from pipeline.db import Store
from pipeline.errors import InputError


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    issues: Annotated[Path, typer.Option(help="Folder of issue files.")] = Path("issues"),
    workers: Annotated[
        int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")
    ] = 1,
) -> None:
    """Run the web app: one-click unsubscribe, unsubscribe pages, SES events, web versions.

    Put it behind your HTTPS proxy at `public_url`.
    """
    from pipeline.web import server
    from pipeline.web.app import SERVE_CONNECTIONS, create_app

    if workers < 1:
        raise InputError("--workers must be at least 1")
    settings = kit.settings(ctx)
    server.ensure_port_free(host, port)
    if not settings.forwarded_allow_ips:
        kit.say(
            "[yellow]note:[/] forwarded_allow_ips is empty: X-Forwarded-For is ignored, so "
            "behind a proxy every reader counts as the proxy's address for the signup limit; "
            "set it to your proxy's address"
        )
    if workers > 1:
        _serve_workers(ctx, settings.database_url, host, port, issues, workers)
        return
    store = Store.open(settings.database_url, connections=SERVE_CONNECTIONS)
    app = create_app(settings, store, issues=issues)
    if not settings.sns_topic_arns:
        kit.say(
            "[yellow]note:[/] sns_topic_arns is empty: /ses/events rejects every message "
            "until you set it"
        )
    kit.say(f"serving on http://{host}:{port}/ for {settings.public_url} (Ctrl-C to stop)")
    kit.say("the scheduler runs beside it: scheduled campaigns start at their time")
    try:
        with background.running(background.loops(settings)):
            server.run(app, host=host, port=port, forwarded_allow_ips=settings.forwarded_allow_ips)
    finally:
        store.close()


def _serve_workers(
    ctx: typer.Context, database_url: str, host: str, port: int, issues: Path, workers: int
) -> None:
    from pipeline.web import server
    from pipeline.web.workers import ISSUES_ENV

    Store.open(database_url).close()  # migrate once, here, and fail here if it cannot open
    if database_url.startswith("sqlite"):
        kit.say(
            "[yellow]note:[/] several workers on SQLite share one writer at a time; "
            "PostgreSQL is the store for more than one"
        )
    # The workers read the same settings; what is not a setting goes by the environment.
    config = kit.state(ctx).config
    if config is not None:
        os.environ["NEWSLETTER_CONFIG"] = str(config.resolve())
    os.environ[ISSUES_ENV] = str(issues.resolve())
    kit.say(f"serving on http://{host}:{port}/ with {workers} workers (Ctrl-C to stop)")
    # The background loops run once, here in the supervisor, not in every worker.
    with background.running(background.loops(kit.settings(ctx))):
        server.run_workers(
            "pipeline.web.workers:create", workers, host=host, port=port,
            forwarded_allow_ips=kit.settings(ctx).forwarded_allow_ips,
        )  # fmt: skip


def worker(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Log every message of each due schedule; call no SES, leave the schedules "
            "to a real worker.",
        ),
    ] = False,
) -> None:
    """Run the background work without the web app: the scheduler, which starts each
    scheduled campaign at its time. Stops cleanly on Ctrl-C or SIGTERM (a campaign in
    flight is paused; `newsletter send` resumes it)."""
    settings = kit.settings(ctx)
    if not dry_run:
        settings.require_secret_key()
    Store.open(settings.database_url).close()  # migrate once, and fail here if it cannot open
    named = background.loops(settings, dry_run=dry_run)
    mode = "dry run: nothing is sent to SES" if dry_run else "sending through SES"
    kit.say(f"worker running {', '.join(n for n, _ in named)} ({mode}); Ctrl-C to stop")
    with background.running(named) as stop:
        while not stop.wait(1.0):
            pass
    kit.say("worker stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
