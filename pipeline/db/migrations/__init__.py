"""Alembic migrations of the newsletter database; `pipeline.db.migrate` runs them."""
