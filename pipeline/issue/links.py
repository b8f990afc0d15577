"""Does every link of an issue still answer? Each http(s) URL fetched once, concurrently.

What is checked: article headings, links and image sources in the issue file (the links
the author wrote; the footer's and "view in browser" links are ours). Each distinct URL is
fetched once however many articles share it: HEAD first, then GET when the server refuses
HEAD or answers it with an error (many servers answer HEAD badly; GET is what a reader's
click does). Redirects are followed; each request has `timeout` seconds in all.

What is reported, at the link's `file:line:col`:

- errors, where the link is broken for every reader: 404, 410 and other 4xx answers (but
  401, 403 and 429), a name that does not exist in DNS, and a TLS certificate or handshake
  failure;
- warnings, where it may work for a reader or later: a redirect (link to where it leads),
  401 / 403 / 429 (sites often refuse robots), 5xx, a timeout, a refused or reset
  connection, and a DNS lookup that failed for now.

`check --links --strict` makes every warning an error, as for the other checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import ssl
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
from markdown_it.token import Token

from pipeline.issue.problems import Problem, Severity
from pipeline.issue.source import Issue

log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_TIMEOUT = 10.0  # seconds per request, connect to last byte of the headers
DEFAULT_CONCURRENCY = 8  # requests in flight: quick, and gentle with any one site
USER_AGENT = "newsletter-link-check/1 (checks the links of a newsletter issue before it is sent)"
# Answers that say "not for you, robot" as often as "gone": a reader may well get the page.
_REFUSED_ROBOTS = {401: "asks for a login", 403: "refused the checker", 429: "rate-limited"}


class Verdict(StrEnum):
    OK = "ok"
    REDIRECT = "redirect"
    HTTP_ERROR = "http-error"  # a 4xx or 5xx answer
    DNS = "dns"
    TLS = "tls"
    TIMEOUT = "timeout"
    CONNECTION = "connection"  # refused, reset, closed early


# No answer at all: when every link ends so, the network is the likelier culprit.
UNREACHED = frozenset({Verdict.DNS, Verdict.TIMEOUT, Verdict.CONNECTION, Verdict.TLS})


@dataclass(frozen=True, slots=True)
class Link:
    """One link as written in the issue, with its place in the file."""

    url: str
    line: int
    col: int
    kind: str  # "article", "link" or "image"


@dataclass(frozen=True, slots=True)
class LinkResult:
    """What fetching one URL found."""

    url: str
    verdict: Verdict
    severity: Severity | None  # None: nothing to report
    detail: str  # for people: "HTTP 404", "redirects (301) to https://..."
    status: int | None = None  # the last HTTP status, if any answer came
    final_url: str | None = None  # where redirects led

    def as_dict(self) -> dict[str, object]:
        return {
            "url": self.url,
            "verdict": str(self.verdict),
            "severity": str(self.severity) if self.severity else None,
            "detail": self.detail,
            "status": self.status,
            "final_url": self.final_url,
        }


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """Every link of an issue and the result for each distinct URL."""

    path: str
    links: list[Link]
    results: dict[str, LinkResult]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for link in self.links:
            result = self.results.get(link.url)
            if result is None or result.severity is None:
                continue
            what = "image" if link.kind == "image" else "link"
            found.append(
                Problem(
                    self.path,
                    link.line,
                    link.col,
                    result.severity,
                    f"{what} {link.url}: {result.detail}",
                    rule="links",
                    kind=str(result.verdict),
                    url=link.url,
                )
            )
        return found


# -- finding the links ---------------------------------------------------------------------


def _position(issue: Issue, lines: list[str], block: Token | None, url: str) -> tuple[int, int]:
    """The file position of `url` in its block (markdown-it keeps lines, not columns)."""
    if block is None or not block.map:
        return issue.body_offset + 1, 1
    first = issue.body_offset + block.map[0]
    last = min(issue.body_offset + block.map[1], len(lines))
    for candidate in (url, unquote(url)):
        for index in range(first, last):
            col = lines[index].find(candidate)
            if col >= 0:
                return index + 1, col + 1
    return first + 1, 1


def _inline_links(tokens: list[Token]) -> Iterator[tuple[str, str, Token]]:
    for block in tokens:
        for child in block.children or []:
            if child.type == "link_open":
                yield str(child.attrs.get("href", "")), "link", block
            elif child.type == "image":
                yield str(child.attrs.get("src", "")), "image", block


def find_links(issue: Issue) -> list[Link]:
    """Every http(s) link and image of the issue, in file order (mailto: is not fetched)."""
    lines = issue.text.split("\n")
    found: list[Link] = []

    def add(url: str, kind: str, at: tuple[int, int]) -> None:
        if url.lower().startswith(("http://", "https://")):
            found.append(Link(url, at[0], at[1], kind))

    for url, kind, block in _inline_links(issue.intro):
        add(url, kind, _position(issue, lines, block, url))
    for article in issue.articles:
        heading = lines[article.line - 1] if article.line <= len(lines) else ""
        add(article.url, "article", (article.line, max(heading.find(article.url), 0) + 1))
        for url, kind, block in _inline_links(article.tokens):
            add(url, kind, _position(issue, lines, block, url))
    return sorted(found, key=lambda link: (link.line, link.col))


# -- fetching ------------------------------------------------------------------------------


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _failure(url: str, exc: Exception) -> LinkResult:
    """A request that got no answer, by what stopped it."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            if cause.errno == socket.EAI_AGAIN:
                return LinkResult(
                    url,
                    Verdict.DNS,
                    Severity.WARNING,
                    "the name could not be looked up just now (DNS): try again",
                )
            return LinkResult(
                url, Verdict.DNS, Severity.ERROR, "the host name does not exist (DNS)"
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or "certificate not trusted"
            return LinkResult(url, Verdict.TLS, Severity.ERROR, f"TLS certificate error: {reason}")
        if isinstance(cause, ssl.SSLError):
            return LinkResult(url, Verdict.TLS, Severity.ERROR, f"TLS error: {cause.reason}")
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return LinkResult(url, Verdict.TIMEOUT, Severity.WARNING, "no answer in time (timeout)")
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError):
            return LinkResult(url, Verdict.CONNECTION, Severity.WARNING, "connection refused")
    reason = str(exc) or type(exc).__name__
    return LinkResult(url, Verdict.CONNECTION, Severity.WARNING, f"cannot connect: {reason[:200]}")


