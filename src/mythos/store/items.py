"""Items in the database: one row per item (or stack), with exactly one owner.

``owner`` is a string: ``char:<character id>``, ``room:<room id>`` or ``item:<container id>``.
Every change of ownership is one transaction of ``ItemOp``s (``ItemStore.transact``), each a
conditional statement (``UPDATE items SET owner = :to WHERE id = :id AND owner = :from``) that
must touch exactly one row, or the whole transaction rolls back with ``ItemConflict``. Nothing
else writes these tables: the write-behind flusher never does.

``item_seeds`` remembers which of the world files' placements (room containers and loose things,
by placement id) were put into the world already, so they are seeded once and not at every start.

Tables on the shared ``metadata`` (migration ``0002_items``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .db import Engines
from .tables import UTCDateTime, metadata, utcnow

if TYPE_CHECKING:
    from .store import Store

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("proto", sa.String(128), nullable=False),
    sa.Column("owner", sa.String(160), nullable=False, index=True),
    sa.Column("quantity", sa.Integer, nullable=False, default=1, server_default=sa.text("1")),
    sa.Column("slot", sa.String(16), nullable=True),  # worn/wielded in, when a character's
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.CheckConstraint("quantity >= 1", name="quantity_positive"),
    sqlite_autoincrement=True,  # never reuse an id: clients and logs name items by it
)

item_seeds = sa.Table(
    "item_seeds",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),  # the placement id
    sa.Column("item_id", sa.Integer, nullable=True),  # the item it made
    sa.Column("created_at", UTCDateTime, nullable=False, default=utcnow,
              server_default=sa.text("CURRENT_TIMESTAMP")),
)

#: Containers in containers are loaded to at most this depth (the rules allow far less).
MAX_LOAD_DEPTH = 8
_CHUNK = 500


def char_owner(char_id: int) -> str:
    return f"char:{char_id}"


def room_owner(room_id: str) -> str:
    return f"room:{room_id}"


def item_owner(item_id: int) -> str:
    return f"item:{item_id}"


@dataclass(frozen=True)
class ItemRow:
    id: int
    proto: str
    owner: str
    quantity: int
    slot: str | None


# -- operations ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ref:
    """The id of the item made by the ``Create`` at position ``index`` of the same transaction."""

    index: int


@dataclass(frozen=True)
class Move:
    """Give a whole item (or stack) a new owner (a ``Ref``: a container made earlier in the
    same transaction); it is no longer worn. ``quantity``: also require the stack to hold
    exactly that many."""

    item_id: int
    from_owner: str
    to_owner: str | Ref
    quantity: int | None = None


@dataclass(frozen=True)
class Adjust:
    """Add ``delta`` (may be negative) to a stack; the stack must keep at least one."""

    item_id: int
    owner: str
    delta: int


@dataclass(frozen=True)
class Delete:
    """Remove a whole item or stack of exactly ``quantity`` from the world (sold, merged)."""

    item_id: int
    owner: str
    quantity: int


@dataclass(frozen=True)
class Create:
    """A new item (bought, seeded, a starting kit)."""

    proto: str
    owner: str | Ref
    quantity: int = 1
    slot: str | None = None


@dataclass(frozen=True)
class SetSlot:
    """Wear, wield or remove: the item stays with ``owner``; its slot goes from ``from_slot``
    to ``to_slot`` (None: carried, not worn)."""

    item_id: int
    owner: str
    from_slot: str | None
    to_slot: str | None


@dataclass(frozen=True)
class Seed:
    """Mark the world-file placement ``key`` as seeded (by the item of ``item``)."""

    key: str
    item: Ref | None = None


ItemOp = Move | Adjust | Delete | Create | SetSlot | Seed


class ItemConflict(Exception):
    """A conditional statement of an item transaction touched no row: the world in the
    database is not what the caller thought. The transaction was rolled back."""

    def __init__(self, op: ItemOp) -> None:
        self.op = op
        super().__init__(f"item transaction conflict at {op!r}")


class AlreadySeeded(Exception):
    """A ``Seed`` found its placement seeded already (by another process); rolled back."""


def _owner(value: str | Ref, made: list[int | None]) -> str:
    if isinstance(value, Ref):
        made_id = made[value.index]
        assert made_id is not None, "a Ref must point at an earlier Create"
        return item_owner(made_id)
    return value


# The statements of ``run_ops``, built once: building a statement (its WHERE clause's
# expressions) cost several times more than running it on SQLite (an item move of two statements
# took 0.5 ms of the writer thread's CPU, holding the GIL, against 0.06 ms in sqlite3 itself;
# now 0.2 ms: bench/items.py).
_c = items.c
_ID, _OWNER = sa.bindparam("p_id"), sa.bindparam("p_owner")
_MOVE = (sa.update(items).where(_c.id == _ID, _c.owner == _OWNER)
         .values(owner=sa.bindparam("p_to"), slot=None))
_MOVE_EXACT = _MOVE.where(_c.quantity == sa.bindparam("p_quantity"))
_ADJUST = (sa.update(items)
           .where(_c.id == _ID, _c.owner == _OWNER, _c.quantity + sa.bindparam("p_delta") >= 1)
           .values(quantity=_c.quantity + sa.bindparam("p_delta")))
_DELETE = sa.delete(items).where(_c.id == _ID, _c.owner == _OWNER,
                                 _c.quantity == sa.bindparam("p_quantity"))
_SET_SLOT = sa.update(items).values(slot=sa.bindparam("p_to"))
_SET_SLOT_WORN = _SET_SLOT.where(_c.id == _ID, _c.owner == _OWNER,
                                 _c.slot == sa.bindparam("p_from"))
_SET_SLOT_CARRIED = _SET_SLOT.where(_c.id == _ID, _c.owner == _OWNER, _c.slot.is_(None))
_CREATE = sa.insert(items)
_SEED = sa.insert(item_seeds)


def run_ops(conn: Connection, ops: Sequence[ItemOp]) -> list[int | None]:
    """Run ``ops`` in order on ``conn`` (inside the caller's transaction). Returns, per op,
    the id a ``Create`` made (None for the others). ``ItemConflict`` when a conditional
    statement touches no row."""
    made: list[int | None] = []
    for op in ops:
        new_id: int | None = None
        if isinstance(op, Move):
            params = {"p_id": op.item_id, "p_owner": op.from_owner,
                      "p_to": _owner(op.to_owner, made)}
            if op.quantity is None:
                result = conn.execute(_MOVE, params)
            else:
                result = conn.execute(_MOVE_EXACT, {**params, "p_quantity": op.quantity})
        elif isinstance(op, Adjust):
            result = conn.execute(_ADJUST, {"p_id": op.item_id, "p_owner": op.owner,
                                            "p_delta": op.delta})
        elif isinstance(op, Delete):
            result = conn.execute(_DELETE, {"p_id": op.item_id, "p_owner": op.owner,
                                            "p_quantity": op.quantity})
        elif isinstance(op, SetSlot):
            params = {"p_id": op.item_id, "p_owner": op.owner, "p_to": op.to_slot}
            if op.from_slot is None:
                result = conn.execute(_SET_SLOT_CARRIED, params)
            else:
                result = conn.execute(_SET_SLOT_WORN, {**params, "p_from": op.from_slot})
        elif isinstance(op, Create):
            result = conn.execute(_CREATE, {"proto": op.proto, "owner": _owner(op.owner, made),
                                            "quantity": op.quantity, "slot": op.slot})
            new_id = result.inserted_primary_key[0]
        elif isinstance(op, Seed):
            item_id = made[op.item.index] if op.item is not None else None
            try:
                conn.execute(_SEED, {"key": op.key, "item_id": item_id})
            except IntegrityError:
                raise AlreadySeeded(op.key) from None
            made.append(None)
            continue
        else:  # pragma: no cover - the union above is exhaustive
            raise TypeError(f"not an item operation: {op!r}")
        if not isinstance(op, Create) and result.rowcount != 1:
            raise ItemConflict(op)
        made.append(new_id)
    return made


def _row(r: sa.Row) -> ItemRow:
    return ItemRow(id=r.id, proto=r.proto, owner=r.owner, quantity=r.quantity, slot=r.slot)


_COLS = (items.c.id, items.c.proto, items.c.owner, items.c.quantity, items.c.slot)


def load_tree(conn: Connection, owners: Sequence[str] | None = None, *,
                    owner_prefix: str | None = None) -> list[ItemRow]:
    """Every item held by ``owners`` (or by any owner beginning with ``owner_prefix``) and,
    level by level, everything inside those. Parents come before their contents."""
    out: list[ItemRow] = []
    if owner_prefix is not None:
        rows = conn.execute(
            sa.select(*_COLS).where(items.c.owner.like(f"{owner_prefix}%"))
            .order_by(items.c.id)).all()
        level = [_row(r) for r in rows]
    else:
        level = _held_by(conn, list(owners or ()))
    depth = 0
    while level and depth <= MAX_LOAD_DEPTH:
        out.extend(level)
        level = _held_by(conn, [item_owner(r.id) for r in level])
        depth += 1
    return out


def _held_by(conn: Connection, owners: list[str]) -> list[ItemRow]:
    found: list[ItemRow] = []
    for i in range(0, len(owners), _CHUNK):
        chunk = owners[i:i + _CHUNK]
        rows = conn.execute(
            sa.select(*_COLS).where(items.c.owner.in_(chunk)).order_by(items.c.id)).all()
        found.extend(_row(r) for r in rows)
    return found


#: One thing of a starting kit: (prototype id, quantity, slot it is worn in or None).
KitItem = tuple[str, int, str | None]


def insert_kit(conn: Connection, char_id: int,
                     kit: Sequence[KitItem]) -> list[ItemRow]:
    """Create a new character's starting kit (inside the caller's transaction)."""
    owner = char_owner(char_id)
    ops = [Create(proto, owner, quantity, slot) for proto, quantity, slot in kit]
    ids = run_ops(conn, ops)
    return [ItemRow(id=i, proto=op.proto, owner=owner, quantity=op.quantity, slot=op.slot)
            for i, op in zip(ids, ops, strict=True) if i is not None]


class ItemStore:
    """Reads and writes of the item tables. Make one with ``ItemStore.of(store)``."""

    def __init__(self, engines: Engines) -> None:
        self._engines = engines

    @classmethod
    def of(cls, store: Store) -> ItemStore:
        return cls(store.engines)

    async def transact(self, ops: Sequence[ItemOp]) -> list[int | None]:
        """Run ``ops`` as one transaction: all of them or (``ItemConflict``, a database
        error) none. Returns the ids the ``Create`` ops made, by position."""
        return await self._engines.write(run_ops, ops)

    async def load_rooms(self) -> list[ItemRow]:
        """Everything on the floors of rooms, and inside what is there (start-up)."""
        def run(conn: Connection) -> list[ItemRow]:
            return load_tree(conn, owner_prefix="room:")

        return await self._engines.read(run)

    async def load_character(self, char_id: int) -> list[ItemRow]:
        """What a character carries and wears, and what is inside that."""
        return await self._engines.read(load_tree, [char_owner(char_id)])

    async def load_items(self, item_ids: Sequence[int]) -> list[ItemRow]:
        """The rows of ``item_ids`` (those that exist)."""
        def run(conn: Connection) -> list[ItemRow]:
            rows = conn.execute(
                sa.select(*_COLS).where(items.c.id.in_(list(item_ids)))).all()
            return [_row(r) for r in rows]

        return await self._engines.read(run)

    async def seeds(self) -> dict[str, int | None]:
        """Placement id -> the item it made, for every placement seeded so far."""
        def run(conn: Connection) -> dict[str, int | None]:
            rows = conn.execute(sa.select(item_seeds.c.key, item_seeds.c.item_id)).all()
            return {r.key: r.item_id for r in rows}

        return await self._engines.read(run)

    async def seed(self, ops: Sequence[ItemOp]) -> list[int | None] | None:
        """Like ``transact`` for a transaction with a ``Seed``; None when that placement was
        seeded already (nothing is written)."""
        try:
            return await self.transact(ops)
        except AlreadySeeded:
            return None
