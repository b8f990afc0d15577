"""subscribers, lists, memberships, suppressions, campaigns

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import SUBSCRIBER_STATUSES, ts

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
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
        # The statuses as they were at this revision (0006 added `unconfirmed`).
        sa.CheckConstraint("status IN ('subscribed', 'unsubscribed')", name="membership_status"),
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


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
