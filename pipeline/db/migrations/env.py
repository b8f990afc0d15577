"""Alembic's environment: run the migrations on the connection `pipeline.db.migrate` hands
over (in `config.attributes["connection"]`), inside the transaction it has begun."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through pipeline.db.migrate, which passes a connection")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
