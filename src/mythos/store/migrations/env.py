"""Alembic environment for Mythos.

Configured programmatically by ``mythos.store.migrate`` (there is no alembic.ini). The URL comes
from ``config.attributes["url"]`` (or the ``sqlalchemy.url`` option). A caller that already holds
a connection (e.g. inside ``Engines.write``) can pass it as
``config.attributes["connection"]`` and it is used as is.

Otherwise this script opens the engine with ``mythos.store.db.open_engines`` (so SQLite gets its
pragmas and ``BEGIN IMMEDIATE``) and runs the migrations under ``asyncio.run``. Every file the
migration needs is read *before* the event loop starts, so no blocking IO runs on a loop.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from mythos.store.db import DatabaseUnavailable, Engines, open_engines, select_one
from mythos.store.tables import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    return url


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        # our SQLite setup emits a real BEGIN, so DDL is transactional there as well
        transactional_ddl=True,
        compare_type=True,
    )


def do_run_migrations(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str, engines: Engines) -> None:
    try:
        try:
            await engines.read(select_one)
        except Exception as exc:
            raise DatabaseUnavailable(url, exc) from exc
        # One transaction (the writer's); alembic sees it begun and leaves the commit to it.
        await engines.write(do_run_migrations)
    finally:
        await engines.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
        return
    # Load every revision file now, while no event loop runs in this thread.
    context.script.get_heads()
    url = _url()
    engines = open_engines(url)  # touches the file system (SQLite path): not on a loop either
    # Its own loop, in a worker thread or before the server's: never in asyncio debug mode,
    # whose slow-callback warning the whole DDL run (one callback) would set off.
    asyncio.run(run_async_migrations(url, engines), debug=False)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
