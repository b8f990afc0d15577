"""The database schema as the queries see it: column types, statuses and table shapes.

The DDL lives in Alembic revisions, `migrations/versions/`, one file per change, run by
`migrate.py`. To change the schema, add a revision file (copy the newest one, set
`revision` and `down_revision`) and never edit one that has shipped, since some database
already ran it; then update the shapes at the bottom to match. `tests/db/` checks that every
column named in the shapes exists after migrating, on SQLite and PostgreSQL, and that a
database made at an older revision upgrades without losing rows.

Plain DDL text is fine where it is portable (ADD COLUMN, CREATE INDEX); build tables with
SQLAlchemy so types come out right on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bounced", "complained")
# unconfirmed: signed up on the form, waiting for the confirmation link (double opt-in)
MEMBERSHIP_STATUSES = ("subscribed", "unsubscribed", "unconfirmed")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; SQLite stores naive text, so we put the zone back."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "unknown")
EVENT_TYPES = (
    "Send",
    "Delivery",
    "Bounce",
    "Complaint",
    "Reject",
    "DeliveryDelay",
    "Open",
    "Click",
    "RenderingFailure",
    "Subscription",
)

# Before Alembic, the schema version was a row here (1 to 4); `migrate` adopts such a
# database by stamping the Alembic revision of the same number.
LEGACY_VERSIONS = 4

ts = UTCDateTime()  # for table definitions, query shapes and bind parameters

# --- query shapes: the current schema, as the queries in store.py see it -----------------------

subscribers = sa.table(
    "subscribers",
    *(sa.column(c) for c in ("id", "email", "email_key", "name", "attributes", "status")),
    sa.column("created_at", ts),
    sa.column("updated_at", ts),
    sa.column("confirmation_sent_at", ts),
)
lists = sa.table(
    "lists",
    sa.column("id"),
    sa.column("name"),
    sa.column("created_at", ts),
    sa.column("public", sa.Boolean()),
    sa.column("description"),
    sa.column("title"),
)
memberships = sa.table(
    "memberships",
    sa.column("subscriber_id"),
    sa.column("list_id"),
    sa.column("status"),
    sa.column("subscribed_at", ts),
    sa.column("unsubscribed_at", ts),
    sa.column("updated_at", ts),
    sa.column("source"),
)
suppressions = sa.table(
    "suppressions", sa.column("email_hash"), sa.column("reason"), sa.column("created_at", ts)
)
campaigns = sa.table(
    "campaigns",
    sa.column("id"),
    sa.column("list_id"),
    sa.column("issue_number"),
    sa.column("status"),
    sa.column("created_at", ts),
    sa.column("list_name"),
    sa.column("subject"),
    sa.column("dry_run", sa.Boolean()),
    sa.column("pause_reason"),
    sa.column("started_at", ts),
    sa.column("finished_at", ts),
    sa.column("updated_at", ts),
    sa.column("audience"),  # '' for the whole list, else the filter (`segment`: its name)
    sa.column("segment"),
    sa.column("skipped_inactive"),
)
deliveries = sa.table(
    "deliveries",
    *(sa.column(c) for c in ("id", "campaign_id", "subscriber_id", "email", "name", "status")),
    *(sa.column(c) for c in ("message_id", "error", "attempts", "sender_id")),
    sa.column("claimed_at", ts),
    sa.column("sent_at", ts),
    sa.column("updated_at", ts),
)
test_sends = sa.table(
    "test_sends",
    *(sa.column(c) for c in ("id", "issue_number", "email", "status", "message_id", "error")),
    sa.column("created_at", ts),
)
events = sa.table(
    "events",
    *(sa.column(c) for c in ("id", "event_key", "message_id", "delivery_id", "subscriber_id")),
    *(sa.column(c) for c in ("event_type", "bounce_type", "bounce_subtype", "detail")),
    sa.column("occurred_at", ts),
    sa.column("received_at", ts),
)
senders = sa.table(
    "senders",
    *(sa.column(c) for c in ("id", "campaign_id", "host", "pid", "state", "rate", "sent")),
    sa.column("started_at", ts),
    sa.column("heartbeat_at", ts),
    sa.column("finished_at", ts),
)
consents = sa.table(
    "consents",
    *(sa.column(c) for c in ("id", "subscriber_id", "list_id", "method", "detail", "ip")),
    sa.column("user_agent"),
    sa.column("requested_at", ts),
    sa.column("confirmed_at", ts),
    sa.column("confirmation_id"),
    sa.column("withdrawn_at", ts),
    sa.column("name"),
)
signup_requests = sa.table(
    "signup_requests",
    *(sa.column(c) for c in ("id", "email", "name", "lists", "ip", "user_agent", "outcome")),
    sa.column("received_at", ts),
    sa.column("handled_at", ts),
)
rate_limits = sa.table(
    "rate_limits", sa.column("key"), sa.column("window_start", ts), sa.column("hits")
)
outbox = sa.table(
    "outbox",
    *(sa.column(c) for c in ("id", "kind", "subscriber_id", "email", "status", "message_id")),
    sa.column("error"),
    sa.column("attempts"),
    sa.column("created_at", ts),
    sa.column("claimed_at", ts),
    sa.column("sent_at", ts),
)
schedules = sa.table(
    "schedules",
    *(sa.column(c) for c in ("id", "issue_number", "list_id", "timezone", "state")),
    *(sa.column(c) for c in ("source_path", "source_sha256", "subject", "rendered")),
    sa.column("campaign_id"),
    sa.column("note"),
    *(sa.column(c) for c in ("audience", "segment", "skip_inactive")),
    sa.column("send_at", ts),
    sa.column("created_at", ts),
    sa.column("updated_at", ts),
)
web_versions = sa.table(
    "web_versions",
    *(sa.column(c) for c in ("campaign_id", "issue_number", "title", "subject", "preheader")),
    *(sa.column(c) for c in ("lang", "period", "html")),
    sa.column("stored_at", ts),
)
tags = sa.table("tags", sa.column("subscriber_id"), sa.column("tag"))
segments = sa.table(
    "segments",
    *(sa.column(c) for c in ("id", "name", "list_id", "expression")),
    sa.column("created_at", ts),
    sa.column("updated_at", ts),
)
QUERY_TABLES = (
    subscribers,
    lists,
    memberships,
    suppressions,
    campaigns,
    deliveries,
    test_sends,
    events,
    senders,
    consents,
    signup_requests,
    rate_limits,
    outbox,
    schedules,
    web_versions,
    tags,
    segments,
)
