"""``Store``: the narrow interface through which the game reads and writes the database.

Reads (login, start-up) use a reader connection; every write is one transaction on the writer
(SQLite: the single writer connection, opened with ``BEGIN IMMEDIATE``). Each method is plain
SQLAlchemy Core run by ``Engines.read`` / ``Engines.write`` (``store/db.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from . import bulk
from .db import DatabaseUnavailable, Engines, describe_error, open_engines, select_one
from .items import ItemRow, KitItem, char_owner, insert_kit, load_tree
from .mind import MindSave, write_mind
from .tables import PROGRESS_COLUMNS, accounts, characters, name_key

log = structlog.get_logger(__name__)

#: How long ``ping`` waits for an answer.
PING_TIMEOUT = 2.0


class NameTaken(Exception):
    """An account or character by that name (compared case-insensitively) exists already."""

    def __init__(self, name: str, kind: str = "name") -> None:
        self.name = name
        self.kind = kind
        super().__init__(f"{kind} {name!r} is taken")


@dataclass(frozen=True)
class AccountRow:
    id: int
    name: str
    password_hash: str
    role: str
    banned: bool


@dataclass(frozen=True)
class CharacterRow:
    id: int
    account_id: int
    name: str
    profession: str
    room_id: str
    hp: int
    max_hp: int
    lucidity: int
    xp: int
    level: int
    posture: str
    stats: dict[str, Any] = field(hash=False)
    last_seen: datetime | None
    #: What it carries and wears, and what is inside that (store/items.py): read with the
    #: character by ``get_character``, made by ``create_*`` from the starting kit.
    items: tuple[ItemRow, ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class ProgressRow:
    """The progress columns of one character. ``last_seen=None`` leaves the stored value as is."""

    id: int
    room_id: str
    hp: int
    max_hp: int
    lucidity: int
    xp: int
    level: int
    posture: str
    last_seen: datetime | None = None


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code:
        return str(code) == "23505"
    msg = str(orig)
    return "UNIQUE constraint failed" in msg or "unique constraint" in msg.lower()


def _account(row: Any) -> AccountRow:
    return AccountRow(id=row.id, name=row.name, password_hash=row.password_hash, role=row.role,
                      banned=bool(row.banned))


def _character(row: Any, items: Sequence[ItemRow] = ()) -> CharacterRow:
    return CharacterRow(
        id=row.id, account_id=row.account_id, name=row.name, profession=row.profession,
        room_id=row.room_id, hp=row.hp, max_hp=row.max_hp, lucidity=row.lucidity, xp=row.xp,
        level=row.level, posture=row.posture, stats=dict(row.stats or {}),
        last_seen=row.last_seen, items=tuple(items))


_ACCOUNT_COLS = (accounts.c.id, accounts.c.name, accounts.c.password_hash, accounts.c.role,
                 accounts.c.banned)
_CHARACTER_COLS = (
    characters.c.id, characters.c.account_id, characters.c.name, characters.c.profession,
    characters.c.room_id, characters.c.hp, characters.c.max_hp, characters.c.lucidity,
    characters.c.xp, characters.c.level, characters.c.posture, characters.c.stats,
    characters.c.last_seen)

#: What ``Store.save_progress`` writes: the key, then the progress columns and ``last_seen``
#: (kept when a row brings None).
_PROGRESS = ("id", *PROGRESS_COLUMNS, "last_seen")


class Store:
    """The database, as the game sees it. Make one with ``await Store.open(url)``."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines
        self.url: str = engines.url  # masked

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._engines.backend

    @property
    def engines(self) -> Engines:
        """The engines, for code inside ``mythos.store`` (and tests) only."""
        return self._engines

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    async def open(cls, url: str, *, connect_timeout: float = 5.0,
                   busy_timeout: float = 5.0) -> Store:
        """Open the database at ``url`` and check that it answers; ``DatabaseUnavailable``
        (one line, password masked) when it does not within ``connect_timeout`` seconds.

        ``busy_timeout`` (SQLite only): how long a write waits on another process's lock."""
        try:
            # in a thread: making an SQLite engine resolves its path (os.path.abspath)
            engines = await asyncio.to_thread(
                open_engines, url, connect_timeout=connect_timeout, busy_timeout=busy_timeout)
        except Exception as exc:
            raise DatabaseUnavailable(url, exc) from None
        try:
            async with asyncio.timeout(connect_timeout):
                await engines.write(select_one)
                await engines.read(select_one)
        except Exception as exc:
            reason = (f"no answer within {connect_timeout:g} s" if isinstance(exc, TimeoutError)
                      else exc)
            try:
                async with asyncio.timeout(connect_timeout):
                    await engines.dispose()
            except Exception:
                pass
            raise DatabaseUnavailable(url, reason) from None
        return cls(engines)

    async def close(self, timeout: float = 5.0) -> None:
        """Close every connection, waiting at most ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._engines.dispose()
        except TimeoutError:
            log.warning("store_close_timeout", url=self.url, timeout=timeout)
        except Exception as exc:
            log.warning("store_close_failed", url=self.url, error=describe_error(exc))

    async def ping(self) -> bool:
        """True when the database answers ``SELECT 1`` now (within ~2 s). Never raises."""
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await self._engines.read(select_one)
        except Exception:
            return False
        return True

    # -- accounts ---------------------------------------------------------------------------

    @staticmethod
    def _insert_account(conn: Connection, name: str, password_hash: str,
                        role: str) -> AccountRow:
        try:
            result = conn.execute(sa.insert(accounts).values(
                name=name, name_key=name_key(name), password_hash=password_hash, role=role,
                banned=False))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise NameTaken(name, "account") from None
            raise
        return AccountRow(id=result.inserted_primary_key[0], name=name,
                          password_hash=password_hash, role=role, banned=False)

    async def create_account(self, name: str, password_hash: str,
                             role: str = "player") -> AccountRow:
        """A new account; ``NameTaken`` when the name exists (in any letter case)."""
        return await self._engines.write(self._insert_account, name, password_hash, role)

    async def get_account(self, name: str) -> AccountRow | None:
        def run(conn: Connection) -> AccountRow | None:
            row = conn.execute(
                sa.select(*_ACCOUNT_COLS).where(accounts.c.name_key == name_key(name))).first()
            return _account(row) if row is not None else None

        return await self._engines.read(run)

    async def _update_account(self, name: str, *where: Any, **values: Any) -> bool:
        """Set ``values`` on the account ``name`` (where ``where`` holds too); False when no
        account matched."""
        return await self._engines.execute(
            sa.update(accounts).where(accounts.c.name_key == name_key(name), *where)
            .values(**values)) == 1

    async def set_role(self, name: str, role: str) -> bool:
        """Give the account ``name`` the role ``role``; False when there is no such account."""
        return await self._update_account(name, role=role)

    async def set_password(self, name: str, old_hash: str, new_hash: str) -> bool:
        """Replace the password hash of ``name`` if it is still ``old_hash`` (a conditional
        update: of two changes racing, one wins); False otherwise."""
        return await self._update_account(name, accounts.c.password_hash == old_hash,
                                          password_hash=new_hash)

    async def set_banned(self, name: str, banned: bool) -> bool:
        """Ban or unban the account ``name``; False when there is no such account."""
        return await self._update_account(name, banned=banned)

    # -- characters -------------------------------------------------------------------------

    @staticmethod
    def _insert_character(
        conn: Connection, account_id: int, name: str, profession: str, room_id: str,
        hp: int, max_hp: int, stats: dict[str, Any], *, lucidity: int, xp: int, level: int,
        posture: str, kit: Sequence[KitItem] = (),
    ) -> CharacterRow:
        stats = dict(stats)
        try:
            result = conn.execute(sa.insert(characters).values(
                account_id=account_id, name=name, name_key=name_key(name),
                profession=profession, room_id=room_id, hp=hp, max_hp=max_hp,
                lucidity=lucidity, xp=xp, level=level, posture=posture, stats=stats))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise NameTaken(name, "character") from None
            raise
        char_id = result.inserted_primary_key[0]
        kit_rows = insert_kit(conn, char_id, kit) if kit else []
        return CharacterRow(
            id=char_id, account_id=account_id, name=name,
            profession=profession, room_id=room_id, hp=hp, max_hp=max_hp, lucidity=lucidity,
            xp=xp, level=level, posture=posture, stats=stats, last_seen=None,
            items=tuple(kit_rows))

    async def create_character(
        self, account_id: int, name: str, profession: str, room_id: str, hp: int, max_hp: int,
        stats: dict[str, Any], *, lucidity: int = 100, xp: int = 0, level: int = 1,
        posture: str = "standing", kit: Sequence[KitItem] = (),
    ) -> CharacterRow:
        """A new character of ``account_id`` with its starting ``kit`` (prototype id,
        quantity, worn slot or None); ``NameTaken`` when the name exists."""
        def run(conn: Connection) -> CharacterRow:
            return self._insert_character(
                conn, account_id, name, profession, room_id, hp, max_hp, stats,
                lucidity=lucidity, xp=xp, level=level, posture=posture, kit=kit)

        return await self._engines.write(run)

    async def create_account_with_character(
        self, name: str, password_hash: str, role: str, profession: str, room_id: str, hp: int,
        max_hp: int, stats: dict[str, Any], *, lucidity: int = 100, xp: int = 0, level: int = 1,
        posture: str = "standing", kit: Sequence[KitItem] = (),
    ) -> tuple[AccountRow, CharacterRow]:
        """An account and its character of the same name, with the character's starting
        ``kit``, in one transaction: all or nothing. ``NameTaken`` when either name exists."""
        def run(conn: Connection) -> tuple[AccountRow, CharacterRow]:
            account = self._insert_account(conn, name, password_hash, role)
            return account, self._insert_character(
                conn, account.id, name, profession, room_id, hp, max_hp, stats,
                lucidity=lucidity, xp=xp, level=level, posture=posture, kit=kit)

        return await self._engines.write(run)

    async def get_character(self, name: str) -> CharacterRow | None:
        """The character ``name`` with everything it carries (``CharacterRow.items``)."""
        def run(conn: Connection) -> CharacterRow | None:
            row = conn.execute(
                sa.select(*_CHARACTER_COLS).where(characters.c.name_key == name_key(name))
            ).first()
            if row is None:
                return None
            return _character(row, load_tree(conn, [char_owner(row.id)]))

        return await self._engines.read(run)

    async def get_character_by_id(self, char_id: int) -> CharacterRow | None:
        def run(conn: Connection) -> CharacterRow | None:
            row = conn.execute(
                sa.select(*_CHARACTER_COLS).where(characters.c.id == char_id)).first()
            return _character(row) if row is not None else None

        return await self._engines.read(run)

    async def characters_of(self, account_id: int) -> list[CharacterRow]:
        def run(conn: Connection) -> list[CharacterRow]:
            rows = conn.execute(
                sa.select(*_CHARACTER_COLS).where(characters.c.account_id == account_id)
                .order_by(characters.c.id)).all()
            return [_character(r) for r in rows]

        return await self._engines.read(run)

    # -- progress ---------------------------------------------------------------------------

    async def save_progress(self, rows: Sequence[ProgressRow],
                            minds: Sequence[MindSave] = ()) -> None:
        """Write the progress columns of ``rows`` in one transaction (one UPDATE: ``bulk.py``),
        with the characters' unsaved mind rows (``store/mind.py``: explored rooms, encounters,
        cooldowns, liabilities). Nothing else is written: never item ownership, never stats.
        Unknown ids are ignored."""
        if not rows:
            return
        values = [(r.id, r.room_id, r.hp, r.max_hp, r.lucidity, r.xp, r.level, r.posture,
                   r.last_seen) for r in rows]

        def run(conn: Connection) -> None:
            bulk.update(conn, characters, "id", _PROGRESS, values, keep_when_null=("last_seen",))
            if minds:
                write_mind(conn, minds)

        await self._engines.write(run)

