"""Corpses and the deaths log (migration ``0004_npcs``).

A death is one transaction: the item operations that make the corpse and empty the dead into it
(``store/items.py``), the ``corpses`` row that remembers whose it is and when it decays, and the
``deaths`` record. Corpse decay times are wall-clock, so they survive a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .db import Engines
from .items import ItemOp, run_ops
from .tables import UTCDateTime, metadata, utcnow

if TYPE_CHECKING:
    from .store import Store

corpses = sa.Table(
    "corpses",
    metadata,
    sa.Column("item_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(128), nullable=False),  # whose: "Ashley", "a grey rat"
    sa.Column("looters", sa.JSON, nullable=False),  # character ids that may loot before
    sa.Column("loot_until", UTCDateTime, nullable=False),
    sa.Column("decay_at", UTCDateTime, nullable=False),
)

deaths = sa.Table(
    "deaths",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.Column("victim", sa.String(128), nullable=False),
    sa.Column("character_id", sa.Integer, nullable=True),  # a player's death
    sa.Column("room", sa.String(160), nullable=False),
    sa.Column("cause", sa.String(128), nullable=False),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class CorpseRow:
    item_id: int
    name: str
    looters: tuple[int, ...]
    loot_until: datetime
    decay_at: datetime


@dataclass(frozen=True)
class DeathRecord:
    victim: str
    character_id: int | None
    room: str
    cause: str


class NpcStore:
    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    @classmethod
    def of(cls, store: Store) -> NpcStore:
        return cls(store.engines)

    async def death(self, ops: Sequence[ItemOp], name: str, looters: Sequence[int],
                    loot_until: datetime, decay_at: datetime,
                    record: DeathRecord) -> list[int | None]:
        """One death as ONE transaction: the item operations ``ops``, whose first makes the
        corpse (what follows fills it: the dead's belongings or its loot), the corpse's
        ``corpses`` row and the ``deaths`` record. Returns what the ops made."""
        def run(conn: Connection) -> list[int | None]:
            made = run_ops(conn, ops)
            conn.execute(sa.insert(corpses).values(
                item_id=made[0], name=name, looters=list(looters), loot_until=loot_until,
                decay_at=decay_at))
            conn.execute(sa.insert(deaths).values(
                victim=record.victim, character_id=record.character_id, room=record.room,
                cause=record.cause))
            return made

        return await self._engines.write(run)

    async def decay(self, ops: Sequence[ItemOp], item_id: int) -> list[int | None]:
        """A corpse crumbles: its contents spill (``ops``) and its rows go, in one
        transaction."""
        def run(conn: Connection) -> list[int | None]:
            made = run_ops(conn, ops)
            conn.execute(sa.delete(corpses).where(corpses.c.item_id == item_id))
            return made

        return await self._engines.write(run)

    async def forget(self, item_ids: Sequence[int]) -> None:
        """Drop corpse rows whose item is gone."""
        if not item_ids:
            return

        def run(conn: Connection) -> None:
            conn.execute(sa.delete(corpses).where(corpses.c.item_id.in_(list(item_ids))))

        await self._engines.write(run)

    async def load(self) -> list[CorpseRow]:
        def run(conn: Connection) -> list[CorpseRow]:
            rows = conn.execute(sa.select(corpses)).all()
            return [CorpseRow(r.item_id, r.name, tuple(int(x) for x in (r.looters or ())),
                              r.loot_until, r.decay_at) for r in rows]

        return await self._engines.read(run)

    async def deaths_of(self, character_id: int) -> int:
        def run(conn: Connection) -> int:
            return int(conn.execute(
                sa.select(sa.func.count()).select_from(deaths)
                .where(deaths.c.character_id == character_id)).scalar_one())

        return await self._engines.read(run)
