"""The stages in order, in one place: read -> check -> render -> check the result.

`check`, `render`, `preview` and `send` all call `build`, so what you preview is what you send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import NewsletterError, RenderError
from pipeline.issue.checks import check_issue, check_size
from pipeline.issue.compat import RULE as COMPAT_RULE
from pipeline.issue.compat import compat_problems
from pipeline.issue.frontmatter import front_matter_number
from pipeline.issue.message import Addressee
from pipeline.issue.problems import Problem, Severity, sort_problems
from pipeline.issue.render import Rendered, render
from pipeline.issue.source import Issue, read_issue
from pipeline.settings import Settings

log = logging.getLogger(__name__)

SAMPLE_EMAIL = "reader@example.com"
SAMPLE_NAME = "Sample Reader"


@dataclass
class Build:
    path: Path
    issue: Issue | None
    rendered: Rendered | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]


def build(path: Path, settings: Settings) -> Build:
    """Read, check and render one issue; every problem found is in the result, none raised."""
    issue, problems = read_issue(path, settings.lang)
    if issue is None:
        return Build(path, None, None, sort_problems(problems))
    problems += check_issue(issue)
    if not issue.front_matter_ok or not issue.renderable:
        return Build(path, issue, None, sort_problems(problems))
    problems += check_number_unique(issue)
    rendered: Rendered | None = None
    try:
        rendered = render(issue, settings)
    except RenderError as exc:
        problems.append(Problem(str(path), 1, 1, Severity.ERROR, str(exc)))
    else:
        problems += check_size(issue, rendered.html_bytes)
        problems += check_compatibility(path, rendered)
    return Build(path, issue, rendered, sort_problems(problems))


def check_compatibility(path: Path, rendered: Rendered) -> list[Problem]:
    """Email-client compatibility of the final HTML (warnings: the email still sends).

    A vendored data file that cannot be read is one warning, not a crash of every build.
    """
    try:
        return compat_problems(str(path), rendered.html.source)
    except NewsletterError as exc:
        return [
            Problem(
                str(path),
                1,
                1,
                Severity.WARNING,
                f"rendered email: the email-client compatibility check could not run: {exc}",
                rule=COMPAT_RULE,
            )
        ]


def check_number_unique(issue: Issue) -> list[Problem]:
    """An issue number names the web version (/issues/N): two files must not share it.

    Every sibling is read by `front_matter_number`, which skips what it cannot read (a
    broken file, a FIFO, a folder): one bad file never breaks the check of another.
    """
    problems: list[Problem] = []
    try:
        siblings = sorted(issue.path.parent.glob("*.md"))
        this = issue.path.resolve()
    except (OSError, RuntimeError):  # an unreadable folder, a symlink loop
        return problems
    for other in siblings:
        try:
            if other.resolve() == this:
                continue
        except (OSError, RuntimeError):
            continue
        if front_matter_number(other) == issue.number:
            problems.append(
                Problem(
                    str(issue.path),
                    1,
                    1,
                    Severity.ERROR,
                    f"number {issue.number} is also used by {other}; each issue needs its own",
                )
            )
    return problems


def sample_recipient(settings: Settings) -> Addressee:
    """The reader that render and preview show: a placeholder person with a sample link."""
    return Addressee(
        email=SAMPLE_EMAIL,
        name=SAMPLE_NAME,
        unsubscribe_url=f"{settings.public_url}/unsubscribe/sample-token",
    )
