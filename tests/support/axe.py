"""axe-core, the accessibility engine nobody here wrote, run inside a Playwright page.

The engine is vendored in `tests/support/vendor/axe-core/` (MPL-2.0; `make vendor` refreshes it)
so the tests need no network. `violations(page)` runs the WCAG 2 A and AA rules on what
the page shows now and returns axe's violations; `assert_accessible` fails with each
rule, its impact and the first offending elements.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(
    page: Any, *, tags: list[str] | None = None, rules: list[str] | None = None
) -> list[dict[str, Any]]:
    """axe's violations of the WCAG 2 A and AA rules (or of `tags`, or of the named
    `rules` alone) on the page as it stands."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # add_script_tag would be refused by a page's Content-Security-Policy; evaluating
        # the source through the DevTools protocol is not.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    only = (
        {"type": "rule", "values": rules} if rules else {"type": "tag", "values": tags or WCAG_TAGS}
    )
    result = page.evaluate("async (only) => await axe.run(document, {runOnly: only})", only)
    return list(result["violations"])


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return "\n".join(lines)


def assert_accessible(page: Any, what: str, *, rules: list[str] | None = None) -> None:
    found = violations(page, rules=rules)
    assert not found, f"axe-core finds WCAG 2 A/AA problems on {what}:\n{describe(found)}"
