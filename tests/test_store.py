"""The store against real databases (SQLite file and PostgreSQL), never a mock."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from conftest import query
from mythos.metrics import Metrics
from mythos.store import (
    DatabaseUnavailable,
    MindRows,
    MindSave,
    MindStore,
    NameTaken,
    ProgressRow,
    Store,
    WriteBehind,
    characters,
    mask_url,
    metadata,
    upgrade,
)
from mythos.store.migrate import current, head
from mythos.world.model import Character, Posture

PG_ADMIN_URL = os.environ.get(
    "MYTHOS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(upgrade, db_url)
    # A short busy timeout so an SQLite write lock held elsewhere fails fast (outage tests).
    s = await Store.open(db_url, busy_timeout=0.3)
    try:
        yield s
    finally:
        await s.close()


async def new_char(store: Store, name: str, **stats: int) -> Character:
    acc, row = await store.create_account_with_character(
        name, "hash", "player", "detective", "arkham.square", 10, 10, stats or {"str": 5})
    return Character(id=row.id, account_id=acc.id, name=row.name, profession=row.profession,
                     room_id=row.room_id, hp=row.hp, max_hp=row.max_hp, stats=row.stats)


def sample(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


@contextlib.asynccontextmanager
async def outage(db_url: str) -> AsyncIterator[None]:
    """Make every write to the database fail, for real, until the block ends.

    SQLite: another connection holds the write lock (``BEGIN EXCLUSIVE``), so the store's
    ``BEGIN IMMEDIATE`` fails with "database is locked" after its busy timeout. (Running as
    root, file permissions would not stop SQLite, so no chmod tricks.)
    PostgreSQL: the database stops accepting connections and its backends are terminated."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = url.database

        def lock() -> sqlite3.Connection:
            con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
            con.execute("BEGIN EXCLUSIVE")
            return con

        def release(con: sqlite3.Connection) -> None:
            con.execute("ROLLBACK")
            con.close()

        con = await asyncio.to_thread(lock)
        try:
            yield
        finally:
            await asyncio.to_thread(release, con)
        return
    name = url.database
    admin = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"),
                                  timeout=3)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()


# -- migrations --------------------------------------------------------------------------------

async def test_upgrade_is_idempotent_and_matches_tables(db_url: str) -> None:
    assert await asyncio.to_thread(current, db_url) == ()
    await asyncio.to_thread(upgrade, db_url)
    await asyncio.to_thread(upgrade, db_url)  # a no-op
    newest = await asyncio.to_thread(head)
    assert newest and await asyncio.to_thread(current, db_url) == newest

    # The hand-written migration and tables.py describe the same schema.
    s = await Store.open(db_url)
    try:
        def diff(conn: sa.Connection) -> list:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, metadata)

        assert await s.engines.read(diff) == []
    finally:
        await s.close()


async def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'deep' / 'mythos.db'}"
    await asyncio.to_thread(upgrade, url)
    assert await asyncio.to_thread(current, url) == await asyncio.to_thread(head)


# -- accounts and characters -------------------------------------------------------------------

async def test_accounts_round_trip(store: Store) -> None:
    acc = await store.create_account("Armitage", "argon2$x", role="admin")
    assert acc.id > 0 and acc.name == "Armitage" and acc.role == "admin" and not acc.banned
    assert await store.get_account("armitage") == acc
    assert await store.get_account("ARMITAGE") == acc
    assert await store.get_account("Wilmarth") is None

    assert await store.set_role("ARMITAGE", "builder")
    assert (await store.get_account("Armitage")).role == "builder"
    assert not await store.set_role("nobody", "admin")
    assert await store.set_banned("armitage", True)
    assert (await store.get_account("Armitage")).banned


