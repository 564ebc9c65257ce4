"""Items and the seeding of the world files' room items.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Hand-written on purpose: a migration must not change when store/items.py does.
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("proto", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(160), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("slot", sa.String(16), nullable=True),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.CheckConstraint("quantity >= 1", name="ck_items_quantity_positive"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_items_owner", "items", ["owner"])
    op.create_table(
        "item_seeds",
        sa.Column("key", sa.String(160), nullable=False),
        sa.Column("item_id", sa.Integer, nullable=True),
        sa.Column("created_at", _TS, nullable=False,
                  server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("key", name="pk_item_seeds"),
    )


def downgrade() -> None:
    op.drop_table("item_seeds")
    op.drop_index("ix_items_owner", table_name="items")
    op.drop_table("items")
