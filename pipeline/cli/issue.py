"""Commands for the author's path: check, render, preview."""

from __future__ import annotations

import dataclasses
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from pipeline.cli import kit
from pipeline.errors import IssueError, NewsletterError
from pipeline.files import write_atomic
from pipeline.issue.build import Build, build, sample_recipient
from pipeline.issue.message import personalise, to_mime
from pipeline.issue.problems import Problem, Severity, has_errors, sort_problems
from pipeline.issue.render import render_web
from pipeline.output import Format, dumps

IssueArg = Annotated[
    Path,
    typer.Argument(help="The issue's Markdown file, e.g. issues/2024-06-22-article-weekly-25.md."),
]


def _summary(problems: list[Problem], files: int, strict: bool, clients: bool) -> str:
    plainer = [p for p in problems if p.plainer]
    problems = [p for p in problems if not p.plainer]
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    if strict:
        errors, warnings = errors + warnings, 0
    plural = "s" if files != 1 else ""
    line = f"{errors} error(s), {warnings} warning(s) in {files} file{plural}"
    breaks = sum(p.rule == "compat" and p.kind == "breaks" for p in problems)
    if plainer or breaks:
        line += (
            f"; email clients: {breaks} feature(s) may break the layout, {len(plainer)} only "
            "look plainer" + ("" if clients else " (--clients lists them)")
        )
    return line


def _build_alone(path: Path, ctx: typer.Context) -> tuple[Build, bool]:
    """One file's build, and whether it crashed: a bug met in one file is reported under
    that file's path, and never hides the results of the others."""
    try:
        return build(path, kit.settings(ctx)), False
    except NewsletterError:
        raise  # the settings, not this file: the same for every file
    except Exception as exc:
        if os.environ.get("NEWSLETTER_DEBUG"):
            raise
        message = (
            f"internal error while checking this file: {type(exc).__name__}: {str(exc)[:200]}; "
            "this is a bug in newsletter: run again with NEWSLETTER_DEBUG=1 and report it"
        )
        return Build(path, None, None, [Problem(str(path), 1, 1, Severity.ERROR, message)]), True


def _link_problems(builds: list[Build], timeout: float) -> dict[str, list[Problem]]:
    """The broken links and redirects of every file that could be read, by path: one
    fetch per distinct URL across all the files."""
    from pipeline.issue.links import UNREACHED, check_links

    issues = [b.issue for b in builds if b.issue is not None]
    if not issues:
        return {}
    kit.say(f"checking the links of {len(issues)} file(s)...")
    checks = check_links(issues, timeout=timeout)
    results = [r for checked in checks for r in checked.results.values()]
    if len(results) > 1 and all(r.verdict in UNREACHED for r in results):
        kit.say(
            f"none of the {len(results)} links could be reached: is this machine offline, or "
            "behind a proxy (set HTTPS_PROXY)?"
        )
    return {checked.path: checked.problems() for checked in checks}


def _as_data(problem: Problem) -> dict[str, object]:
    """Every field of a problem, whatever fields it has, as JSON values."""
    return {f.name: _json_value(getattr(problem, f.name)) for f in dataclasses.fields(problem)}


def _json_value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list | set | frozenset):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _report(builds: list[Build], per_file: list[list[Problem]], strict: bool) -> dict[str, object]:
    """The whole check as one JSON document for CI: each file with its problems, then the
    totals and whether the check failed (the exit status says the same)."""
    files = []
    for result, problems in zip(builds, per_file, strict=True):
        errors = sum(p.severity is Severity.ERROR for p in problems)
        files.append(
            {
                "path": str(result.path),
                "errors": errors,
                "warnings": len(problems) - errors,
                "problems": [_as_data(p) for p in problems],
            }
        )
    every = [p for problems in per_file for p in problems]
    errors = sum(p.severity is Severity.ERROR for p in every)
    return {
        "files": files,
        "summary": {
            "files": len(builds),
            "errors": errors,
            "warnings": len(every) - errors,
            "strict": strict,
            "failed": has_errors(every, strict=strict),
        },
    }


