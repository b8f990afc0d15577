"""The web app behind `public_url` (`newsletter serve`): its routes, gathered in one place.

Meant to run behind the publisher's HTTPS proxy. Each part of the site is a module with a
`routes(site)` function: the unsubscribe pages (`unsubscribe.py`), the archive of sent
issues (`archive.py`); the SNS endpoint for SES events and the health check are here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from pipeline.db import Store
from pipeline.errors import InputError, NewsletterError
from pipeline.feedback import ingest as feedback
from pipeline.feedback import sns, sns_verify
from pipeline.settings import Settings
from pipeline.web import archive, signup, unsubscribe
from pipeline.web.pages import Site, TooLarge, mask, not_found, read_body

__all__ = ["create_app", "mask"]

log = logging.getLogger(__name__)

EVENT_LIMIT = 256 * 1024  # SNS messages are at most 256 KB


def create_app(
    settings: Settings,
    store: Store,
    *,
    issues: Path = Path("issues"),
    verifier: sns_verify.SnsVerifier | None = None,
) -> Starlette:
    site = Site(
        settings=settings,
        store=store,
        secret=settings.require_secret_key(),
        issues=issues,
        verifier=verifier or sns_verify.SnsVerifier.from_settings(settings),
    )
    verifier = site.verifier

    async def ses_events(request: Request) -> Response:
        try:
            body = await read_body(request, EVENT_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        try:
            message = sns.parse_envelope(body)
            verified = await run_in_threadpool(verifier.verify, message)
            if verified.replay:
                log.info(
                    "SNS message %s seen before; processing it again is harmless",
                    message.message_id,
                )
            if message.type == "SubscriptionConfirmation":
                done = await run_in_threadpool(
                    lambda: sns_verify.confirm_subscription(verified, fetch=verifier.fetch)
                )
                log.info("SNS subscription %s: %s", message.topic_arn, done.action)
                return PlainTextResponse(f"subscription {done.action}\n")
            if message.type != "Notification":
                return PlainTextResponse("ignored\n")
            result = await run_in_threadpool(feedback.process, store, sns.ses_events(message))
        except sns.SnsError as exc:
            log.warning("rejected an SNS request: %s", exc.message)
            return PlainTextResponse(f"{exc.message}\n", status_code=exc.status)
        except InputError as exc:
            return PlainTextResponse(f"{exc.message}\n", status_code=400)
        for change in result.changes if result else []:
            log.info("SES event: %s", change)
        return PlainTextResponse("duplicate\n" if result and result.duplicate else "ok\n")

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(store.schema_version)
        except NewsletterError as exc:
            return PlainTextResponse(f"database: {exc.message}\n", status_code=503)
        return PlainTextResponse("ok\n")

    routes = [
        *unsubscribe.routes(site),
        Route("/ses/events", ses_events, methods=["POST"]),
        *archive.routes(site),
        *signup.routes(site),
        Route("/healthz", healthz, methods=["GET"]),
    ]

    async def without_slash(request: Request) -> Response:
        """`/issues/` to `/issues` at `public_url`. Starlette's own redirect writes the
        request's Host header into the Location, so anyone could send a reader elsewhere."""
        path = "/" + request.path_params["path"]
        scope = {**request.scope, "path": path}
        if not any(route.matches(scope)[0] is not Match.NONE for route in routes):
            return not_found(settings)
        query = request.url.query
        target = settings.public_url.rstrip("/") + path + (f"?{query}" if query else "")
        return RedirectResponse(target, status_code=307)

    async def nowhere(request: Request, exc: Exception) -> Response:
        return not_found(settings)

    app = Starlette(
        routes=[*routes, Route("/{path:path}/", without_slash, methods=_ANY)],
        exception_handlers={404: nowhere},
    )
    app.router.redirect_slashes = False
    return app


_ANY = ["GET", "HEAD", "POST"]
