"""Alembic environment: runs against the engine the service hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, text

from worker.store.schema import metadata

# An arbitrary constant naming Crosspost's migration lock in PostgreSQL.
MIGRATION_LOCK = 7_412_019_331

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
        if connection.dialect.name == "postgresql":
            # Workers, beat and the CLI all migrate at start; on a fresh
            # database they would race to create the same tables.  The lock
            # makes them take turns; the later ones then find nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
