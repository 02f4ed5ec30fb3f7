"""INSERT … ON CONFLICT DO NOTHING, for the two databases we support."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert a row unless a unique constraint already holds one like it.

    Returns the new primary key, or None when the row was already there: the
    constraint, not a prior SELECT, is what keeps two pollers from creating
    the same row.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(**values).on_conflict_do_nothing()
        row = conn.execute(pg.returning(*table.primary_key.columns)).first()
    elif dialect == "sqlite":
        lite = sqlite.insert(table).values(**values).on_conflict_do_nothing()
        row = conn.execute(lite.returning(*table.primary_key.columns)).first()
    else:  # pragma: no cover - the settings only allow the two above
        raise RuntimeError(f"unsupported database {dialect}")
    return None if row is None else row[0]
