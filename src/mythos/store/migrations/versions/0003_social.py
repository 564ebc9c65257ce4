"""Mutes, aliases, staff silences and the staff audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written on purpose: a migration must not change when store/social.py does.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("id", name="pk_mutes"),
        sa.UniqueConstraint("character_id", "kind", "target",
                            name="uq_mutes_character_id_kind_target"),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE",
                                name="fk_mutes_character_id_characters"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "aliases",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("character_id", "name", name="pk_aliases"),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE",
                                name="fk_aliases_character_id_characters"),
    )
    op.create_table(
        "silences",
        sa.Column("character_id", sa.Integer, nullable=False),
        sa.Column("until", _TS, nullable=True),
        sa.Column("by_name", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("character_id", name="pk_silences"),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE",
                                name="fk_silences_character_id_characters"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("silences")
    op.drop_table("aliases")
    op.drop_table("mutes")
