"""Accounts and characters.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written on purpose: a migration must not change when tables.py does.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False, server_default="player"),
        sa.Column("banned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name_key", name="uq_accounts_name_key"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "characters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("profession", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(128), nullable=False),
        sa.Column("hp", sa.Integer, nullable=False),
        sa.Column("max_hp", sa.Integer, nullable=False),
        sa.Column("lucidity", sa.Integer, nullable=False, server_default=sa.text("100")),
        sa.Column("xp", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("level", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("posture", sa.String(16), nullable=False, server_default="standing"),
        sa.Column("stats", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("last_seen", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_characters"),
        sa.UniqueConstraint("name_key", name="uq_characters_name_key"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE",
                                name="fk_characters_account_id_accounts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_characters_account_id", "characters", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_characters_account_id", table_name="characters")
    op.drop_table("characters")
    op.drop_table("accounts")
