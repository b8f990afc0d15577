"""SES events matched to deliveries

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """SES events (bounces, complaints, deliveries, opens, clicks), matched to deliveries."""
    conn = op.get_bind()
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


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
