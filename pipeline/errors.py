"""The one exception root that the CLI turns into a clean message and an exit code."""

from __future__ import annotations


class NewsletterError(Exception):
    """A problem the user can fix. The CLI prints `message` (and `hint`) and exits."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(NewsletterError):
    """A setting is missing or has a bad value."""

    exit_code = 2


class IssueError(NewsletterError):
    """An issue file cannot be read or has errors (the problems are already printed)."""


class RenderError(NewsletterError):
    """The template or the MJML compiler failed."""


class NotFoundError(NewsletterError):
    """A list, subscriber, campaign or file the user named does not exist."""


class StoreError(NewsletterError):
    """The subscriber database cannot be opened or migrated."""


class InputError(NewsletterError):
    """Bad input from the user: a CSV, a token, an address."""
