"""Corpses (their looting and decay times) and the deaths log.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written on purpose: a migration must not change when store/npcs.py does.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "corpses",
        sa.Column("item_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("looters", sa.JSON, nullable=False),
        sa.Column("loot_until", _TS, nullable=False),
        sa.Column("decay_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_corpses"),
    )
    op.create_table(
        "deaths",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("victim", sa.String(128), nullable=False),
        sa.Column("character_id", sa.Integer, nullable=True),
        sa.Column("room", sa.String(160), nullable=False),
        sa.Column("cause", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deaths"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("deaths")
    op.drop_table("corpses")
