"""lists: a title shown to readers (the name stays the identifier)

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What readers see on the signup form, the confirmation and the preference page:
    # "Weekly digest" for the list named `weekly`. Null: readers see the name.
    op.add_column("lists", sa.Column("title", sa.String(100)))


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
