"""Web sites on 127.0.0.1 for the link checker: one answer of each kind, and a count of the
requests each path received.

- `/ok` (and `/ok/...`) 200; `/moved` 301 to `/ok`; `/moved-to-missing` 302 to `/missing`; `/missing` 404; `/error` 500; `/forbidden` 403;
- `/head-refused`: 405 to HEAD, 200 to GET; `/head-drops`: hangs up on HEAD, 200 to GET;
- `/slow`: answers nothing until the site stops (a timeout that never races an answer);
- `closed`: a port where nothing listens (connection refused);
- the same paths over https with a self-signed certificate (a TLS error for any client that
  checks certificates).
"""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class LinkSites:
    http: str  # http://127.0.0.1:PORT
    https: str  # https://127.0.0.1:PORT, self-signed
    closed: str  # http://127.0.0.1:PORT where nothing listens
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, path)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self, path: str) -> int:
        """Requests of any method that `path` received."""
        return sum(n for (_, p), n in self.requests.items() if p == path)


def _handler(sites: LinkSites) -> type[http.server.BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            with lock:
                sites.requests[(method, path)] += 1
            if path == "/slow":
                sites.release.wait(30)
                return
            if path == "/head-drops" and method == "HEAD":
                self.close_connection = True  # hang up without an answer
                return
            status, headers = 200, {"Content-Type": "text/html"}
            if path == "/moved":
                status, headers = 301, {"Location": "/ok"}
            elif path == "/moved-to-missing":
                status, headers = 302, {"Location": "/missing"}
            elif path == "/missing":
                status = 404
            elif path == "/error":
                status = 500
            elif path == "/forbidden":
                status = 403
            elif path == "/head-refused" and method == "HEAD":
                status = 405
            elif path not in ("/ok", "/head-refused", "/head-drops") and not path.startswith(
                "/ok/"
            ):
                status = 404
            body = b"" if method == "HEAD" else f"<p>{status}</p>".encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(f"<p>{status}</p>")))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

    return Handler


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def link_sites(folder: Path) -> Iterator[LinkSites]:
    sites = LinkSites(http="", https="", closed=f"http://127.0.0.1:{_closed_port()}")
    handler = _handler(sites)
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    secure = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    cert, key = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (plain, secure):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sites.http = f"http://127.0.0.1:{plain.server_address[1]}"
    sites.https = f"https://127.0.0.1:{secure.server_address[1]}"
    try:
        yield sites
    finally:
        sites.release.set()
        for server in (plain, secure):
            server.shutdown()
            server.server_close()
