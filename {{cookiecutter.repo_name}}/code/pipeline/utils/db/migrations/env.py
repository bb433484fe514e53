"""Alembic's environment: migrates the connection that `utils.db.migrate` hands over, against schema.py."""

from alembic import context
from sqlalchemy import Connection

from utils.db.schema import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations with `python -m utils.db upgrade --env ENV`, not the alembic command")

# Batch mode renders a change to an existing table as SQLite needs it (copy and rename); PostgreSQL runs the
# same operations as plain ALTER statements.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