def _judge(url: str, response: httpx.Response) -> LinkResult:
    status = response.status_code
    final = str(response.url)
    if status >= 400:
        where = f" (after redirects, at {final})" if response.history else ""
        if status in _REFUSED_ROBOTS:
            detail = (
                f"HTTP {status}: the site {_REFUSED_ROBOTS[status]}{where}; "
                "open it in a browser to be sure"
            )
            return LinkResult(url, Verdict.HTTP_ERROR, Severity.WARNING, detail, status, final)
        if status >= 500:
            detail = f"HTTP {status}: the site has a server error{where}; check it again later"
            return LinkResult(url, Verdict.HTTP_ERROR, Severity.WARNING, detail, status, final)
        name = {404: "not found", 410: "gone"}.get(status, response.reason_phrase or "refused")
        detail = f"HTTP {status} ({name}){where}: fix or remove the link"
        return LinkResult(url, Verdict.HTTP_ERROR, Severity.ERROR, detail, status, final)
    if response.history:
        first = response.history[0].status_code
        detail = f"redirects ({first}) to {final}: link there directly"
        return LinkResult(url, Verdict.REDIRECT, Severity.WARNING, detail, status, final)
    return LinkResult(url, Verdict.OK, None, f"HTTP {status}", status, final)


async def _request(
    client: httpx.AsyncClient, method: str, url: str, timeout: float
) -> httpx.Response:
    # httpx's timeout bounds each read; this bounds the whole request, redirects included,
    # so a server that trickles bytes cannot hold the check.
    async with asyncio.timeout(timeout):
        async with client.stream(method, url) as response:
            return response  # the body is never read


async def fetch(client: httpx.AsyncClient, url: str, timeout: float) -> LinkResult:
    """One URL: HEAD, then GET if HEAD is refused, answered with an error or cut off."""
    try:
        try:
            response: httpx.Response | None = await _request(client, "HEAD", url, timeout)
        except httpx.RemoteProtocolError:  # a server that drops the connection on HEAD
            response = None
        if response is None or response.status_code >= 400:
            response = await _request(client, "GET", url, timeout)
    except httpx.TooManyRedirects:
        detail = "redirects in a loop (or more than 20 times): fix or remove the link"
        return LinkResult(url, Verdict.REDIRECT, Severity.ERROR, detail)
    except (httpx.HTTPError, OSError, TimeoutError) as exc:
        return _failure(url, exc)
    except httpx.InvalidURL as exc:
        return LinkResult(url, Verdict.CONNECTION, Severity.ERROR, f"not a valid URL: {exc}")
    return _judge(url, response)


