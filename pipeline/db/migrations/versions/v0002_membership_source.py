"""memberships.source and an index for list members

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    # Where a membership came from ("import sample.csv", "cli"): the consent record.
    conn.execute(sa.text("ALTER TABLE memberships ADD COLUMN source VARCHAR(200)"))
    # The send loop and `lists` counts read members of one list in subscriber order.
    conn.execute(
        sa.text("CREATE INDEX ix_memberships_list ON memberships (list_id, status, subscriber_id)")
    )


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
