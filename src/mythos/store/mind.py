"""What a character's mind keeps (``world/mind.py``): explored rooms, horrors met, liabilities
and rite cooldowns. Tables on the shared ``metadata`` (migration ``0005_mind``).

Read once at login (``MindStore.load``); written behind, in the same transaction as the
character's progress (``write_mind``, called by ``Store.save_progress``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import bulk
from .db import Engines
from .tables import UTCDateTime, metadata

explored_rooms = sa.Table(
    "explored_rooms",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("room_id", sa.String(128), primary_key=True),
)

horror_encounters = sa.Table(
    "horror_encounters",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("meetings", sa.Integer, nullable=False),
)

rite_cooldowns = sa.Table(
    "rite_cooldowns",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("rite", sa.String(32), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
)

liabilities = sa.Table(
    "liabilities",
    metadata,
    sa.Column("character_id", sa.Integer,
              sa.ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("gained_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class MindRows:
    explored: frozenset[str] = frozenset()
    encounters: dict[str, int] = field(default_factory=dict)
    cooldowns: dict[str, datetime] = field(default_factory=dict)
    liabilities: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class MindSave:
    """One character's unsaved mind changes (``world/mind.MindChanges`` as plain rows)."""

    character_id: int
    explored: Sequence[str] = ()
    encounters: dict[str, int] = field(default_factory=dict)
    cooldowns: dict[str, datetime] = field(default_factory=dict)
    liabilities: dict[str, datetime] = field(default_factory=dict)


def load_mind(conn: Connection, character_id: int) -> MindRows:
    cid = character_id
    rooms = conn.execute(sa.select(explored_rooms.c.room_id)
                         .where(explored_rooms.c.character_id == cid)).scalars().all()
    enc = conn.execute(sa.select(horror_encounters.c.kind, horror_encounters.c.meetings)
                       .where(horror_encounters.c.character_id == cid)).all()
    cds = conn.execute(sa.select(rite_cooldowns.c.rite, rite_cooldowns.c.until)
                       .where(rite_cooldowns.c.character_id == cid)).all()
    lia = conn.execute(sa.select(liabilities.c.name, liabilities.c.gained_at)
                       .where(liabilities.c.character_id == cid)).all()
    return MindRows(frozenset(rooms), {r.kind: r.meetings for r in enc},
                    {r.rite: r.until for r in cds}, {r.name: r.gained_at for r in lia})


def write_mind(conn: Connection, saves: Sequence[MindSave]) -> None:
    """Write ``saves`` inside the caller's transaction: a statement per table (``bulk.py``)."""
    bulk.insert(conn, explored_rooms, ("character_id", "room_id"),
                [(s.character_id, r) for s in saves for r in s.explored])
    for table, key, value, attr in ((horror_encounters, "kind", "meetings", "encounters"),
                                    (rite_cooldowns, "rite", "until", "cooldowns"),
                                    (liabilities, "name", "gained_at", "liabilities")):
        rows = [(s.character_id, k, v) for s in saves for k, v in getattr(s, attr).items()]
        bulk.insert(conn, table, ("character_id", key, value), rows,
                    replace_on=("character_id", key))


class MindStore:
    """Reads of the mind tables at login. Make one with ``MindStore(store.engines)``."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    async def load(self, character_id: int) -> MindRows:
        return await self._engines.read(load_mind, character_id)