async def fetch_all(
    urls: Iterable[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: ssl.SSLContext | bool = True,
) -> dict[str, LinkResult]:
    """Each distinct URL fetched once, `concurrency` at a time."""
    distinct = list(dict.fromkeys(urls))
    gate = asyncio.Semaphore(max(concurrency, 1))
    async with client_for(timeout, concurrency, verify) as client:

        async def one(url: str) -> LinkResult:
            async with gate:
                return await fetch(client, url, timeout)

        results = await asyncio.gather(*(one(url) for url in distinct))
    log.info("checked %d distinct link(s)", len(distinct))
    return dict(zip(distinct, results, strict=True))


def client_for(
    timeout: float, concurrency: int, verify: ssl.SSLContext | bool
) -> httpx.AsyncClient:
    """The one HTTP client of the links: redirects followed, our User-Agent, at most
    `concurrency` connections."""
    return httpx.AsyncClient(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=max(concurrency, 1)),
        verify=verify,
    )


PAGE_START_BYTES = 256 * 1024  # the head of a page, where its title is


@dataclass(frozen=True, slots=True)
class PageStart:
    """The beginning of a page (`PAGE_START_BYTES` at most), or why there is none."""

    url: str
    text: str | None  # decoded as the server says, else UTF-8; None: not fetched
    problem: str | None = None  # for people: "HTTP 404", "timed out after 10 s"


async def _page_start(client: httpx.AsyncClient, url: str, timeout: float) -> PageStart:
    try:
        async with asyncio.timeout(timeout), client.stream("GET", url) as response:
            if response.status_code >= 400:
                return PageStart(url, None, f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= PAGE_START_BYTES:
                    break
            encoding = response.charset_encoding or "utf-8"
            try:
                return PageStart(url, bytes(body[:PAGE_START_BYTES]).decode(encoding, "replace"))
            except LookupError:  # a charset Python does not know
                return PageStart(url, bytes(body[:PAGE_START_BYTES]).decode("utf-8", "replace"))
    except (httpx.HTTPError, OSError, TimeoutError, httpx.InvalidURL) as exc:
        return PageStart(url, None, _failure(url, exc).detail)


def fetch_page_starts(
    urls: Iterable[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: ssl.SSLContext | bool = True,
) -> dict[str, PageStart]:
    """The beginning of each page (for its title), with the link check's client and
    limits: `timeout` seconds for each page in all, `concurrency` at a time."""
    distinct = list(dict.fromkeys(urls))

    async def run() -> list[PageStart]:
        gate = asyncio.Semaphore(max(concurrency, 1))
        async with client_for(timeout, concurrency, verify) as client:

            async def one(url: str) -> PageStart:
                async with gate:
                    return await _page_start(client, url, timeout)

            return await asyncio.gather(*(one(url) for url in distinct))

    return dict(zip(distinct, _apart(run()), strict=True))


def _apart(work: Coroutine[Any, Any, _T]) -> _T:
    """Run `work` in a thread with an event loop of its own, so that it works even where
    the calling thread already has a loop running (a caller inside another async
    framework)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


async def check_issues(
    issues: Iterable[Issue],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: ssl.SSLContext | bool = True,
) -> list[LinkCheck]:
    """The links of several issues, with one cache: a URL in two files is fetched once."""
    found = [(str(issue.path), find_links(issue)) for issue in issues]
    urls = [link.url for _, links in found for link in links]
    results = await fetch_all(urls, timeout=timeout, concurrency=concurrency, verify=verify)
    return [
        LinkCheck(path, links, {link.url: results[link.url] for link in links})
        for path, links in found
    ]


def check_links(
    issues: Iterable[Issue],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify: ssl.SSLContext | bool = True,
) -> list[LinkCheck]:
    """`check_issues` for synchronous code (in an event loop of its own)."""
    return _apart(check_issues(issues, timeout=timeout, concurrency=concurrency, verify=verify))