async def test_names_are_taken_case_insensitively(store: Store) -> None:
    acc = await store.create_account("Lavinia", "h")
    with pytest.raises(NameTaken):
        await store.create_account("LAVINIA", "h")
    await store.create_character(acc.id, "Wilbur", "occultist", "dunwich.farm", 12, 12, {})
    with pytest.raises(NameTaken):
        await store.create_character(acc.id, "wilbur", "occultist", "dunwich.farm", 12, 12, {})
    # a foreign key failure is not a name clash
    with pytest.raises(sa.exc.IntegrityError):
        await store.create_character(999_999, "Curwen", "occultist", "x", 1, 1, {})


async def test_characters_round_trip(store: Store) -> None:
    acc = await store.create_account("Carter", "h")
    a = await store.create_character(acc.id, "Randolph", "dreamer", "arkham.square", 20, 22,
                                     {"str": 3, "pow": 9})
    b = await store.create_character(acc.id, "Kuranes", "dreamer", "celephais.gate", 8, 8, {})
    assert a.stats == {"str": 3, "pow": 9} and a.lucidity == 100 and a.level == 1
    assert a.posture == "standing" and a.last_seen is None
    assert await store.get_character("RANDOLPH") == a
    assert await store.get_character_by_id(b.id) == b
    assert await store.get_character("Pickman") is None
    assert await store.characters_of(acc.id) == [a, b]
    assert await store.characters_of(acc.id + 1000) == []


async def test_account_with_character_is_atomic(store: Store) -> None:
    acc, char = await store.create_account_with_character(
        "Whateley", "h", "player", "farmer", "dunwich.farm", 10, 10, {"con": 4})
    assert char.account_id == acc.id and char.name == "Whateley"
    assert await store.characters_of(acc.id) == [char]

    # The character name is taken (by another account's character): no account either.
    other = await store.create_account("Olmstead", "h")
    await store.create_character(other.id, "Marsh", "sailor", "innsmouth.docks", 9, 9, {})
    with pytest.raises(NameTaken):
        await store.create_account_with_character(
            "MARSH", "h", "player", "sailor", "innsmouth.docks", 9, 9, {})
    assert await store.get_account("marsh") is None

    # The account name is taken: no character is made.
    with pytest.raises(NameTaken):
        await store.create_account_with_character(
            "olmstead", "h", "player", "student", "arkham.square", 9, 9, {})
    assert await store.get_character("olmstead") is None


async def test_save_progress_writes_only_progress(store: Store) -> None:
    acc = await store.create_account("Peaslee", "h")
    mine = await store.create_character(acc.id, "Nathaniel", "professor", "miskatonic.library",
                                        15, 15, {"edu": 9})
    other = await store.create_character(acc.id, "Wingate", "student", "arkham.square", 9, 9,
                                         {"edu": 4})

    async def raw(char_id: int) -> sa.Row:
        (row,) = await query(store, sa.select(characters).where(characters.c.id == char_id))
        return row

    before = await raw(mine.id)
    seen = datetime(1927, 3, 1, 23, 15, tzinfo=timezone(timedelta(hours=-5)))
    await store.save_progress([
        ProgressRow(id=mine.id, room_id="miskatonic.vault", hp=3, max_hp=16, lucidity=42,
                    xp=1200, level=4, posture="lying", last_seen=seen),
        ProgressRow(id=424242, room_id="nowhere", hp=1, max_hp=1, lucidity=1, xp=1, level=1,
                    posture="standing"),  # unknown ids are ignored
    ])
    after = await raw(mine.id)
    assert (after.room_id, after.hp, after.max_hp, after.lucidity, after.xp, after.level,
            after.posture) == ("miskatonic.vault", 3, 16, 42, 1200, 4, "lying")
    assert after.last_seen == seen  # same instant, read back as UTC
    assert after.last_seen.tzinfo is not None
    for col in ("account_id", "name", "name_key", "profession", "stats", "created_at"):
        assert getattr(after, col) == getattr(before, col), col
    assert await store.get_character("Wingate") == other

    # last_seen=None leaves the stored value alone
    await store.save_progress([ProgressRow(id=mine.id, room_id="arkham.square", hp=4,
                                           max_hp=16, lucidity=40, xp=1200, level=4,
                                           posture="standing")])
    row = await store.get_character("Nathaniel")
    assert row.room_id == "arkham.square" and row.last_seen == seen
    await store.save_progress([])


