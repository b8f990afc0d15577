"""The preference page and its refusals, from `templates/web/preferences.html.j2` (its
words from the catalogue, `pipeline.words`): the reader's lists with their states, one
form per action, and the outcome of what they just did. The address is shown masked;
every value from the database is escaped by the template.
"""

from __future__ import annotations

from typing import Literal

from starlette.responses import HTMLResponse

from pipeline.audience.preferences import Preferences
from pipeline.settings import Settings
from pipeline.web.pages import mask, notice, render

Outcome = Literal["left_one", "left_all", "rejoined"]


def preference_page(
    prefs: Preferences,
    *,
    settings: Settings,
    outcome: Outcome | None = None,
    list_name: str = "",
) -> HTMLResponse:
    """The page for `prefs`: on a GET (`outcome` None) it asks about the link's list;
    after a change, it says what was done (to `list_name`, for one list)."""
    return render(
        "web/preferences.html.j2",
        settings,
        prefs=prefs,
        who=mask(prefs.email),
        newsletter=settings.name,
        outcome=outcome,
        # The list as the reader knows it: its title, where it has one.
        list_name=next((s.shown for s in prefs.lists if s.name == list_name), list_name),
    )


def refusal(email: str, reason: str, list_name: str, settings: Settings) -> HTMLResponse:
    """409: a rejoin this page may not do. No button: there is nothing to press."""
    if reason == "unconfirmed":
        return notice(
            settings, "preferences.not_confirmed", "preferences.unconfirmed_cannot", 409,
            name=list_name,
        )  # fmt: skip
    if reason == "removed":
        return notice(
            settings, "preferences.not_rejoined", "preferences.removed_cannot", 409,
            who=mask(email), name=list_name,
        )  # fmt: skip
    return notice(
        settings, "preferences.not_rejoined", "preferences.bounced_cannot", 409, who=mask(email)
    )


def bad_request(settings: Settings) -> HTMLResponse:
    """400: a form value that is not one of this reader's (a forged or stale form)."""
    return notice(
        settings, "preferences.bad_request", "preferences.nothing_changed", 400,
        hint="preferences.open_again",
    )  # fmt: skip
