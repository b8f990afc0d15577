"""The limits `serve` and `preview` run under (web/server.py), tested as a client sees them:
raw sockets on 127.0.0.1 against uvicorn configured by `server.configure`.

The timeouts here are short (a fraction of a second) and every wait for the server to act
is generous (seconds): a test fails only when the server never closes or answers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from pipeline.web.server import Limits, configure

PATIENCE = 10.0  # seconds a test waits for the server before calling it stuck
LIMITS = Limits(head_timeout=0.5, body_timeout=0.5, keep_alive=1, max_head=4096, max_body=1000)


async def echo(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"{request.method} {len(body)} bytes\n")


APP = Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])])


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    config = configure(APP, host="127.0.0.1", port=0, log_level="warning", limits=LIMITS)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE
    while not (server.started and server.servers):
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield server.servers[0].sockets[0].getsockname()[:2]
    server.should_exit = True
    thread.join(timeout=PATIENCE)


Connect = Callable[[], socket.socket]


@pytest.fixture
def connect(address: tuple[str, int]) -> Iterator[Connect]:
    opened: list[socket.socket] = []

    def open_one() -> socket.socket:
        sock = socket.create_connection(address, timeout=PATIENCE)
        opened.append(sock)
        return sock

    yield open_one
    for sock in opened:
        sock.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the connection open
    longer than PATIENCE."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; it sent {received!r}")
        if not chunk:
            return received
        received += chunk


def read_answer(sock: socket.socket) -> bytes:
    """One answer of the echo app, on a connection that stays open."""
    received = b""
    while not received.endswith(b"bytes\n"):
        chunk = sock.recv(65536)
        assert chunk, f"closed early after {received!r}"
        received += chunk
    return received


def request(path: str = "/echo", method: str = "GET", body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_an_idle_connection_is_closed(connect: Connect) -> None:
    assert read_until_closed(connect()) == b""


@pytest.mark.parametrize("sent", [b"G", b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"])
def test_a_head_that_never_ends_is_closed(connect: Connect, sent: bytes) -> None:
    sock = connect()
    sock.sendall(sent)
    assert read_until_closed(sock) == b""


def test_a_head_trickled_a_byte_at_a_time_is_closed(connect: Connect) -> None:
    """Each byte comes well within the head timeout; the whole head does not."""
    sock = connect()
    sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    try:
        while time.monotonic() - started < PATIENCE:
            sock.sendall(b"X")
            time.sleep(0.1)
    except (BrokenPipeError, ConnectionResetError):
        return  # closed while we were still sending
    assert read_until_closed(sock) == b""


def test_a_half_sent_body_is_answered_408_and_closed(connect: Connect) -> None:
    sock = connect()
    sock.sendall(request(method="POST", body=b"x" * 100)[:-90])  # 10 of 100 bytes
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request body too slow" in answer


def test_a_chunked_body_past_the_limit_is_413(connect: Connect) -> None:
    sock = connect()
    head = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"x" * 600
    sock.sendall(head + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer


def test_a_head_past_the_size_limit_is_refused(connect: Connect) -> None:
    """h11 bounds what it buffers of an unfinished head (a finished one arrives whole)."""
    sock = connect()
    sock.sendall(request(X_Padding="p" * 8192)[:-2])
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer


def test_normal_requests_still_work_and_keep_alive(connect: Connect) -> None:
    sock = connect()
    sock.sendall(request())
    first = read_answer(sock)
    assert first.startswith(b"HTTP/1.1 200 ") and first.endswith(b"GET 0 bytes\n"), first
    # Sent whole, but a piece at a time within the limits: the same connection answers.
    whole = request(method="POST", body=b"y" * 1000)
    for piece in (whole[:20], whole[20:200], whole[200:]):
        sock.sendall(piece)
        time.sleep(0.05)
    second = read_answer(sock)
    assert second.startswith(b"HTTP/1.1 200 ") and b"POST 1000 bytes" in second, second
    # Then idle: closed by the keep-alive timeout.
    assert read_until_closed(sock) == b""


def test_many_slow_clients_do_not_block_a_normal_one(connect: Connect) -> None:
    slow = [connect() for _ in range(20)]
    for sock in slow:
        sock.sendall(b"GET /echo HTTP/1.1\r\n")
    sock = connect()
    sock.sendall(request(Connection="close"))
    answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
