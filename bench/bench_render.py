"""Rendering benchmarks for the sample issue; prints a Markdown table.

- source to final HTML (read, check, MJML, inline CSS), median after warm-up: target < 30 ms
- per-recipient personalisation on one core: target > 20,000 messages/s
- premailer against css-inline on the same MRML output, in the same run
- the email-client compatibility lint of the final HTML (part of every build): cold (a
  document it has not seen, data already loaded) and warm (the same email rebuilt, as a
  preview refresh does); target: a small fraction of the render

Run: `make bench` (or `.venv/bin/python bench/bench_render.py`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.table import print_table  # noqa: E402
from pipeline.issue.build import build  # noqa: E402
from pipeline.issue.message import Addressee, personalise, to_mime  # noqa: E402
from pipeline.issue.render import inline_css, render_document  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402

SAMPLE = ROOT / "issues" / "2024-06-22-article-weekly-25.md"


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def median_cpu_ms(fn: Callable[[], object], runs: int, warmup: int = 5) -> float:
    """CPU time of this process: steadier than the wall clock on a shared machine."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times)


def lint_rows(source: str, build: Callable[[], object]) -> list[tuple[str, str, str, str]]:
    """The lint alone, in CPU time against the build's (which includes it). Cold: its memo
    of element styles and verdicts is emptied before each run."""
    from pipeline.issue import compat, compat_scan

    def cold() -> None:
        compat_scan.MEMOS.clear()
        compat.VERDICTS.clear()
        compat.lint(source)

    build_ms = median_cpu_ms(build, runs=30)
    cold_ms = median_cpu_ms(cold, runs=30)
    warm_ms = median_cpu_ms(lambda: compat.lint(source), runs=50)
    share = warm_ms / build_ms * 100
    return [
        (
            "email-client lint (caniemail), warm: a rebuild, as in the preview (CPU)",
            f"{warm_ms:.1f} ms",
            "< 15% of the build",
            f"{share:.0f}% of the build" if share < 15 else f"MISSED ({share:.0f}%)",
        ),
        ("  same, cold: the first build of a process (CPU)", f"{cold_ms:.1f} ms", "", ""),
        ("  the build it is part of (CPU)", f"{build_ms:.1f} ms", "", ""),
    ]


def main() -> None:
    settings = load_settings(ROOT / "newsletter.toml")
    result = build(SAMPLE, settings)
    assert result.rendered is not None and result.issue is not None
    rendered, issue = result.rendered, result.issue
    rows: list[tuple[str, str, str, str]] = []

    def fresh_build() -> object:
        """A build of a document not rendered before (an edited issue): inlining included."""
        inline_css.cache_clear()
        return build(SAMPLE, settings)

    full = median_ms(fresh_build, runs=50)
    rows.append(
        (
            "source -> final email HTML (read, check, render, inline)",
            f"{full:.1f} ms",
            "< 30 ms",
            "ok" if full < 30 else "MISSED",
        )
    )
    again = median_ms(lambda: build(SAMPLE, settings), runs=50)
    rows.append(("  the same issue again (its inlined HTML remembered)", f"{again:.1f} ms", "", ""))

    rows += lint_rows(rendered.html.source, fresh_build)

    recipients = [
        Addressee(f"reader{i}@example.com", f"독자 {i}", f"https://w.example/unsubscribe/{i:032x}")
        for i in range(20_000)
    ]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for recipient in recipients:
        personalise(rendered, recipient, settings)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    rate = len(recipients) / cpu
    rows.append(
        (
            "personalise one copy (HTML + text + headers), one core",
            f"{rate:,.0f} msg/s",
            "> 20,000 msg/s",
            "ok" if rate > 20_000 else "MISSED",
        )
    )
    rows.append(("  same, wall clock", f"{len(recipients) / wall:,.0f} msg/s", "", ""))

    sample = recipients[0]
    mime = median_ms(lambda: to_mime(personalise(rendered, sample, settings)).as_bytes(), runs=200)
    rows.append(("full MIME message of one copy (for .eml / raw send)", f"{mime:.2f} ms", "", ""))

    # Inliners compared on the identical MRML output.
    import css_inline
    from mjml import mjml2html

    from pipeline.issue.render import _context, _environment, templates_dir

    env = _environment(templates_dir())
    mjml_source = env.get_template("issue.mjml.j2").render(_context(issue, settings, web=False))
    html = mjml2html(mjml_source, disable_comments=False, fonts={})
    mrml = median_ms(lambda: mjml2html(mjml_source, disable_comments=False, fonts={}), runs=100)
    premailer_ms = median_ms(lambda: inline_css.__wrapped__(html), runs=30)
    inliner = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)
    css_inline_ms = median_ms(lambda: inliner.inline(html), runs=100)
    rows.append(("MJML -> HTML (mjml-python / MRML)", f"{mrml:.2f} ms", "", ""))
    rows.append(("inline CSS: premailer (used)", f"{premailer_ms:.2f} ms", "", ""))
    rows.append(
        (
            "inline CSS: css-inline (same HTML)",
            f"{css_inline_ms:.2f} ms",
            "",
            f"{premailer_ms / css_inline_ms:.0f}x faster",
        )
    )

    def fresh_web() -> str:
        inline_css.cache_clear()
        return render_document(issue, settings, web=True)

    web_ms = median_ms(fresh_web, runs=30)
    rows.append(("web version (render once per issue)", f"{web_ms:.1f} ms", "", ""))

    print_table(f"Sample issue: {SAMPLE.name}, {rendered.html_bytes / 1024:.1f} KB of HTML", rows)


if __name__ == "__main__":
    main()
