"""Alembic's environment for serve: migrations run on the connection `Database.upgrade` passes."""

from alembic import context

from wasmplug.serve.database import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
