"""The database: the schema and its migrations."""
