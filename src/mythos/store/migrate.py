"""Run the Alembic migrations, configured in code (no alembic.ini).

Both functions are *synchronous*: call them before the event loop starts (``mythos db upgrade``,
``mythos serve``), or from a running loop via ``await asyncio.to_thread(upgrade, url)``. They
must not be called directly on a thread that runs an event loop (they start their own).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from .db import DatabaseUnavailable, Engines, is_sqlite, open_engines, sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url  # not via set_main_option: '%' in passwords would break it
    return cfg


def _prepare(url: str) -> None:
    path = sqlite_path(url) if is_sqlite(url) else None
    if path:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest of every branch, so
    migrations written side by side apply together). Idempotent."""
    _prepare(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def head() -> tuple[str, ...]:
    """The newest revision of each branch the code knows (one, once branches are joined)."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def current(url: str) -> tuple[str, ...]:
    """The revisions the database at ``url`` is at (empty when it was never migrated).

    Raises ``DatabaseUnavailable`` when it cannot be reached. A missing SQLite file is not
    created: its revision is None."""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path and not Path(path).expanduser().exists():
        return ()

    def _rev(conn: Connection) -> tuple[str, ...]:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))

    async def _run(engines: Engines) -> tuple[str, ...]:
        try:
            return await engines.read(_rev)
        finally:
            await engines.dispose()

    try:
        return asyncio.run(_run(open_engines(url)))
    except Exception as exc:
        raise DatabaseUnavailable(url, exc) from exc


__all__ = ["MIGRATIONS_DIR", "alembic_config", "current", "downgrade", "head", "upgrade"]
