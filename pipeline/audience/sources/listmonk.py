"""listmonk's subscriber export (Subscribers -> Export): `uuid, email, name, attributes,
status, created_at, updated_at`, written by Go's csv package, `attributes` a JSON object
and the dates Go's `time.Time.String()`.

`status` is the person's, not a list's: `enabled`, `disabled` or `blocklisted`. listmonk
sends campaigns to everyone but the blocklisted (its campaign query excludes only
`blocklisted`), so `disabled` people arrive subscribed like `enabled` ones. A blocklisted
address gets no mail from listmonk at all (its bounce handling blocklists too), so it
arrives with the status that stops every list here, `unsubscribed`: only an explicit
`resubscribe` (or a fresh, confirmed signup) mails it again. The export does not say who
unsubscribed from which list, and its `updated_at` is the latest moment a blocklisting can
have happened. The JSON attributes are merged into the attributes, keys lowercased.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.audience.cleaning import shown
from pipeline.audience.listfile import BadRow, Row, Standing
from pipeline.audience.sources import dates
from pipeline.audience.sources.base import (
    BadCell,
    Columns,
    Context,
    Mapper,
    OptionalCells,
    Skipped,
    Source,
    attribute_name,
    attributes,
    cell,
)
from pipeline.audience.strictjson import strict_json_object

_STANDING: dict[str, Standing] = {
    "enabled": "subscribed",
    "disabled": "subscribed",
    "blocklisted": "blocklisted",
}


def _json_attributes(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        found = strict_json_object(text)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise BadCell(f"attributes is not a JSON object: {str(exc)[:80]}") from None
    inner: dict[str, Any] = {}
    for key, value in found.items():
        lowered = attribute_name(key.strip().lower())
        if lowered in inner:
            raise BadCell(f"attributes repeat the key {shown(lowered, 40)}, ignoring case")
        if value not in ("", None):
            inner[lowered] = value
    return inner


def reader(header: list[str], context: Context) -> Mapper:
    columns = Columns(header, context.where)
    email_at, name_at = columns.need("email"), columns.need("name")
    json_at, status_at = columns.need("attributes"), columns.need("status")
    created_at, updated_at = columns.at("created_at"), columns.at("updated_at")
    rest = columns.rest({"uuid": "listmonk_uuid"})
    now = context.now

    def row(line: int, cells: list[str]) -> Row | BadRow | Skipped:
        status = cells[status_at].lower()
        try:
            standing = _STANDING.get(status)
            if standing is None:
                raise BadCell(
                    f"status is {shown(cells[status_at], 40)}, not enabled, disabled or blocklisted"
                )
            optional = OptionalCells(suppresses=standing != "subscribed")
            created_text, updated_text = cell(cells, created_at), cell(cells, updated_at)
            created = optional.read(
                lambda: dates.past(dates.listmonk, created_text, "created_at", now)
            )
            updated = optional.read(lambda: dates.listmonk(updated_text, "updated_at"))
            inner = optional.read(lambda: _json_attributes(cells[json_at])) or {}
            extra = {**inner, **attributes(cells, rest)}
        except BadCell as exc:
            return BadRow(line, str(exc))
        return Row(
            line,
            cells[email_at],
            cells[name_at] or None,
            extra,
            standing,
            created,
            None,
            None,
            updated if standing == "blocklisted" else None,
            tuple(optional.dropped),
        )

    return row


SOURCE = Source(
    name="listmonk",
    title="listmonk subscriber export",
    required=("uuid", "email", "name", "attributes", "status"),
    reader=reader,
)
