"""The database schema: versioned migrations (the DDL) and the shapes queries use.

To change the schema, append a `Migration` to `MIGRATIONS`; never edit one that has
shipped, since some database already ran it. Then update the query shapes at the bottom to
match. `Store.migrate` applies the missing steps in order on first use, each in its own
transaction; `tests/db/test_store.py` checks that every column named in the shapes exists
after migrating, and that a database made at version 1 upgrades without losing rows.
For example, the send step's tables would be one more step:

    def _m3_deliveries(conn: Connection) -> None:
        md = sa.MetaData()
        sa.Table("campaigns", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
        sa.Table("deliveries", md, ..., sa.Column("campaign_id", sa.ForeignKey("campaigns.id")))
        md.tables["deliveries"].create(conn)
        conn.execute(sa.text("ALTER TABLE campaigns ADD COLUMN subject TEXT"))

    MIGRATIONS.append(Migration(3, "deliveries; campaigns.subject", _m3_deliveries))

Plain DDL text is fine where it is portable (ADD COLUMN, CREATE INDEX); build tables with
SQLAlchemy so types come out right on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

SUBSCRIBER_STATUSES = ("active", "unsubscribed", "bounced", "complained")
MEMBERSHIP_STATUSES = ("subscribed", "unsubscribed")


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


# --- migrations: the DDL, one step per schema version ------------------------------------


def _m1_initial(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "subscribers",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        # lowercased address: the uniqueness key, so Kim@x.com and kim@X.com are one person
        sa.Column("email_key", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.Text),
        sa.Column("attributes", sa.Text, nullable=False, server_default="{}"),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(f"status IN {SUBSCRIBER_STATUSES!r}", name="subscriber_status"),
        # AUTOINCREMENT: ids are never reused, so an old unsubscribe token can never
        # name someone who joined after the original subscriber was forgotten.
        sqlite_autoincrement=True,
    )
    sa.Table(
        "lists",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", ts, nullable=False),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "memberships",
        md,
        sa.Column(
            "subscriber_id",
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subscribed_at", ts, nullable=False),
        sa.Column("unsubscribed_at", ts),
        sa.Column("updated_at", ts, nullable=False),
        sa.CheckConstraint(f"status IN {MEMBERSHIP_STATUSES!r}", name="membership_status"),
    )
    sa.Table(
        "suppressions",
        md,
        # sha256 of the lowercased address of a forgotten subscriber: nothing else is kept
        sa.Column("email_hash", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", ts, nullable=False),
    )
    sa.Table(
        "campaigns",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        # SET NULL: deleting a list with --force keeps the record of what was sent
        sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="SET NULL")),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("created_at", ts, nullable=False),
        sqlite_autoincrement=True,
    )
    md.create_all(conn)


def _m2_membership_source(conn: Connection) -> None:
    # Where a membership came from ("import sample.csv", "cli"): the consent record.
    conn.execute(sa.text("ALTER TABLE memberships ADD COLUMN source VARCHAR(200)"))
    # The send loop and `lists` counts read members of one list in subscriber order.
    conn.execute(
        sa.text("CREATE INDEX ix_memberships_list ON memberships (list_id, status, subscriber_id)")
    )


DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "skipped", "unknown")


def _m3_send_log(conn: Connection) -> None:
    """The send log: one delivery row per recipient of a campaign, plus test sends."""
    for ddl in (
        "ALTER TABLE campaigns ADD COLUMN list_name VARCHAR(200)",
        "ALTER TABLE campaigns ADD COLUMN subject TEXT",
        "ALTER TABLE campaigns ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT FALSE",
        "ALTER TABLE campaigns ADD COLUMN pause_reason TEXT",
        "ALTER TABLE campaigns ADD COLUMN started_at TIMESTAMP WITH TIME ZONE",
        "ALTER TABLE campaigns ADD COLUMN finished_at TIMESTAMP WITH TIME ZONE",
        "ALTER TABLE campaigns ADD COLUMN updated_at TIMESTAMP WITH TIME ZONE",
    ):
        conn.execute(sa.text(ddl))
    md = sa.MetaData()
    sa.Table("campaigns", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table("subscribers", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table(
        "deliveries",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("campaign_id", sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        # SET NULL: forgetting a person keeps the counts, not the person
        sa.Column("subscriber_id", sa.ForeignKey("subscribers.id", ondelete="SET NULL")),
        sa.Column("email", sa.String(320)),
        sa.Column("name", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("campaign_id", "subscriber_id", name="one_delivery_per_person"),
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES!r}", name="delivery_status"),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "test_sends",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    md.tables["deliveries"].create(conn)
    md.tables["test_sends"].create(conn)
    conn.execute(
        sa.text("CREATE INDEX ix_deliveries_claim ON deliveries (campaign_id, status, id)")
    )
    conn.execute(sa.text("CREATE INDEX ix_deliveries_message ON deliveries (message_id)"))
    conn.execute(sa.text("CREATE INDEX ix_deliveries_subscriber ON deliveries (subscriber_id)"))
    conn.execute(
        sa.text(
            "CREATE UNIQUE INDEX ux_campaigns_issue_list "
            "ON campaigns (issue_number, list_id, dry_run)"
        )
    )


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


def _m4_events(conn: Connection) -> None:
    """SES events (bounces, complaints, deliveries, opens, clicks), matched to deliveries."""
    md = sa.MetaData()
    sa.Table("deliveries", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table("subscribers", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table(
        "events",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        # sha256 of the event's canonical JSON: the same event twice is stored once
        sa.Column("event_key", sa.String(64), nullable=False, unique=True),
        sa.Column("message_id", sa.String(200)),
        sa.Column("delivery_id", sa.ForeignKey("deliveries.id", ondelete="SET NULL")),
        sa.Column("subscriber_id", sa.ForeignKey("subscribers.id", ondelete="SET NULL")),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("bounce_type", sa.String(32)),
        sa.Column("bounce_subtype", sa.String(64)),
        sa.Column("detail", sa.Text),  # the link of a click, the reason of a reject, ...
        sa.Column("occurred_at", UTCDateTime),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    md.tables["events"].create(conn)
    for index in (
        "ix_events_delivery ON events (delivery_id, event_type)",
        "ix_events_subscriber ON events (subscriber_id, event_type)",
        "ix_events_message ON events (message_id)",
    ):
        conn.execute(sa.text(f"CREATE INDEX {index}"))


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


MIGRATIONS: list[Migration] = [
    Migration(1, "subscribers, lists, memberships, suppressions, campaigns", _m1_initial),
    Migration(2, "memberships.source and an index for list members", _m2_membership_source),
    Migration(3, "send log: deliveries, test_sends, campaign details", _m3_send_log),
    Migration(4, "SES events matched to deliveries", _m4_events),
]
LATEST = MIGRATIONS[-1].version

schema_version = sa.Table(
    "schema_version",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

# --- query shapes: the current schema, as the queries in store.py see it -----------------------

ts = UTCDateTime()  # for query shapes and bind parameters
subscribers = sa.table(
    "subscribers",
    *(sa.column(c) for c in ("id", "email", "email_key", "name", "attributes", "status")),
    sa.column("created_at", ts),
    sa.column("updated_at", ts),
)
lists = sa.table("lists", sa.column("id"), sa.column("name"), sa.column("created_at", ts))
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
)
deliveries = sa.table(
    "deliveries",
    *(sa.column(c) for c in ("id", "campaign_id", "subscriber_id", "email", "name", "status")),
    *(sa.column(c) for c in ("message_id", "error", "attempts")),
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
QUERY_TABLES = (
    subscribers,
    lists,
    memberships,
    suppressions,
    campaigns,
    deliveries,
    test_sends,
    events,
)
