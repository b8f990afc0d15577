"""`newsletter serve`: the web app behind `public_url`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pipeline.audience.store import Store
from pipeline.cli import kit
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
    from pipeline.web.app import create_app

    if workers < 1:
        raise InputError("--workers must be at least 1")
    settings = kit.settings(ctx)
    server.ensure_port_free(host, port)
    if workers > 1:
        _serve_workers(ctx, settings.database_url, host, port, issues, workers)
        return
    store = Store.open(settings.database_url)
    app = create_app(settings, store, issues=issues)
    if not settings.sns_topic_arns:
        kit.say(
            "[yellow]note:[/] sns_topic_arns is empty: /ses/events rejects every message "
            "until you set it"
        )
    kit.say(f"serving on http://{host}:{port}/ for {settings.public_url} (Ctrl-C to stop)")
    try:
        server.run(app, host=host, port=port, proxy_headers=True)
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
    server.run_workers("pipeline.web.workers:create", workers, host=host, port=port,
                       proxy_headers=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
