"""The database schema, as SQLAlchemy Core tables.

The game never reads these during play: they are loaded at login and written behind (see
``writebehind.py``). Migrations in ``migrations/versions`` create them by hand-written ``op`` calls;
keep the two in step (the store tests compare them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

#: Constraint names are explicit so migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def name_key(name: str) -> str:
    """The case-insensitive key a name is unique by."""
    return name.lower()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend.

    PostgreSQL keeps the offset (``timestamptz``); SQLite has no such type and would silently
    drop it, so values are converted to UTC on the way in and read back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # naive means UTC here
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("name_key", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(32), nullable=False, default="player",
              server_default="player"),
    sa.Column("banned", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
    sqlite_autoincrement=True,  # never reuse an id, even after a delete
)

characters = sa.Table(
    "characters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer,
              sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("name_key", sa.String(64), nullable=False, unique=True),
    sa.Column("profession", sa.String(64), nullable=False),
    # progress columns: the only ones the write-behind flusher touches
    sa.Column("room_id", sa.String(128), nullable=False),
    sa.Column("hp", sa.Integer, nullable=False),
    sa.Column("max_hp", sa.Integer, nullable=False),
    sa.Column("lucidity", sa.Integer, nullable=False, default=100,
              server_default=sa.text("100")),
    sa.Column("xp", sa.Integer, nullable=False, default=0, server_default=sa.text("0")),
    sa.Column("level", sa.Integer, nullable=False, default=1, server_default=sa.text("1")),
    sa.Column("posture", sa.String(16), nullable=False, default="standing",
              server_default="standing"),
    # fixed at creation
    sa.Column("stats", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.Column("last_seen", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)

#: The columns ``Store.save_progress`` may write (besides ``last_seen``).
PROGRESS_COLUMNS: tuple[str, ...] = (
    "room_id", "hp", "max_hp", "lucidity", "xp", "level", "posture",
)
