"""schedules: a campaign to start at a given time, with the issue as it was rendered

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column(
            "list_id",
            sa.Integer,
            sa.ForeignKey("lists.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("send_at", UTCDateTime, nullable=False),  # always UTC
        sa.Column("timezone", sa.String(64), nullable=False),  # the zone `--at` was read in
        sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        # The issue as checked and rendered by `schedule`, as JSON: what goes out.
        sa.Column("rendered", sa.Text, nullable=False),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id", ondelete="SET NULL")),
        sa.Column("note", sa.Text),  # why it is missed, who cancelled it, ...
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "state IN ('scheduled', 'running', 'sent', 'missed', 'cancelled')",
            name="schedule_state",
        ),
        # One schedule per issue and list: scheduling again replaces it.
        sa.UniqueConstraint("issue_number", "list_id", name="uq_schedule_issue_list"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_schedules_due", "schedules", ["state", "send_at"])


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
