"""JSON read strictly, as a list file's JSON Lines and listmonk's attributes cell are: no
NaN or Infinity (Python's json takes them, JSON does not), no key twice in one object
(json.loads would keep the last silently)."""

from __future__ import annotations

import json
import math
from typing import Any

from pipeline.audience.cleaning import shown


class DuplicateKey(ValueError):
    """The same key twice in one JSON object: json.loads would keep the last silently."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(f"the key {shown(key)} appears twice in one object")
        found[key] = value
    return found


class NotFinite(ValueError):
    """NaN or Infinity in a JSON Lines record: Python's json accepts them, JSON does not."""


def _refuse_constant(constant: str) -> float:
    raise NotFinite(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400
        raise NotFinite(f"{text[:40]} is too large a number")
    return number


def loads(text: str) -> Any:
    """Any JSON value, strictly. Raises ValueError (JSONDecodeError, DuplicateKey and
    NotFinite are ones) or RecursionError."""
    return json.loads(
        text, parse_constant=_refuse_constant, parse_float=_finite, object_pairs_hook=_unique_keys
    )


def strict_json_object(text: str) -> dict[str, Any]:
    """A JSON object read as strictly as a JSON Lines record."""
    found = loads(text)
    if not isinstance(found, dict):
        raise ValueError("not a JSON object")
    return found
