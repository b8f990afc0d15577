"""send log: deliveries, test_sends, campaign details

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import DELIVERY_STATUSES, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The send log: one delivery row per recipient of a campaign, plus test sends."""
    conn = op.get_bind()
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


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
