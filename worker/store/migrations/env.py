"""Alembic environment: runs against the engine the service hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from worker.store.schema import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only via worker.store.database
    raise RuntimeError("run migrations through worker.store.database.migrate()")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
