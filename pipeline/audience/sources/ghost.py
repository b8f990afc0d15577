"""Ghost's members CSV (Members -> Export): `id, email, name, note, subscribed_to_emails,
complimentary_plan, stripe_customer_id, created_at, deleted_at, labels, tiers` (newer
versions add columns such as `gift_id`). `subscribed_to_emails` false means the member gets
no newsletter: they arrive unsubscribed (empty means true, as Ghost's own import reads it).
`labels` and `tiers` are comma-joined names and become lists; Ghost's `id` is kept as
`ghost_id`. Dates are ISO 8601 (`2023-04-21T11:16:57.000Z`).
"""

from __future__ import annotations

from pipeline.audience.listfile import BadRow, Row
from pipeline.audience.sources import dates
from pipeline.audience.sources.base import (
    BadCell,
    Columns,
    Context,
    Mapper,
    OptionalCells,
    Skipped,
    Source,
    attributes,
    boolean,
    cell,
    comma_list,
)


def reader(header: list[str], context: Context) -> Mapper:
    columns = Columns(header, context.where)
    email_at = columns.need("email")
    name_at = columns.at("name")
    subscribed_at = columns.need("subscribed_to_emails")
    created_at = columns.at("created_at")
    lists = [(at, n) for n in ("labels", "tiers") if (at := columns.at(n)) is not None]
    rest = columns.rest({"id": "ghost_id"})
    now = context.now

    def row(line: int, cells: list[str]) -> Row | BadRow | Skipped:
        try:
            subscribed = boolean(cells[subscribed_at], "subscribed_to_emails")
            optional = OptionalCells(suppresses=subscribed is False)
            created_text = cell(cells, created_at)
            created = optional.read(lambda: dates.past(dates.iso, created_text, "created_at", now))
        except BadCell as exc:
            return BadRow(line, str(exc))
        extra = attributes(cells, rest)
        for at, key in lists:
            if items := comma_list(cells[at]):
                extra["tags" if key == "labels" else key] = items  # labels are our tags
        return Row(
            line,
            cells[email_at],
            cell(cells, name_at) or None,
            extra,
            "unsubscribed" if subscribed is False else "subscribed",
            created,
            dropped=tuple(optional.dropped),
        )

    return row


SOURCE = Source(
    name="ghost",
    title="Ghost members export",
    required=("email", "subscribed_to_emails"),
    reader=reader,
)
