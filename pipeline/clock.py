"""The time now, in one place: every timestamp the pipeline stores or compares is aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the store refuses naive ones)."""
    return datetime.now(UTC)