def check(
    ctx: typer.Context,
    issues: Annotated[list[Path], typer.Argument(help="Issue files to check.")],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    links: Annotated[
        bool,
        typer.Option(
            "--links",
            help="Also fetch every link and image (uses the network): a 404 or other 4xx, a "
            "name missing from DNS or a TLS error is an error; a redirect, 401/403/429, 5xx, "
            "timeout or refused connection is a warning.",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds each link may take (--links).")
    ] = 10.0,
    clients: Annotated[
        bool,
        typer.Option(
            "--clients",
            help="Also list the email-client features that only look plainer where they are "
            "unsupported (rounded corners, media queries, ...); by default they are counted.",
        ),
    ] = False,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """Check issue files and print every problem at once, as PATH:LINE:COL: severity: message.

    Exits 1 when any file has an error (or, with --strict, a warning). `--format json` prints
    one document for CI: {"files": [{"path", "errors", "warnings", "problems": [...]}],
    "summary": {"files", "errors", "warnings", "strict", "failed"}}.
    """
    outcomes = [_build_alone(path, ctx) for path in issues]
    builds = [b for b, _ in outcomes]
    linked = _link_problems(builds, timeout) if links else {}
    per_file = [
        sort_problems([*b.problems, *linked.get(str(b.issue.path), [])])
        if b.issue is not None
        else b.problems
        for b in builds
    ]
    problems = [p for file_problems in per_file for p in file_problems]
    if fmt is Format.table:
        for problem in problems:
            if problem.plainer and not clients:
                continue
            severity = "error" if strict and not problem.plainer else str(problem.severity)
            typer.echo(
                f"{problem.path}:{problem.line}:{problem.col}: {severity}: {problem.message}"
            )
    elif fmt is Format.json:
        typer.echo(dumps(_report(builds, per_file, strict)))
    else:
        from pipeline.output import emit_rows

        emit_rows(
            (_as_data(p) for p in problems), ["path", "line", "col", "severity", "message"], fmt
        )
    kit.say(_summary(problems, len(builds), strict, clients))
    if any(crashed for _, crashed in outcomes):
        raise typer.Exit(70)  # a bug, not the author's mistake: said so above
    if has_errors(problems, strict=strict):
        raise typer.Exit(1)


def _checked(path: Path, ctx: typer.Context) -> Build:
    """Build an issue and refuse it when it has errors: nothing unchecked leaves the machine."""
    result = build(path, kit.settings(ctx))
    plainer = [p for p in result.problems if p.plainer]
    for problem in result.problems:
        if not problem.plainer:
            kit.err.print(str(problem), highlight=False, markup=False)
    if plainer:
        kit.err.print(
            f"email clients: {len(plainer)} feature(s) only look plainer in some clients "
            f"(`newsletter check {path} --clients` lists them)",
            highlight=False,
            markup=False,
        )
    if result.errors or result.rendered is None:
        raise IssueError(
            f"{path} has {len(result.errors)} error(s)",
            hint=f"fix them, then run `newsletter check {path}` again",
        )
    return result


def render_cmd(
    ctx: typer.Context,
    issue: IssueArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the output files.")] = Path(
        "build"
    ),
) -> None:
    """Render an issue to email.html, email.txt, web.html and message.eml in --out.

    email.html and message.eml are the copy a sample subscriber would receive.
    """
    settings = kit.settings(ctx)
    if out.exists() and not out.is_dir():
        raise NewsletterError(
            f"--out {out} is a file, not a folder", hint="name a folder (it is made if missing)"
        )
    result = _checked(issue, ctx)
    assert result.rendered is not None and result.issue is not None
    message = personalise(result.rendered, sample_recipient(settings), settings)
    outputs = {
        "email.html": message.html.encode(),
        "email.txt": message.text.encode(),
        "web.html": render_web(result.issue, settings).encode(),
        "message.eml": to_mime(message).as_bytes(),
    }
    try:
        for name, data in outputs.items():
            write_atomic(out / name, data)
    except OSError as exc:
        raise NewsletterError(
            f"cannot write to {out}: {exc.strerror or exc}",
            hint="give --out a folder you can write to",
        ) from None
    kit.say(
        f"rendered issue {result.issue.number} ({result.rendered.html_bytes / 1024:.1f} KB HTML) "
        f"to {out}/: {', '.join(outputs)}"
    )


def _reader_line(ctx: typer.Context, email: str, list_name: str | None) -> str:
    """Who `--as` names, checked before the server starts: an unknown address or an
    ambiguous list is a clean error now, not a message in a page later."""
    from pipeline.db import Store
    from pipeline.web.preview_reader import find_reader

    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as store:
        reader = find_reader(store, settings, email, list_name)
    person = reader.addressee
    line = f"as {person.name or '(no name)'} <{person.email}> on the list {reader.list_name!r}"
    return line + (f" ({reader.note})" if reader.note else "")


def preview(
    ctx: typer.Context,
    issue: IssueArg,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
    host: Annotated[
        str, typer.Option(help="Loopback address to listen on (127.0.0.1, ::1 or localhost).")
    ] = "127.0.0.1",
    as_email: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="EMAIL",
            help="Open with the copy this subscriber from the store would get: their name and "
            "their own unsubscribe link.",
        ),
    ] = None,
    list_name: Annotated[
        str | None,
        typer.Option(
            "--list", help="The list whose copy --as shows (default: the only list they are on)."
        ),
    ] = None,
) -> None:
    """Serve a live preview: phone and desktop widths, text part, inbox line, size, warnings.

    Rebuilds when the issue or a template changes; the open page reloads itself. The page
    also shows the frames in dark mode, the copy of any subscriber (--as, or its field) and
    a link check. It shows subscriber data from the store (names, addresses, unsubscribe
    links), so it listens on this machine only (127.0.0.1) and refuses requests addressed
    to any other host name.
    """
    from pipeline.web import server
    from pipeline.web.preview import create_app, is_loopback

    if not is_loopback(host):
        raise NewsletterError(
            f"--host {host}: the preview shows subscriber data, so it listens on loopback only",
            hint="use 127.0.0.1 (the default); to look from another machine, forward the "
            "port over SSH (ssh -L 8025:127.0.0.1:8025 HOST)",
        )
    if list_name is not None and as_email is None:
        raise NewsletterError("--list names the list of --as EMAIL", hint="add --as EMAIL")
    if not issue.exists():
        raise NewsletterError(f"{issue}: no such file")
    who = _reader_line(ctx, as_email, list_name) if as_email is not None else "as a sample reader"
    server.ensure_port_free(host, port)
    kit.say(f"previewing {issue} {who} at http://{host}:{port}/ (Ctrl-C to stop)")
    app = create_app(
        issue, kit.settings(ctx), default_as=as_email or "", default_list=list_name or ""
    )
    server.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("render")(render_cmd)
    app.command("preview")(preview)
