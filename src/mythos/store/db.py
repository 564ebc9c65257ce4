"""Engine setup: one code path for SQLite (aiosqlite) and PostgreSQL (asyncpg).

SQLite: WAL, ``synchronous=NORMAL``, ``busy_timeout``, foreign keys on; pysqlite's own
transaction handling is switched off (``isolation_level = None``) and SQLAlchemy's "begin" event
emits ``BEGIN IMMEDIATE`` on the single writer connection (``BEGIN`` on the readers), the recipe
of the SQLAlchemy SQLite docs. All writes go through that one writer connection, so writers queue
in the pool instead of fighting over SQLite's file lock; reads use a small pool of their own and,
thanks to WAL, never wait for the writer.

PostgreSQL: one asyncpg pool with ``pool_pre_ping`` serves both roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: Reader connections kept for SQLite (reads never block on the writer in WAL mode).
SQLITE_READERS = 4
#: How long one statement may run on PostgreSQL before asyncpg gives up on it.
PG_COMMAND_TIMEOUT = 30.0


class DatabaseUnavailable(Exception):
    """The database cannot be reached. ``str()`` is one line that names the masked URL."""

    def __init__(self, url: str, reason: str | BaseException) -> None:
        self.url = mask_url(url)
        self.reason = describe_error(reason) if isinstance(reason, BaseException) else one_line(
            reason)
        super().__init__(f"database unavailable at {self.url}: {self.reason}")


def one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def describe_error(exc: BaseException) -> str:
    """A short one-line description of a database error (the driver's message, not
    SQLAlchemy's wrapper with its SQL and background link)."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, TimeoutError):
        return "timed out"
    text = str(orig).split("\n", 1)[0].strip()
    # SQLAlchemy's asyncpg adapter raises generic classes; the driver's own is the cause
    named = orig.__cause__ if isinstance(orig.__cause__, Exception) else orig
    name = type(named).__name__
    return one_line(f"{name}: {text}" if text else name)


_PW_RE = re.compile(r"^(?P<head>[^:/]+://[^:/@]*:)(?P<pw>[^@]*)(?P<tail>@.*)$")


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and error messages)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        m = _PW_RE.match(str(url))
        if m:
            return f"{m['head']}***{m['tail']}"
        return str(url)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> str | None:
    """The file of an SQLite URL, or None for an in-memory database."""
    u = make_url(url)
    db = u.database
    if not db or db == ":memory:" or db.startswith("file::memory:"):
        return None
    if db.startswith("file:"):
        db = db[len("file:"):].split("?", 1)[0]
    return db


@dataclass(eq=False)
class Engines:
    """The engines of one database. ``writer`` is the only one that may write."""

    url: str  # masked
    backend: str  # "sqlite" or "postgresql"
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    async def dispose(self) -> None:
        if self.reader is not self.writer:
            await self.reader.dispose()
        await self.writer.dispose()


def _sqlite_engine(url: URL, *, write: bool, busy_timeout_ms: int, pool_size: int | None,
                   **kw: Any) -> AsyncEngine:
    if pool_size is not None:
        kw.update(pool_size=pool_size, max_overflow=0)
    engine = create_async_engine(url, **kw)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy emits BEGIN itself (below); pysqlite must not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if write:
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    begin_sql = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def open_engines(url: str, *, connect_timeout: float = 5.0, busy_timeout: float = 5.0,
                 echo: bool = False) -> Engines:
    """Make the engine(s) for ``url``. Nothing connects until first use.

    Not on the event loop: for SQLite, SQLAlchemy resolves the file's path here (a file system
    call). ``Store.open`` runs it in a thread.

    ``busy_timeout`` (seconds, SQLite only) is how long a write waits for another process's lock
    before failing with "database is locked"."""
    u = make_url(url)
    backend = u.get_backend_name()
    masked = mask_url(u)
    if backend == "sqlite":
        if u.get_driver_name() != "aiosqlite":
            u = u.set(drivername="sqlite+aiosqlite")
        ms = int(busy_timeout * 1000)
        sqlite_args = {"timeout": busy_timeout}
        if sqlite_path(u) is None:  # in-memory: SQLAlchemy's StaticPool, one shared connection
            writer = _sqlite_engine(u, write=True, busy_timeout_ms=ms, pool_size=None,
                                    connect_args=sqlite_args, echo=echo)
            return Engines(masked, "sqlite", writer, writer)
        writer = _sqlite_engine(u, write=True, busy_timeout_ms=ms, pool_size=1,
                                connect_args=sqlite_args, echo=echo)
        reader = _sqlite_engine(u, write=False, busy_timeout_ms=ms, pool_size=SQLITE_READERS,
                                connect_args=sqlite_args, echo=echo)
        return Engines(masked, "sqlite", writer, reader)
    if backend == "postgresql":
        if u.get_driver_name() != "asyncpg":
            u = u.set(drivername="postgresql+asyncpg")
        connect_args: dict[str, Any] = {
            "timeout": connect_timeout, "command_timeout": PG_COMMAND_TIMEOUT}
        engine = create_async_engine(
            u, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=30,
            connect_args=connect_args, echo=echo)
        return Engines(masked, "postgresql", engine, engine)
    raise ValueError(f"unsupported database URL {masked!r}: use sqlite+aiosqlite:// or "
                     "postgresql+asyncpg://")
