"""The web app behind `public_url` (`newsletter serve`): its routes, gathered in one place.

Meant to run behind the publisher's HTTPS proxy. Each part of the site is a module with a
`routes(site)` function: the unsubscribe pages (`unsubscribe.py`), the archive of sent
issues (`archive.py`); the SNS endpoint for SES events and the health check are here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from pipeline.db import Store
from pipeline.errors import InputError, NewsletterError
from pipeline.feedback import ingest as feedback
from pipeline.feedback import sns, sns_verify
from pipeline.feedback.eventstore import RecordedEvent
from pipeline.settings import Settings
from pipeline.web import archive, signup, unsubscribe
from pipeline.web.pages import Site, TooLarge, mask, not_found, read_body

__all__ = ["create_app", "mask"]

log = logging.getLogger(__name__)

EVENT_LIMIT = 256 * 1024  # SNS messages are at most 256 KB
# Database connections (and so request threads) of one `serve` process or worker: SNS
# delivers events in bursts, signups come one by one.
SERVE_CONNECTIONS = 10


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
            if message.type == "Notification":
                # The common case in one trip to a thread: verify (the certificate is
                # cached after the first), then record.
                result = await run_in_threadpool(_record_notification, verifier, store, message)
                return _recorded(result)
            verified = await run_in_threadpool(_verify, verifier, message)
            if message.type == "SubscriptionConfirmation":
                done = await run_in_threadpool(
                    lambda: sns_verify.confirm_subscription(verified, fetch=verifier.fetch)
                )
                log.info("SNS subscription %s: %s", message.topic_arn, done.action)
                return PlainTextResponse(f"subscription {done.action}\n")
            return PlainTextResponse("ignored\n")
        except sns.SnsError as exc:
            log.warning("rejected an SNS request: %s", exc.message)
            return PlainTextResponse(f"{exc.message}\n", status_code=exc.status)
        except InputError as exc:
            return PlainTextResponse(f"{exc.message}\n", status_code=400)

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

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Every blocking call of a request (the database, a certificate fetch) runs in a
        # thread; as many threads as the store keeps connections, so that no request waits
        # for a connection opened and closed just for it (anyio allows 40 by default).
        anyio.to_thread.current_default_thread_limiter().total_tokens = store.connections
        yield

    app = Starlette(
        routes=[*routes, Route("/{path:path}/", without_slash, methods=_ANY)],
        exception_handlers={404: nowhere},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    return app


_ANY = ["GET", "HEAD", "POST"]


def _verify(
    verifier: sns_verify.SnsVerifier, message: sns.SnsMessage
) -> sns_verify.VerifiedMessage:
    verified = verifier.verify(message)
    if verified.replay:
        log.info("SNS message %s seen before; processing it again is harmless", message.message_id)
    return verified


def _record_notification(
    verifier: sns_verify.SnsVerifier, store: Store, message: sns.SnsMessage
) -> RecordedEvent | None:
    _verify(verifier, message)
    return feedback.process(store, sns.ses_events(message))


def _recorded(result: RecordedEvent | None) -> Response:
    for change in result.changes if result else []:
        log.info("SES event: %s", change)
    return PlainTextResponse("duplicate\n" if result and result.duplicate else "ok\n")
