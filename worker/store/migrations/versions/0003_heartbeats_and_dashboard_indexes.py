"""Heartbeats of the running parts; indexes for the dashboard's counts and failures list.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:21:20.697224
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_heartbeats")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_created_at_status", ["created_at", "status"], unique=False
        )
        batch_op.create_index(
            "ix_deliveries_status_updated_at", ["status", "updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_updated_at")
        batch_op.drop_index("ix_deliveries_created_at_status")

    op.drop_table("heartbeats")
