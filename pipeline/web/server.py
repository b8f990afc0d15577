"""Running an ASGI app of ours under uvicorn: the port check, the log filter, the limits and
timeouts that keep slow or idle clients from holding the server, and the server itself.

uvicorn bounds an idle keep-alive connection (`timeout_keep_alive`) and the size of an
incomplete request head (`h11_max_incomplete_event_size`), but not the time a client takes
to send its request: a fresh connection that sends nothing, or a head or body trickled a
byte at a time, stays open for ever. So:

- `_HeadDeadline` (our h11 protocol): from the moment a connection opens, or a new request
  begins on a kept-alive one, its head must be complete within `head_timeout`, or the
  connection is closed;
- `BoundedRequests` (an ASGI middleware): the whole body must arrive within `body_timeout`
  (408) and hold at most `max_body` bytes (413), before the app sees any of it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from pipeline.errors import NewsletterError

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one client may take. The defaults are far above what a browser, a mail client's
    one-click POST or SNS needs (SNS itself gives up on us after about 15 s)."""

    head_timeout: float = 10.0  # seconds to send a request's line and headers
    body_timeout: float = 20.0  # seconds to send its body
    keep_alive: int = 5  # seconds an idle kept-alive connection stays open
    max_head: int = 16 * 1024  # bytes of request line and headers
    max_body: int = 1024 * 1024  # bytes of body (SNS messages are at most 256 KiB)
    concurrency: int = 512  # connections and tasks; beyond it requests get 503
    backlog: int = 256  # connections the kernel queues before we accept them
    graceful_shutdown: int = 10  # seconds SIGTERM waits for requests in flight


def ensure_port_free(host: str, port: int) -> None:
    """Fail with a clean message now, rather than a traceback from uvicorn later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise NewsletterError(
                f"cannot listen on {host}:{port}: {exc.strerror}",
                hint="another program uses that port; pass --port with a free one",
            ) from None


class RedactTokens(logging.Filter):
    """Replace the token in /unsubscribe/<token> and /confirm/<token> with `…` in log
    records."""

    _TOKEN = re.compile(r"(/(?:unsubscribe|confirm)/)[A-Za-z0-9_-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = self._TOKEN.sub(r"\1…", str(record.msg))
        return True


class BoundedRequests:
    """ASGI middleware: read the whole request body within `limits.body_timeout` and
    `limits.max_body`, then hand it to the app in one piece. A slow body gets 408, a large
    one 413, and the connection is closed either way (the rest of the body is unread)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        body = bytearray()
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                log.info("%s: request body too slow, answered 408", _client(scope))
                await _refuse(send, 408, "request body too slow\n")
                return
            if message["type"] == "http.disconnect":
                return  # the client left; there is nobody to answer
            body += message.get("body", b"")
            if len(body) > self.limits.max_body:
                await _refuse(send, 413, "request body too large\n")
                return
            if not message.get("more_body", False):
                break
        whole: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "a client"


async def _refuse(send: Send, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


class HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head (see the module doc).
    A module-level class, so that `serve --workers N` can hand it to worker processes."""

    head_timeout: float = Limits.head_timeout
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's head: uvicorn's keep-alive timer covers the idle wait, and
        # the deadline starts with its first byte (data_received).
        self._stop_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        # SIGTERM: a request whose body is still arriving would hold the stop for the
        # graceful timeout and then be cancelled (a traceback each). Close it now: the
        # middleware sees the client leave, and the client may retry elsewhere.
        if self.conn.their_state is h11.SEND_BODY and not self._response_started():
            self.transport.close()
            return
        super().shutdown()

    def _response_started(self) -> bool:
        return self.cycle is not None and self.cycle.response_started

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE and not self.transport.is_closing()

    def _watch_head(self) -> None:
        if not self._waiting_for_head():
            self._stop_head_timer()
        elif self._head_timer is None and self.timeout_keep_alive_task is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._waiting_for_head():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            log.info("%s: no complete request within %.0f s, closed", client, self.head_timeout)
            self.transport.close()


def _protocol(head_timeout: float) -> type[asyncio.Protocol]:
    if head_timeout == HeadDeadline.head_timeout:
        return HeadDeadline
    return type("HeadDeadline", (HeadDeadline,), {"head_timeout": head_timeout})


def _options(limits: Limits, forwarded_allow_ips: Sequence[str]) -> dict[str, Any]:
    """uvicorn's options for our limits and trusted proxies (both ways of serving)."""
    return {
        "timeout_keep_alive": limits.keep_alive,
        "h11_max_incomplete_event_size": limits.max_head,
        "limit_concurrency": limits.concurrency,
        "backlog": limits.backlog,
        "timeout_graceful_shutdown": limits.graceful_shutdown,
        # X-Forwarded-For only from the proxies named in the settings; never uvicorn's
        # default (127.0.0.1, or the FORWARDED_ALLOW_IPS variable) behind the settings' back.
        "proxy_headers": bool(forwarded_allow_ips),
        "forwarded_allow_ips": list(forwarded_allow_ips),
    }


def configure(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    limits: Limits | None = None,
    forwarded_allow_ips: Sequence[str] = (),
    **options: Any,
) -> uvicorn.Config:
    """The uvicorn configuration `run` serves `app` with (tests start it on port 0)."""
    import uvicorn

    limits = limits or Limits()
    return uvicorn.Config(
        BoundedRequests(app, limits),
        host=host,
        port=port,
        log_level=log_level,
        http=_protocol(limits.head_timeout),
        **_options(limits, forwarded_allow_ips),
        **options,
    )


def run(app: Any, *, host: str, port: int, log_level: str = "info", **options: Any) -> None:
    """Serve `app` until Ctrl-C. Access logs never hold working unsubscribe links."""
    import uvicorn

    config = configure(app, host=host, port=port, log_level=log_level, **options)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    uvicorn.Server(config).run()


def run_workers(
    factory: str,
    workers: int,
    *,
    host: str,
    port: int,
    forwarded_allow_ips: Sequence[str] = (),
) -> None:
    """Serve with `workers` processes, each building its app with `factory` (an import
    string of a function that returns the ASGI app, bounded by `BoundedRequests`)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        factory,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        http=HeadDeadline,
        **_options(Limits(), forwarded_allow_ips),
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()
