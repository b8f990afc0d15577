"""tags, segments, and the readers a campaign was meant for

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    md = sa.MetaData()
    sa.Table("subscribers", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table("lists", md, sa.Column("id", sa.Integer, primary_key=True))  # FK target
    sa.Table(
        "tags",
        md,
        sa.Column(
            "subscriber_id",
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # lowercased: tags are case-insensitive, one spelling is kept
        sa.Column("tag", sa.String(64), primary_key=True),
    )
    sa.Table(
        "segments",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sqlite_autoincrement=True,
    )
    md.tables["tags"].create(conn)
    md.tables["segments"].create(conn)
    # `tag:NAME` finds the people with a tag without reading every person's tags.
    conn.execute(sa.text("CREATE INDEX ix_tags_tag ON tags (tag, subscriber_id)"))
    # Who a campaign was for: '' for the whole list, else the filter as the publisher wrote
    # it (with a segment's name, `segment`). A campaign to a segment is another campaign
    # than the one to the whole list, so the uniqueness of a campaign takes the audience in.
    op.add_column("campaigns", sa.Column("audience", sa.Text, nullable=False, server_default=""))
    op.add_column("campaigns", sa.Column("segment", sa.String(200)))
    # Readers left out by --skip-inactive, for the report.
    op.add_column(
        "campaigns", sa.Column("skipped_inactive", sa.Integer, nullable=False, server_default="0")
    )
    # A schedule's audience, as the campaign it starts will have it (`where`: the filter's
    # text, of the segment named, fixed when it was scheduled).
    op.add_column("schedules", sa.Column("audience", sa.Text, nullable=False, server_default=""))
    op.add_column("schedules", sa.Column("segment", sa.String(200)))
    op.add_column(
        "schedules", sa.Column("skip_inactive", sa.Integer, nullable=False, server_default="0")
    )
    conn.execute(sa.text("DROP INDEX ux_campaigns_issue_list"))
    conn.execute(
        sa.text(
            "CREATE UNIQUE INDEX ux_campaigns_issue_list "
            "ON campaigns (issue_number, list_id, dry_run, audience)"
        )
    )


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
