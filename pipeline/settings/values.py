"""The values settings hold that are more than a string: the signing key with the keys it
replaced, a DNS server's address, and the check every one-line setting passes."""

from __future__ import annotations

import ipaddress
from typing import Self

from pipeline.text import CONTROLS


def dns_server(value: str) -> tuple[str, int] | None:
    """`1.1.1.1`, `127.0.0.1:5353`, `::1` or `[::1]:5353` as (address, port); None if not."""
    value = value.strip()
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


class SecretKey(bytes):
    """The key that signs links (these bytes), carrying the keys it replaced (`old`):
    those still verify links already sent, and sign nothing (audience/tokens.py)."""

    old: tuple[bytes, ...]

    def __new__(cls, current: bytes, old: tuple[bytes, ...] = ()) -> Self:
        key = super().__new__(cls, current)
        key.old = old
        return key


def control_problem(value: str) -> str | None:
    found = CONTROLS.search(value)  # none of them belongs in a header
    if found is None:
        return None
    char = found.group()
    what = {"\n": "a line break (LF)", "\r": "a carriage return (CR)", "\t": "a tab"}.get(
        char, f"the control character U+{ord(char):04X}"
    )
    return f"contains {what} at character {found.start() + 1}"
