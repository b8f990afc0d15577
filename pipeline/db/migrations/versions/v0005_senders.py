"""senders: one lease per process sending a campaign; deliveries.sender_id

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "senders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "campaign_id",
            sa.Integer,
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        # running while its heartbeat is fresh; finished when it left; lost when it died
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rate", sa.Float, nullable=False, server_default="0"),
        sa.Column("sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("heartbeat_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.CheckConstraint("state IN ('running', 'finished', 'lost')", name="sender_state"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_senders_state", "senders", ["state", "heartbeat_at"])
    op.create_index("ix_senders_campaign", "senders", ["campaign_id", "state"])
    # Which sender holds a row while it is `sending`: when that sender's lease expires,
    # exactly its rows become `unknown`, and the other senders' rows are left alone.
    # No foreign key: SQLite cannot add one to an existing table, and the lease rows
    # outlive nothing they point at (a campaign's senders go with it).
    op.add_column("deliveries", sa.Column("sender_id", sa.Integer))


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