# -- opening and failing -----------------------------------------------------------------------

def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql+asyncpg://mythos:s3cr3t@db.example:5432/mythos") == \
        "postgresql+asyncpg://mythos:***@db.example:5432/mythos"
    assert mask_url("postgresql+asyncpg://mythos:p%40ss@db/mythos") == \
        "postgresql+asyncpg://mythos:***@db/mythos"
    assert mask_url("postgresql+asyncpg://mythos@db/mythos") == "postgresql+asyncpg://mythos@db/mythos"
    assert mask_url("sqlite:///var/mythos.db") == "sqlite:///var/mythos.db"
    assert "hunter2" not in mask_url("weird://user:hunter2@host/db")


async def test_open_unreachable_postgres_is_one_clear_error() -> None:
    url = "postgresql+asyncpg://mythos:s3cr3t@127.0.0.1:1/mythos"
    with pytest.raises(DatabaseUnavailable) as info:
        await Store.open(url, connect_timeout=3)
    msg = str(info.value)
    assert "s3cr3t" not in msg and "\n" not in msg
    assert info.value.url == "postgresql+asyncpg://mythos:***@127.0.0.1:1/mythos"
    assert info.value.url in msg and info.value.reason


async def test_open_silent_server_times_out() -> None:
    """A server that accepts the connection and never answers (a hung database)."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(DatabaseUnavailable) as info:
            await Store.open(f"postgresql+asyncpg://u:pw@127.0.0.1:{port}/x",
                             connect_timeout=0.3)
        assert ":***@" in str(info.value) and ":pw@" not in str(info.value)
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_open_sqlite_in_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'mythos.db'}"
    with pytest.raises(DatabaseUnavailable) as info:
        await Store.open(url, connect_timeout=2)
    assert "unable to open" in info.value.reason


async def test_a_database_url_of_earlier_releases_still_opens(tmp_path: Path) -> None:
    # Earlier releases named SQLite's driver "aiosqlite" in the URL; configurations keep it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(upgrade, url)
    assert await asyncio.to_thread(current, url) == await asyncio.to_thread(head)
    s = await Store.open(url)
    try:
        made = await s.create_account("Keeper", "hash")
        assert await s.get_account("keeper") == made
    finally:
        await s.close()


async def test_sqlite_engine_setup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(upgrade, url)
    s = await Store.open(url, busy_timeout=0.1)
    try:
        assert s.engines.writer is not s.engines.reader
        assert s.engines.writer.pool.size() == 1

        def pragmas(conn: sa.Connection) -> list:
            return [conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")]

        assert await s.engines.write(pragmas) == ["wal", 1, 1, 100]  # synchronous 1: NORMAL

        # A write transaction holds the write lock from its BEGIN (IMMEDIATE), before any write.
        def try_write() -> str:
            con = sqlite3.connect(tmp_path / "m.db", isolation_level=None, timeout=0)
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
                return "got the lock"
            except sqlite3.OperationalError as exc:
                return str(exc)
            finally:
                con.close()

        assert await s.engines.write(lambda conn: try_write()) == "database is locked"
        assert await asyncio.to_thread(try_write) == "got the lock"
    finally:
        await s.close()


async def test_ping(store: Store) -> None:
    assert await store.ping()


# -- write-behind ------------------------------------------------------------------------------

async def test_mark_and_flush_persists(store: Store) -> None:
    metrics = Metrics()
    wb = WriteBehind(store, metrics=metrics)
    char = await new_char(store, "Gilman")
    assert await wb.flush() == 0
    char.room_id, char.hp, char.xp, char.posture = "witch.house.attic", 4, 77, Posture.SITTING
    wb.mark(char)
    wb.mark(char)  # marking twice is one row
    assert wb.dirty_count == 1
    assert await wb.flush() == 1
    assert wb.dirty_count == 0 and sample(metrics, "mythos_dirty_characters") == 0
    row = await store.get_character("gilman")
    assert (row.room_id, row.hp, row.xp, row.posture) == ("witch.house.attic", 4, 77, "sitting")
    assert sample(metrics, "mythos_flush_rows_total") == 1
    assert sample(metrics, "mythos_flush_duration_seconds_count") >= 1
    assert wb.healthy and wb.last_error is None

    # forget drops unsaved progress
    char.hp = 1
    wb.mark(char)
    wb.forget(char.id)
    assert await wb.flush() == 0
    assert (await store.get_character("gilman")).hp == 4


async def test_flush_in_batches(store: Store) -> None:
    chars = [await new_char(store, f"Cultist{i}") for i in range(10)]
    batches: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().replace('"', "").startswith("UPDATE CHARACTERS"):
            if "json_each" in statement:  # SQLite: the batch as one JSON array (store/bulk.py)
                batches.append(len(json.loads(parameters[0])))
            else:
                batches.append(len(parameters) if executemany else 1)

    sa.event.listen(store.engines.sync_writer, "before_cursor_execute", count)
    try:
        # A clock that stands still: every batch comes back at once, none grows.
        wb = WriteBehind(store, batch_size=3, clock=lambda: 0.0)
        for i, c in enumerate(chars):
            c.xp = 100 + i
            wb.mark(c)
        assert await wb.flush() == 10
        assert batches == [3, 3, 3, 1]
        # Batches that come back slowly (each reading of this clock 0.12 s after the last)
        # are followed by bigger ones: twice the size after 0.1 s and more (GROW_STEP 0.05).
        ticks = iter(range(1000))
        slow = WriteBehind(store, batch_size=3, clock=lambda: next(ticks) * 0.12)
        for i, c in enumerate(chars):
            c.xp = 200 + i
            slow.mark(c)
        batches.clear()
        assert await slow.flush() == 10
    finally:
        sa.event.remove(store.engines.sync_writer, "before_cursor_execute", count)
    assert batches == [3, 6, 1]
    assert wb.dirty_count == 0 and slow.dirty_count == 0
    for i in range(10):
        assert (await store.get_character(f"cultist{i}")).xp == 200 + i


async def test_mind_rows_saved_and_replaced_with_progress(store: Store) -> None:
    """A character's mind rows go with its progress; a horror met again, a rite's new
    cooldown and a liability gained again replace their rows (both backends). On SQLite each
    table takes a batch as one statement (store/bulk.py), never an executemany."""
    a, b = await new_char(store, "Diarist"), await new_char(store, "Sleeper")
    first = datetime(1927, 3, 1, 23, 15, tzinfo=timezone(timedelta(hours=-5)))
    later = first + timedelta(hours=6)
    executemany: list[str] = []

    def spy(conn, cursor, statement, parameters, context, many) -> None:
        if many:
            executemany.append(statement)

    def progress(c: Character) -> ProgressRow:
        return ProgressRow(id=c.id, room_id="arkham.square", hp=5, max_hp=10, lucidity=80,
                           xp=0, level=1, posture="standing")

    sa.event.listen(store.engines.sync_writer, "before_cursor_execute", spy)
    try:
        await store.save_progress([progress(a), progress(b)], [
            MindSave(a.id, ["arkham.square", "arkham.wharf"], {"ghoul": 1}, {"pray": first},
                     {"night terrors": first}),
            MindSave(b.id, ["arkham.square"], {"ghoul": 2, "deep one": 1})])
        await store.save_progress([progress(a)], [
            MindSave(a.id, ["arkham.bridge"], {"ghoul": 3}, {"pray": later},
                     {"night terrors": later})])
    finally:
        sa.event.remove(store.engines.sync_writer, "before_cursor_execute", spy)
    minds = MindStore(store.engines)
    mine, theirs = await minds.load(a.id), await minds.load(b.id)
    assert mine.explored == {"arkham.square", "arkham.wharf", "arkham.bridge"}
    assert mine.encounters == {"ghoul": 3}
    assert mine.cooldowns == {"pray": later} and mine.liabilities == {"night terrors": later}
    assert mine.cooldowns["pray"].tzinfo is not None
    assert theirs == MindRows(frozenset({"arkham.square"}), {"ghoul": 2, "deep one": 1})
    if store.backend == "sqlite":
        assert executemany == []


async def test_change_during_flush_stays_dirty(store: Store) -> None:
    wb = WriteBehind(store)
    char = await new_char(store, "Dexter")
    marked = await new_char(store, "Tillinghast")
    char.hp, marked.hp = 5, 6
    wb.mark(char)
    wb.mark(marked)
    task = asyncio.create_task(wb.flush())
    await asyncio.sleep(0)  # the flush has taken its snapshot and is writing
    assert not task.done()
    assert wb.pending(char.id) is char
    char.hp = 4  # changed while in flight, and not even marked
    marked.hp = 2  # changed while in flight, and marked
    wb.mark(marked)
    assert await task == 2
    assert wb.dirty_count == 2
    assert (await store.get_character("dexter")).hp == 5
    assert await wb.flush() == 2
    assert wb.dirty_count == 0 and wb.pending(char.id) is None
    assert (await store.get_character("dexter")).hp == 4
    assert (await store.get_character("tillinghast")).hp == 2


async def test_outage_keeps_dirty_set_until_the_database_is_back(db_url: str,
                                                                 store: Store) -> None:
    metrics = Metrics()
    wb = WriteBehind(store, interval=0.05, max_backoff=0.2, metrics=metrics)
    chars = [await new_char(store, f"Keziah{i}") for i in range(4)]
    for i, c in enumerate(chars):
        c.hp = i + 1
        wb.mark(c)
    left = datetime(1928, 6, 15, 12, 0, tzinfo=UTC)

    async with outage(db_url):
        assert await wb.flush() == 0
        assert wb.dirty_count == 4 and not wb.healthy and wb.last_error
        assert sample(metrics, "mythos_flush_failures_total") == 1
        assert sample(metrics, "mythos_dirty_characters") == 4
        # a character logs out while the database is down: not saved, kept for later
        chars[0].room_id = "witch.house.attic"
        assert not await wb.flush_character(chars[0], last_seen=left)
        assert wb.pending(chars[0].id) is chars[0]
        wb.start()
        for _ in range(100):  # the loop retries and backs off
            if sample(metrics, "mythos_flush_failures_total") >= 4:
                break
            await asyncio.sleep(0.02)
        assert sample(metrics, "mythos_flush_failures_total") >= 4
        assert wb.retry_delay > wb.interval
        assert wb.dirty_count == 4
        if store.backend == "postgresql":
            assert not await store.ping()

    # The database is back: the loop saves everything, even the logged-out character.
    for _ in range(250):
        if wb.dirty_count == 0:
            break
        await asyncio.sleep(0.02)
    assert wb.dirty_count == 0 and wb.healthy and wb.last_error is None
    await wb.stop()
    assert await store.ping()
    for i in range(4):
        assert (await store.get_character(f"keziah{i}")).hp == i + 1
    gone = await store.get_character("keziah0")
    assert gone.room_id == "witch.house.attic" and gone.last_seen == left


async def test_flush_character_and_stop(store: Store) -> None:
    wb = WriteBehind(store, interval=60)
    wb.start()
    char = await new_char(store, "Olney")
    char.room_id = "kingsport.cliff"
    when = datetime.now(UTC)
    assert await wb.flush_character(char, last_seen=when)
    row = await store.get_character("olney")
    assert row.room_id == "kingsport.cliff" and row.last_seen == when

    char.hp = 2
    wb.mark(char)
    await wb.stop(timeout=5)  # the final flush saves what is dirty
    assert wb.dirty_count == 0
    assert (await store.get_character("olney")).hp == 2
