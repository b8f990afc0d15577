"""Problems found in an issue, reported compiler-style: PATH:LINE:COL: severity: message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    col: int
    severity: Severity
    message: str
    # Optional, for the checks that group their problems (e.g. rule "compat", kind
    # "breaks" or "plainer", the email clients concerned, a page that explains it).
    rule: str = ""
    kind: str = ""
    clients: tuple[str, ...] = ()
    url: str = ""

    @property
    def plainer(self) -> bool:
        """An email-client feature that only looks plainer where unsupported (progressive
        enhancement): reported, but never a reason to fail `check --strict`."""
        return self.rule == "compat" and self.kind == "plainer"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": str(self.severity),
            "message": self.message,
            "rule": self.rule,
            "kind": self.kind,
            "clients": list(self.clients),
            "url": self.url,
        }


def has_errors(problems: list[Problem], *, strict: bool = False) -> bool:
    if strict:
        return any(not p.plainer for p in problems)
    return any(p.severity is Severity.ERROR for p in problems)


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By place, errors first; at one place, what breaks the email before what does not."""
    return sorted(
        problems,
        key=lambda p: (p.path, p.line, p.col, p.severity != Severity.ERROR, p.kind != "breaks"),
    )
