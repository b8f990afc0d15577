"""`newsletter archive --out DIR`: the archive of sent issues as a static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import kit
from pipeline.db import Store


def archive(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for the site (new, or one an earlier archive wrote).",
        ),
    ],
    issues: Annotated[
        Path, typer.Option(help="Folder of issue files (for issues sent before web versions).")
    ] = Path("issues"),
) -> None:
    """Write the archive of sent issues as a static site: index.html, issues/N/index.html
    and feed.xml, the same pages `serve` shows at /issues, /issues/N and /feed.xml.

    Host the folder at `public_url`: the emails' "view in browser" links
    (<public_url>/issues/N) find issues/N/index.html on any static host, and the pages
    link to each other by file name, so they also work opened straight from the disk.
    """
    from pipeline.delivery.archive import Archive, write_site

    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as store:
        written = write_site(Archive(store, settings, issues), out)
    for path in written.files:
        kit.say(f"  {path.as_posix()}")
    verb = "replaced the archive in" if written.replaced else "wrote the archive to"
    kit.say(
        f"{verb} {written.folder}: {written.issues} issue(s), {len(written.files)} files; "
        f"the feed links to {settings.public_url}/feed.xml"
    )


def register(app: typer.Typer) -> None:
    app.command("archive")(archive)
