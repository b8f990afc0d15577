"""web_versions: the web version of an issue as it was sent, kept for the archive

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_versions",
        # One per campaign, stored when it starts: the archive shows what was sent, not
        # what today's file would render.
        sa.Column(
            "campaign_id",
            sa.Integer,
            sa.ForeignKey("campaigns.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("issue_number", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("preheader", sa.Text),
        sa.Column("lang", sa.String(35), nullable=False),
        sa.Column("period", sa.Text),  # as the issue shows it, in its language
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_web_versions_issue", "web_versions", ["issue_number", "stored_at"])


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
