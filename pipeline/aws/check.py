"""One finding of `doctor`: `ok`, `warn` or `fail`, with the fix in one line."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    area: str
    name: str
    status: str
    detail: str
    fix: str = ""

    def as_row(self) -> dict[str, str]:
        return asdict(self)


def failed(checks: list[Check]) -> bool:
    return any(check.status == FAIL for check in checks)


def summary(checks: list[Check]) -> dict[str, int]:
    return {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
