"""The table every benchmark prints: a title, then a Markdown table for the README."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def print_table(title: str, rows: Iterable[Sequence[str]]) -> None:
    print(f"{title}\n")
    print("| measure | result | target | |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
