"""Engine setup: one code path for SQLite and PostgreSQL (asyncpg).

The store's queries are plain SQLAlchemy Core functions of a connection; ``Engines.write`` and
``Engines.read`` run one without blocking the loop: for SQLite, whole, in a thread of ours
(``SqliteEngines``); for PostgreSQL, on the loop with each statement awaited
(``PostgresEngines``).

SQLite: WAL, ``synchronous=NORMAL``, ``busy_timeout``, foreign keys on; pysqlite's own
transaction handling is switched off (``isolation_level = None``) and SQLAlchemy's "begin" event
emits ``BEGIN IMMEDIATE`` on the single writer connection (``BEGIN`` on the readers), the recipe
of the SQLAlchemy SQLite docs. All writes go through that one writer connection, so writers queue
instead of fighting over SQLite's file lock; reads use connections of their own and, thanks to
WAL, never wait for the writer.

PostgreSQL: one asyncpg pool with ``pool_pre_ping`` serves both roles.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable

T = TypeVar("T")

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


class Engines:
    """The engines of one database, and the one way the store uses them: ``write(fn, *args)``
    runs ``fn(conn, *args)`` in one transaction on the writer (committed when ``fn`` returns,
    rolled back when it raises), ``read(fn, *args)`` on a reader connection. ``fn`` is plain
    (synchronous) SQLAlchemy Core code; how it runs without blocking the loop is the backend's
    business (``SqliteEngines``, ``PostgresEngines``)."""

    url: str  # masked
    backend: str  # "sqlite" or "postgresql"

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def sync_writer(self) -> Engine:
        """The writer as a synchronous ``Engine`` (for event listeners)."""
        raise NotImplementedError

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    async def execute(self, *statements: Executable) -> int:
        """Run ``statements`` in one write transaction; the rows the last one touched."""
        return await self.write(_execute_all, statements)

    async def dispose(self) -> None:
        raise NotImplementedError


def select_one(conn: Connection) -> None:
    """Ask the database something trivial (is it there?)."""
    conn.exec_driver_sql("SELECT 1")


def _execute_all(conn: Connection, statements: tuple[Executable, ...]) -> int:
    touched = 0
    for statement in statements:
        touched = conn.execute(statement).rowcount
    return touched


def _in_transaction(engine: Engine, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with engine.begin() as conn:
        return fn(conn, *args)


def _connected(engine: Engine, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    with engine.connect() as conn:
        return fn(conn, *args)


class SqliteEngines(Engines):
    """SQLite through Python's ``sqlite3`` in threads of our own: a whole transaction is one
    hand-over to the writer's thread and one back, whatever its statements. (Through aiosqlite
    every statement, cursor and commit was a hand-over of its own, each waiting for the GIL
    while the loop is busy: an item move of 8 hand-overs took 100-300 ms on a loop kept busy
    in 1 ms bursts, and one of these 5, with ``app.tune_threads``'s switch interval. Measured
    in the server: docs/PERFORMANCE.md, 2026-12-07.)

    The writer is one connection in one thread (``BEGIN IMMEDIATE``), so writes queue in order
    instead of fighting over the file lock; readers have ``SQLITE_READERS`` connections and
    threads of their own and, thanks to WAL, never wait for the writer. An in-memory database
    is one connection, used by one thread."""

    backend = "sqlite"

    def __init__(self, url: str, writer: Engine, reader: Engine) -> None:
        self.url = url
        self.writer = writer
        self.reader = reader
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._read_threads = self._write_thread if reader is writer else ThreadPoolExecutor(
            SQLITE_READERS, thread_name_prefix="sqlite-reader")

    @property
    def sync_writer(self) -> Engine:
        return self.writer

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        # Cancelling the caller does not stop a transaction under way in the thread: like a
        # COMMIT already sent, it may land (the item tier's conditional statements make that
        # safe; see ``engine/economy.py``).
        return await asyncio.get_running_loop().run_in_executor(
            self._write_thread, _in_transaction, self.writer, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._read_threads, _connected, self.reader, fn, args)

    async def dispose(self) -> None:
        loop = asyncio.get_running_loop()
        if self.reader is not self.writer:
            await loop.run_in_executor(self._read_threads, self.reader.dispose)
        await loop.run_in_executor(self._write_thread, self.writer.dispose)
        self._read_threads.shutdown(wait=False)
        self._write_thread.shutdown(wait=False)


class PostgresEngines(Engines):
    """PostgreSQL through asyncpg, on the loop: ``fn`` runs with SQLAlchemy's ``run_sync``,
    each statement awaited as network IO. One pool serves both roles."""

    backend = "postgresql"

    def __init__(self, url: str, engine: AsyncEngine) -> None:
        self.url = url
        self.engine = engine

    @property
    def sync_writer(self) -> Engine:
        return self.engine.sync_engine

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        async with self.engine.begin() as conn:
            return await conn.run_sync(fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        async with self.engine.connect() as conn:
            return await conn.run_sync(fn, *args)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_engine(url: URL, *, write: bool, busy_timeout_ms: int, pool_size: int | None,
                   **kw: Any) -> Engine:
    if pool_size is not None:
        kw.update(pool_size=pool_size, max_overflow=0)
    engine = create_engine(url, **kw)

    @event.listens_for(engine, "connect")
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

    @event.listens_for(engine, "begin")
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
        # sqlite:// and sqlite+pysqlite:// are the same; sqlite+aiosqlite:// (the name of
        # earlier releases) is read as them, so configurations keep working.
        if u.get_driver_name() != "pysqlite":
            u = u.set(drivername="sqlite+pysqlite")
        ms = int(busy_timeout * 1000)
        sqlite_args = {"timeout": busy_timeout, "check_same_thread": False}
        if sqlite_path(u) is None:  # in-memory: SQLAlchemy's StaticPool, one shared connection
            writer = _sqlite_engine(u, write=True, busy_timeout_ms=ms, pool_size=None,
                                    connect_args=sqlite_args, poolclass=StaticPool, echo=echo)
            return SqliteEngines(masked, writer, writer)
        writer = _sqlite_engine(u, write=True, busy_timeout_ms=ms, pool_size=1,
                                connect_args=sqlite_args, echo=echo)
        reader = _sqlite_engine(u, write=False, busy_timeout_ms=ms, pool_size=SQLITE_READERS,
                                connect_args=sqlite_args, echo=echo)
        return SqliteEngines(masked, writer, reader)
    if backend == "postgresql":
        if u.get_driver_name() != "asyncpg":
            u = u.set(drivername="postgresql+asyncpg")
        connect_args: dict[str, Any] = {
            "timeout": connect_timeout, "command_timeout": PG_COMMAND_TIMEOUT}
        engine = create_async_engine(
            u, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=30,
            connect_args=connect_args, echo=echo)
        return PostgresEngines(masked, engine)
    raise ValueError(f"unsupported database URL {masked!r}: use sqlite:/// or "
                     "postgresql+asyncpg://")
