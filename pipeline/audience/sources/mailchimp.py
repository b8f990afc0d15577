"""Mailchimp's audience export: a zip of CSVs, one per status (`subscribed_members_export_
<id>.csv`, `unsubscribed_...`, `cleaned_...`, and `nonsubscribed_...` for contacts who
never opted in). They share `Email Address, First Name, Last Name`, the audience's merge
fields, `MEMBER_RATING, OPTIN_TIME, OPTIN_IP, CONFIRM_TIME, CONFIRM_IP, LATITUDE, ...,
REGION`, then `LAST_CHANGED` (subscribed), `UNSUB_TIME, UNSUB_CAMPAIGN_TITLE, ...`
(unsubscribed) or `CLEAN_TIME, CLEAN_CAMPAIGN_TITLE, ...` (cleaned: the address bounced),
and end with `LEID, EUID, NOTES, TAGS`. Cells may carry stray spaces; times are UTC.

Which file is which is known twice: from its name and from its columns. When the two
disagree the file is refused rather than guessed at (a wrong guess either mails people who
left or drops people who stayed).
"""

from __future__ import annotations

from datetime import datetime

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
    attributes,
    cell,
    ip_address,
    quoted_list,
)
from pipeline.errors import InputError

# Consumed into the person's record and the consent record, not kept as attributes.
_CONSENT = ("optin_time", "optin_ip", "confirm_time", "confirm_ip")
_KINDS = ("subscribed", "unsubscribed", "cleaned", "nonsubscribed")
_STANDING: dict[str, Standing] = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "cleaned": "bounced",
}


def recognise(columns: frozenset[str]) -> bool:
    return (
        "email address" in columns
        and "optin_time" in columns
        and bool({"leid", "euid", "member_rating"} & columns)
    )


def kind_by_name(file_name: str) -> str | None:
    """subscribed / unsubscribed / cleaned / nonsubscribed from Mailchimp's file name."""
    base = file_name.rsplit("/", 1)[-1].lower()
    # the longest first: "unsubscribed" and "nonsubscribed" both end in "subscribed"
    for kind in sorted(_KINDS, key=len, reverse=True):
        if base.startswith(kind):
            return kind
    return None


def kind_by_columns(names: set[str]) -> str:
    if "clean_time" in names:
        return "cleaned"
    if "unsub_time" in names:
        return "unsubscribed"
    return "subscribed"


def kind_of(header: list[str], context: Context) -> str:
    """Which of Mailchimp's files this is; InputError when its name and columns disagree."""
    by_columns = kind_by_columns({h.lower() for h in header})
    by_name = kind_by_name(context.file_name)
    if by_name is None or by_name == by_columns:
        return by_columns
    if by_name == "nonsubscribed" and by_columns == "subscribed":
        return by_name  # same columns as the subscribed file
    raise InputError(
        f"{context.where}: the file's name says {by_name} members but its columns are those "
        f"of {by_columns} members",
        hint="rename the file as Mailchimp named it (subscribed_..., unsubscribed_..., "
        "cleaned_...), or import the original export",
    )


def reader(header: list[str], context: Context) -> Mapper:
    kind = kind_of(header, context)
    columns = Columns(header, context.where)
    email_at = columns.need("email address")
    first_at, last_at = columns.at("first name"), columns.at("last name")
    optin_at, optin_ip_at = columns.at("optin_time"), columns.at("optin_ip")
    confirm_at = columns.at("confirm_time")
    # The consent record has one IP, the one the signup form saw; CONFIRM_IP stays an
    # attribute (`confirm_ip`), so that evidence is not lost.
    left_column = {"unsubscribed": "unsub_time", "cleaned": "clean_time"}.get(kind)
    left_at = columns.at(left_column) if left_column else None
    tags_at = columns.at("tags")
    rest = columns.rest()
    now = context.now

    def row(line: int, cells: list[str]) -> Row | BadRow | Skipped:
        if kind == "nonsubscribed":
            return Skipped(line, "a non-subscribed contact in Mailchimp (never opted in)")
        optional = OptionalCells(suppresses=kind != "subscribed")

        def moment(at: int | None, column: str) -> datetime | None:
            text = cell(cells, at)
            return optional.read(lambda: dates.past(dates.mailchimp, text, column, now))

        try:
            requested = moment(optin_at, "OPTIN_TIME")
            confirmed = moment(confirm_at, "CONFIRM_TIME")
            left = moment(left_at, left_column.upper()) if left_column else None
            ip = optional.read(lambda: ip_address(cell(cells, optin_ip_at), "OPTIN_IP"))
        except BadCell as exc:
            return BadRow(line, str(exc))
        name = " ".join(part for part in (cell(cells, first_at), cell(cells, last_at)) if part)
        extra = attributes(cells, rest)
        tags = quoted_list(cell(cells, tags_at))
        if tags:
            extra["tags"] = tags
        return Row(
            line,
            cells[email_at],
            name or None,
            extra,
            _STANDING[kind],
            requested or confirmed,
            confirmed,
            ip,
            left,
            tuple(optional.dropped),
        )

    return row


def describe(header: list[str], context: Context) -> str:
    """The kind of a Mailchimp file, for the summary (`subscribed`, ...)."""
    try:
        return kind_of(header, context)
    except InputError:
        return "?"


SOURCE = Source(
    name="mailchimp",
    title="Mailchimp audience export",
    required=("email address", "optin_time"),
    recognise=recognise,
    reader=reader,
)
