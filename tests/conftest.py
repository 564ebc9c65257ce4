"""Shared fixtures: real databases (a temporary SQLite file and a fresh PostgreSQL database),
and a guard that fails any test whose event loop runs a blocking call."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from mythos import logs
from mythos.app import App
from mythos.config import Settings
from mythos.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
WORLD_DIR = REPO / "data" / "world"
PG_URL = os.environ.get(
    "MYTHOS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The servers' log, written by the logging thread as in production (so a traceback is
    never formatted on the event loop). Read it when a test fails."""
    path = tmp_path_factory.mktemp("logs") / "mythos.log"
    logs.configure("DEBUG", "console", file=path)
    yield path
    logs.stop()


async def query(store: Any, statement: Any) -> list[Any]:
    """The rows of ``statement``, read from ``store``'s database: a test's look behind the
    game."""
    return await store.engines.read(lambda conn: conn.execute(statement).all())


@pytest.fixture(autouse=True)
def blockbuster() -> Iterator[BlockBuster]:
    """Any blocking call made on a running event loop fails the test."""
    with blockbuster_ctx() as bb:
        # asyncpg reads ~/.pgpass and its TLS files synchronously when it opens a connection
        # (once per pooled connection, not per query); that one place is allowed.
        for fn in bb.functions.values():
            fn.can_block_in("asyncpg/connect_utils.py", "_parse_connect_dsn_and_args")
        yield bb


class _Collections:
    """When the garbage collector ran (monotonic start and end of each pass): it stops every
    thread, so a callback of ours caught in a pass took longer without having done more."""

    def __init__(self) -> None:
        self.spans: deque[tuple[float, float]] = deque(maxlen=1000)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
        else:
            self.spans.append((self._started, time.monotonic()))

    def within(self, start: float, end: float) -> float:
        """Seconds of collection between ``start`` and ``end``."""
        return sum(max(0.0, min(e, end) - max(s, start)) for s, e in self.spans)


class _SlowCallbacks(logging.Handler):
    """Collects asyncio debug mode's warnings about callbacks that held the loop too long, less
    the time the garbage collector held the whole process meanwhile."""

    TOOK = re.compile(r" took (\d+\.\d+) seconds$")

    def __init__(self, collections: _Collections, limit: float) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.collections = collections
        self.limit = limit

    def emit(self, record: logging.LogRecord) -> None:
        # Called in the loop's thread right after the callback (asyncio logs it there).
        now = time.monotonic()
        msg = record.getMessage()
        if not (msg.startswith("Executing") and " took " in msg):
            return
        took = self.TOOK.search(msg)
        if took is not None:
            seconds = float(took.group(1))
            collecting = self.collections.within(now - seconds, now)
            if seconds - collecting < self.limit:
                return  # the collector's time, not our code's
            msg += f" ({collecting:.3f} s of it collecting garbage)"
        self.messages.append(msg)


@pytest.fixture(autouse=True)
def no_slow_callbacks() -> Iterator[None]:
    """Under asyncio debug mode (``make test`` sets PYTHONASYNCIODEBUG=1), a callback that runs
    longer than 100 ms on the loop fails the test (less the time the garbage collector stopped
    the process meanwhile: another thread's garbage may be collected in the middle of it)."""
    # Collect what earlier tests left and freeze the survivors, so a full collection of a
    # long session's leftovers is not charged to this test's callbacks.
    gc.collect()
    gc.freeze()
    collections = _Collections()
    gc.callbacks.append(collections)
    # asyncio's own threshold for the warning (slow_callback_duration, 0.1 s by default)
    handler = _SlowCallbacks(collections, limit=0.1)
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        gc.callbacks.remove(collections)
    if handler.messages:
        pytest.fail("slow callbacks on the event loop:\n" + "\n".join(handler.messages[:5]))


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg_admin(url: str):
    import asyncpg

    return await asyncpg.connect(_pg_dsn(url), timeout=3)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL for an empty database, on each backend in turn.

    SQLite: a file in the test's temporary folder. PostgreSQL: a database made for this test
    on the server of ``MYTHOS_TEST_POSTGRES_URL`` and dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mythos.db'}"
        return
    try:
        admin = await _pg_admin(PG_URL)
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    name = f"mythos_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin = await _pg_admin(PG_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# -- a real server, started in-process on free ports ---------------------------------------------

@pytest.fixture
async def start_server(tmp_path: Path):
    """A function that starts a server on a database URL (migrating it first); every server it
    started is stopped at the end of the test. Extra keyword arguments override settings."""
    started: list[App] = []

    async def start(url: str, **overrides) -> App:
        values = dict(host="127.0.0.1", telnet_port=0, web_port=0, database_url=url,
                      world=WORLD_DIR, data_dir=tmp_path, login_failure_delay=0.05,
                      shutdown_grace=5.0)
        values.update(overrides)
        settings = await asyncio.to_thread(Settings, **values)
        await asyncio.to_thread(upgrade, url)
        app = App(settings)
        await app.start()
        started.append(app)
        return app

    yield start
    for app in started:
        if not app.stopped.is_set():
            await app.stop()


@pytest.fixture
async def server(start_server, tmp_path: Path):
    """A server on a temporary SQLite file (for tests about the protocol, not the database)."""
    return await start_server(f"sqlite:///{tmp_path / 'server.db'}")


@pytest.fixture
async def db_server(start_server, db_url: str):
    """A server on each database backend in turn (for tests about what is kept)."""
    return await start_server(db_url)
