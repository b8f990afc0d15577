"""signup and consent: public lists, `unconfirmed` memberships, consent records, the
signup inbox, per-IP rate limits and the outbox of confirmation and welcome mail

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipeline.db.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_STATUSES = "status IN ('subscribed', 'unsubscribed', 'unconfirmed')"


def _memberships_with_unconfirmed() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.drop_constraint("membership_status", "memberships", type_="check")
        op.create_check_constraint("membership_status", "memberships", _STATUSES)
        return
    # SQLite cannot change a CHECK constraint: build the table anew and copy the rows.
    # Nothing references memberships, so dropping the old table breaks no foreign key.
    md = sa.MetaData()
    for parent in ("subscribers", "lists"):  # stand-ins, so the foreign keys resolve
        sa.Table(parent, md, sa.Column("id", sa.Integer, primary_key=True))
    new = sa.Table(
        "memberships_new",
        md,
        sa.Column(
            "subscriber_id",
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("list_id", sa.ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subscribed_at", UTCDateTime, nullable=False),
        sa.Column("unsubscribed_at", UTCDateTime),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(200)),
        sa.CheckConstraint(_STATUSES, name="membership_status"),
    )
    md.create_all(conn, tables=[new])
    columns = "subscriber_id, list_id, status, subscribed_at, unsubscribed_at, updated_at, source"
    conn.execute(
        sa.text(f"INSERT INTO memberships_new ({columns}) SELECT {columns} FROM memberships")
    )
    conn.execute(sa.text("DROP TABLE memberships"))
    conn.execute(sa.text("ALTER TABLE memberships_new RENAME TO memberships"))
    conn.execute(
        sa.text("CREATE INDEX ix_memberships_list ON memberships (list_id, status, subscriber_id)")
    )


def upgrade() -> None:
    # Lists a reader may join on the signup form, and what the form says of each.
    op.add_column(
        "lists", sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("lists", sa.Column("description", sa.Text))
    _memberships_with_unconfirmed()
    # When this address was last sent a confirmation: at most one per period, however
    # many signups arrive (set with a conditional UPDATE, so several web workers agree).
    op.add_column("subscribers", sa.Column("confirmation_sent_at", UTCDateTime))
    # The proof of consent: who agreed to which list, when, how and from where.
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("list_id", sa.Integer, sa.ForeignKey("lists.id", ondelete="CASCADE")),
        sa.Column("method", sa.String(16), nullable=False),  # form, import, command
        sa.Column("detail", sa.String(300)),  # the file and format of an import, ...
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("confirmed_at", UTCDateTime),
        sa.CheckConstraint("method IN ('form', 'import', 'command')", name="consent_method"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_consents_subscriber", "consents", ["subscriber_id", "list_id"])
    # What the signup form received, handled later by the sender: the web answer does the
    # same work, in the same time, whatever the address's state (no enumeration).
    op.create_table(
        "signup_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("lists", sa.Text, nullable=False),  # JSON array of list names
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("handled_at", UTCDateTime),
        sa.Column("outcome", sa.String(64)),  # for the log: confirmation sent, suppressed, ...
        sqlite_autoincrement=True,
    )
    op.create_index("ix_signup_requests_open", "signup_requests", ["handled_at", "id"])
    # Fixed-window counters (per IP, per purpose), in the database so that every web
    # worker on every machine counts against the same limit.
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("window_start", UTCDateTime, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    # Transactional mail (confirmations, welcomes): one row per message, sent through the
    # same transport as campaigns and logged like any send.
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer,
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("message_id", sa.String(200)),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime),
        sa.Column("sent_at", UTCDateTime),
        sa.CheckConstraint("kind IN ('confirmation', 'welcome')", name="outbox_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'unknown')", name="outbox_status"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_status", "outbox", ["status", "id"])
    op.create_index("ix_outbox_subscriber", "outbox", ["subscriber_id", "kind"])


def downgrade() -> None:
    raise NotImplementedError("the schema only moves forward: restore a backup to go back")
