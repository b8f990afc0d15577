"""JSON from outside (SNS POST bodies, the SES events inside them, `events ingest` lines, SQS
message bodies), read so that no document can crash us or anything downstream.

`json.loads` alone raises RecursionError on deep nesting (100,000 `[` is a 100 KB body),
accepts NaN and Infinity (not JSON), and returns lone surrogates (`"\\ud800"`) that no UTF-8
encoder, hash or database driver accepts later, and NUL characters that PostgreSQL's text
cannot store. `load` refuses all of these with a short
reason, as one exception type callers turn into a 400 or an invalid line.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # SES events nest about 5 deep; the SNS envelope is flat
MAX_NUMBER_DIGITS = 40  # SES numbers are timestamps, counters and millisecond durations


class JsonRefused(ValueError):
    """A document we do not read; `reason` says why, for a log line or an answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    # Before int(): a 100,000-digit number costs quadratic time to convert.
    if len(text) > MAX_NUMBER_DIGITS:
        raise JsonRefused(f"a number with {len(text)} digits")
    return int(text)


def _real(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise JsonRefused(f"a number with {len(text)} characters")
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999
        raise JsonRefused(f"the number {text} is too large")
    return value


def _check_shape(document: Any) -> None:
    """Depth within MAX_DEPTH and every string (keys too) encodable as UTF-8. Iterative,
    so checking cannot itself run out of stack."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("a string with a lone surrogate (\\ud800-\\udfff)") from None
            if "\x00" in value:  # PostgreSQL's text cannot hold it
                raise JsonRefused("a string with a NUL character (\\u0000)")
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise JsonRefused(f"nested more than {MAX_DEPTH} levels deep")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def load(data: bytes | str) -> Any:
    """The JSON document in `data` (UTF-8 when bytes), or JsonRefused."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(f"not UTF-8 (byte {exc.start})") from None
    try:
        document = json.loads(
            data, parse_constant=_no_constant, parse_int=_integer, parse_float=_real
        )
    except RecursionError:
        raise JsonRefused("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # JsonRefused from the hooks above
        raise JsonRefused(str(exc)) from None
    _check_shape(document)
    return document
