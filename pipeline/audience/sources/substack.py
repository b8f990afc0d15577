"""Substack's subscriber export: `email, active_subscription, expiry, (plan,)
email_disabled, created_at, (first_payment_at, ...)`; older exports of paying readers have
`email, expiry, email_disabled, stripe_connected_customer_id, type`.

`email_disabled` is the one column that says a reader gets no email (true: they turned it
off, so they arrive unsubscribed). `active_subscription` only says whether they pay: a free
reader has it empty, and still gets every free post, so it stays an attribute. Substack
leaves a placeholder `...@deletion-request.substack.com` for a reader who asked to be
deleted; such rows are skipped. Dates are ISO 8601 (`2018-08-27T15:06:27.713Z`).
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
)

_DELETED = "@deletion-request.substack.com"


def reader(header: list[str], context: Context) -> Mapper:
    columns = Columns(header, context.where)
    email_at = columns.need("email")
    name_at = columns.at("name")  # not in the exports seen so far; read if it comes
    disabled_at = columns.need("email_disabled")
    created_at = columns.at("created_at")
    rest = columns.rest()
    now = context.now

    def row(line: int, cells: list[str]) -> Row | BadRow | Skipped:
        email = cells[email_at]
        if email.lower().endswith(_DELETED):
            return Skipped(line, "Substack's placeholder for a reader who asked to be deleted")
        try:
            disabled = boolean(cells[disabled_at], "email_disabled")
            optional = OptionalCells(suppresses=bool(disabled))
            created_text = cell(cells, created_at)
            created = optional.read(lambda: dates.past(dates.iso, created_text, "created_at", now))
        except BadCell as exc:
            return BadRow(line, str(exc))
        return Row(
            line,
            email,
            cell(cells, name_at) or None,
            attributes(cells, rest),
            "unsubscribed" if disabled else "subscribed",
            created,
            dropped=tuple(optional.dropped),
        )

    return row


SOURCE = Source(
    name="substack",
    title="Substack subscriber export",
    required=("email", "email_disabled"),
    reader=reader,
)
