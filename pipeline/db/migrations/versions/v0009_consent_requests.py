"""consents: which confirmation email each signup request was sent in, when the reader
withdrew it before confirming, and the name it gave

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The outbox row of the confirmation that asked for this consent: its link confirms
    # exactly the requests it was sent for (null: not yet sent, or sent before links named
    # their email). No foreign key: outbox rows go only with their subscriber, as do these.
    op.add_column("consents", sa.Column("confirmation_id", sa.Integer))
    # Left (the preference page, an unsubscribe) while still waiting: no link confirms it.
    op.add_column("consents", sa.Column("withdrawn_at", UTCDateTime))
    # The name typed with the request: the person's name only once they confirm.
    op.add_column("consents", sa.Column("name", sa.String(200)))


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
