"""What a character's mind keeps: explored rooms, horror encounters, rite cooldowns,
liabilities.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written on purpose: a migration must not change when store/mind.py does.
_TS = sa.DateTime(timezone=True)


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE",
                                   name=f"fk_{table}_character_id_characters")


def upgrade() -> None:
    op.create_table(
        "explored_rooms",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("room_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("character_id", "room_id", name="pk_explored_rooms"),
        _fk("explored_rooms"),
    )
    op.create_table(
        "horror_encounters",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("meetings", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("character_id", "kind", name="pk_horror_encounters"),
        _fk("horror_encounters"),
    )
    op.create_table(
        "rite_cooldowns",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("rite", sa.String(32), nullable=False),
        sa.Column("until", _TS, nullable=False),
        sa.PrimaryKeyConstraint("character_id", "rite", name="pk_rite_cooldowns"),
        _fk("rite_cooldowns"),
    )
    op.create_table(
        "liabilities",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("gained_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("character_id", "name", name="pk_liabilities"),
        _fk("liabilities"),
    )


def downgrade() -> None:
    op.drop_table("liabilities")
    op.drop_table("rite_cooldowns")
    op.drop_table("horror_encounters")
    op.drop_table("explored_rooms")
