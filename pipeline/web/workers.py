"""`serve --workers N`: each worker process builds the web app itself, from the settings
(the same `newsletter.toml`, `.env` and environment as the command) and its own database
connections. The command passes what is not a setting through the environment."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.types import ASGIApp

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import SERVE_CONNECTIONS, create_app
from pipeline.web.server import BoundedRequests, Limits, RedactTokens

# The --issues folder of the command (not a setting: settings refuse unknown NEWSLETTER_ names).
ISSUES_ENV = "_NEWSLETTER_SERVE_ISSUES"


def create() -> ASGIApp:
    """uvicorn's factory in each worker."""
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    settings = load_settings()
    store = Store.open(settings.database_url, connections=SERVE_CONNECTIONS)
    app = create_app(settings, store, issues=Path(os.environ.get(ISSUES_ENV, "issues")))
    return BoundedRequests(app, Limits())
