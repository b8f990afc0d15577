"""A DNS server on loopback for the tests (dnspython answers; UDP, one thread): the zone
is a dict the test edits, so `doctor` reads DNS as the world would, never the network::

    with DnsStub() as dns:
        dns.add("bounce.example.com", "TXT", "v=spf1 include:amazonses.com ~all")
        # the setting: dns_servers = [dns.address]
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from types import TracebackType

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsStub:
    def __init__(self) -> None:
        self.zone: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
        self.queries: list[tuple[str, str]] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._running = False

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def add(self, name: str, kind: str, value: str) -> None:
        """A record; TXT values are plain text (quoted here), others as a zone file has them."""
        if kind == "TXT":
            value = '"' + value.replace('"', '\\"') + '"'
        self.zone[(name.lower().rstrip("."), kind)].append(value)

    def remove(self, name: str, kind: str) -> None:
        self.zone.pop((name.lower().rstrip("."), kind), None)

    def __enter__(self) -> DnsStub:
        self._running = True
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running = False
        host, port = self._socket.getsockname()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:  # ends recvfrom
            wake.sendto(b"", (host, port))
        self._thread.join(timeout=2)
        self._socket.close()

    def _serve(self) -> None:
        while self._running:
            try:
                wire, peer = self._socket.recvfrom(4096)
            except OSError:
                return
            try:
                answer = self._answer(dns.message.from_wire(wire))
                self._socket.sendto(answer.to_wire(), peer)
            except Exception:  # a test server: a bad packet is dropped
                continue

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        values = self.zone.get((name, kind), [])
        if values:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, kind, values)
            )
        elif not any(key[0] == name for key in self.zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
