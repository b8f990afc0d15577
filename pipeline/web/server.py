"""Running an ASGI app of ours under uvicorn: the port check, the log filter, the server."""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

from pipeline.errors import NewsletterError


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
    """Replace the token in /unsubscribe/<token> with `…` in log records."""

    _TOKEN = re.compile(r"(/unsubscribe/)[A-Za-z0-9_-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        record.msg = self._TOKEN.sub(r"\1…", str(record.msg))
        return True


def run(app: Any, *, host: str, port: int, log_level: str = "info", **options: Any) -> None:
    """Serve `app` until Ctrl-C. Access logs never hold working unsubscribe links."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, **options)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    uvicorn.Server(config).run()
