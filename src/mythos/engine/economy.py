"""The economy: every move of an item between owners, and the items in memory.

An action (get, drop, give, put, buy, sell ...) builds a ``Txn``: the database operations
(conditional, see ``store/items.py``) and what will change in memory once they commit.
``Economy.commit`` runs the operations as ONE transaction; only when it has committed does the
world in memory change and are clients told (text by the command, GMCP here). If it fails, the
player is told and nothing moves.

Economy actions take turns: a command holds ``Economy.turn(char, room)`` from its checks (against
the world in memory) to the end of its commit, so what it checked cannot change under it while it
waits for the database; actions with no party in common run at once (``engine/turns.py``). The
conditional statements still guard every row, so a database that disagrees (another process, a
bug) rolls the action back instead of losing or copying an item. Turns are short (one
transaction); a database that hangs makes the next actions wait at most ``TURN_WAIT`` seconds
before they are refused ("try again"), never the whole game.

Item ownership is never written anywhere else: not by the progress flusher, not at logout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

import structlog

from mythos.engine import gmcp
from mythos.engine.connection import before_commit
from mythos.engine.turns import Turns
from mythos.rules.character import starting_kit
from mythos.rules.items import stack_at
from mythos.store.db import describe_error
from mythos.store.items import (
    Adjust,
    Create,
    Delete,
    ItemConflict,
    ItemOp,
    ItemRow,
    ItemStore,
    Move,
    Ref,
    Seed,
    SetSlot,
    room_owner,
)
from mythos.world.items import (
    ContainerState,
    Item,
    ItemProto,
    attach,
    detach,
    holdings,
    owner_key,
    top_owner,
    walk,
)
from mythos.world.model import Character, Room

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.session import Session

log = structlog.get_logger(__name__)

#: How long an economy action waits for its turn before it is refused.
TURN_WAIT = 10.0
BUSY = "{y}Arkham's ledgers are busy just now; try that again in a moment.{x}"
CONFLICT = "{y}Something shifted as you reached for it; nothing moved. Look again.{x}"
UNREACHABLE = "{y}The archives are unreachable just now; nothing moved. Try again shortly.{x}"
ADRIFT = ("{y}The world has lost touch with your connection for a moment; nothing moved. Try "
          "again shortly.{x}")


class Busy(Exception):
    """No turn within ``TURN_WAIT`` seconds."""


def new_item(item_id: int, proto: ItemProto, quantity: int = 1, slot: str | None = None,
             ) -> Item:
    c = proto.container
    return Item(id=item_id, proto=proto, quantity=quantity, slot=slot,
                state=c.state if c is not None else ContainerState.OPEN,
                key=c.key if c is not None else None)


# An event for the clients: ("add" | "remove" | "update", holder, item).
Event = tuple[str, Any, Item]


class Txn:
    """One economy action: database operations, then (after they commit) the same changes in
    memory. Build it while holding a turn, against the world as it is now."""

    def __init__(self) -> None:
        self.ops: list[ItemOp] = []
        #: What ``apply`` does, each given this transaction (a closure over the ``Txn`` itself
        #: would make a reference cycle: garbage only the collector frees, and its passes hold
        #: the loop).
        self._effects: list[Callable[[Txn, list[int | None]], None]] = []
        #: What changed, for the clients; filled in by ``apply``.
        self.events: list[Event] = []
        #: The items made or joined at their destination by ``move``/``create``, in order;
        #: filled in by ``apply`` (for the commands' messages).
        self.arrived: list[Item] = []
        #: Containers ``make`` creates in this transaction (by ``id()``): their ``Create``.
        self._made: dict[int, Ref] = {}

    def __bool__(self) -> bool:
        return bool(self.ops)

    def _op(self, op: ItemOp) -> int:
        self.ops.append(op)
        return len(self.ops) - 1

    def _effect(self, fn: Callable[[Txn, list[int | None]], None]) -> None:
        self._effects.append(fn)

    def _key(self, dest: Any) -> str | Ref:
        """The database's name for ``dest``; a ``Ref`` for a container made by ``make``."""
        made = self._made.get(id(dest))
        return made if made is not None else owner_key(dest)

    # -- building ---------------------------------------------------------------------------
    def move(self, item: Item, quantity: int, dest: Any) -> None:
        """``quantity`` of ``item`` (all of it unless a stack is split) goes to ``dest``: a
        character (carried, not worn), a room or a container. Stacks join a stack there."""
        src = item.parent
        f, t = owner_key(src), self._key(dest)
        stack = item.proto.stack
        target = stack_at(holdings(dest), item.proto, but=item) if stack else None
        whole = quantity >= item.quantity
        if not stack or (whole and target is None):  # the thing itself changes hands
            self._op(Move(item.id, f, t, quantity=item.quantity if stack else None))

            def moved(txn: Txn, _: list[int | None]) -> None:
                txn.events.append(("remove", src, item))
                detach(item)
                item.slot = None
                attach(item, dest)
                txn.events.append(("add", dest, item))
                txn.arrived.append(item)

            self._effect(moved)
        elif whole and target is not None:
            self._op(Delete(item.id, f, item.quantity))
            self._op(Adjust(target.id, owner_key(dest), quantity))

            def merged(txn: Txn, _: list[int | None]) -> None:
                txn.events.append(("remove", src, item))
                detach(item)
                target.quantity += quantity
                txn.events.append(("update", dest, target))
                txn.arrived.append(target)

            self._effect(merged)
        else:
            self._op(Adjust(item.id, f, -quantity))
            if target is not None:
                self._op(Adjust(target.id, owner_key(dest), quantity))

                def split_join(txn: Txn, _: list[int | None]) -> None:
                    item.quantity -= quantity
                    target.quantity += quantity
                    txn.events.append(("update", src, item))
                    txn.events.append(("update", dest, target))
                    txn.arrived.append(target)

                self._effect(split_join)
            else:
                index = self._op(Create(item.proto.id, t, quantity))

                def split_new(txn: Txn, made: list[int | None]) -> None:
                    item.quantity -= quantity
                    txn.events.append(("update", src, item))
                    made_id = made[index]
                    assert made_id is not None
                    new = new_item(made_id, item.proto, quantity)
                    attach(new, dest)
                    txn.events.append(("add", dest, new))
                    txn.arrived.append(new)

                self._effect(split_new)

    def create(self, proto: ItemProto, quantity: int, dest: Any, slot: str | None = None,
               ) -> None:
        """New things (bought, seeded, refilled, looted) at ``dest``; a stack joins one there,
        and ``quantity`` of a thing that does not stack are that many things."""
        if not proto.stack and quantity > 1:
            for _ in range(quantity):
                self.create(proto, 1, dest, slot)
            return
        t = self._key(dest)
        target = stack_at(holdings(dest), proto) if slot is None else None
        if target is not None:
            self._op(Adjust(target.id, owner_key(dest), quantity))

            def grew(txn: Txn, _: list[int | None]) -> None:
                target.quantity += quantity
                txn.events.append(("update", dest, target))
                txn.arrived.append(target)

            self._effect(grew)
            return
        index = self._op(Create(proto.id, t, quantity, slot))

        def made_new(txn: Txn, made: list[int | None]) -> None:
            made_id = made[index]
            assert made_id is not None
            new = new_item(made_id, proto, quantity, slot)
            attach(new, dest)
            txn.events.append(("add", dest, new))
            txn.arrived.append(new)

        self._effect(made_new)

    def make(self, proto: ItemProto, dest: Any) -> Item:
        """A new container at ``dest``, to be filled in the same transaction (``move`` or
        ``create`` into it): its id is known once committed, when it is set and it arrives."""
        item = new_item(0, proto)
        index = self._op(Create(proto.id, self._key(dest)))
        self._made[id(item)] = Ref(index)

        def made_container(txn: Txn, made: list[int | None]) -> None:
            made_id = made[index]
            assert made_id is not None
            item.id = made_id
            attach(item, dest)
            txn.events.append(("add", dest, item))

        self._effect(made_container)
        return item

    def destroy(self, item: Item, quantity: int) -> None:
        """``quantity`` of ``item`` leaves the world (sold, paid). Containers must be empty."""
        assert not item.contents, "destroying a container would lose what is in it"
        src = item.parent
        f = owner_key(src)
        if quantity >= item.quantity:
            self._op(Delete(item.id, f, item.quantity))

            def gone(txn: Txn, _: list[int | None]) -> None:
                txn.events.append(("remove", src, item))
                detach(item)

            self._effect(gone)
        else:
            self._op(Adjust(item.id, f, -quantity))

            def less(txn: Txn, _: list[int | None]) -> None:
                item.quantity -= quantity
                txn.events.append(("update", src, item))

            self._effect(less)

    def set_slot(self, item: Item, slot: str | None) -> None:
        """Wear or wield (``slot``) or remove (None) a thing its character carries."""
        owner = item.parent
        self._op(SetSlot(item.id, owner_key(owner), item.slot, slot))

        def slotted(txn: Txn, _: list[int | None]) -> None:
            item.slot = slot
            txn.events.append(("update", owner, item))

        self._effect(slotted)

    def apply(self, made: list[int | None]) -> None:
        """The operations committed: change the world in memory the same way."""
        for effect in self._effects:
            effect(self, made)


class Economy:
    """Item moves for the whole game; one per ``Game``."""

    def __init__(self, game: Game) -> None:
        self.game = game
        self.store = ItemStore.of(game.store)
        self._turns = Turns()
        self._count = game.metrics.item_transactions
        self._waited = game.metrics.turn_wait

    @property
    def world(self) -> Any:
        return self.game.world

    # -- turns and commits ------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def turn(self, *parties: object, wait: float = TURN_WAIT) -> AsyncIterator[None]:
        """Hold the economy for ``parties`` (the character acting, the room it stands in
        ...; none: all of it) while checking and committing one action (``engine/turns.py``);
        ``Busy`` after ``wait`` seconds without a turn."""
        asked = time.perf_counter()
        try:
            async with asyncio.timeout(wait):
                turn = await self._turns.take(*parties)
        except TimeoutError:
            raise Busy from None
        finally:
            self._waited.observe(time.perf_counter() - asked)
        try:
            yield
        finally:
            self._turns.give_back(turn)

    async def settled(self) -> None:
        """Wait until no action is between its commit and its change in memory (a login
        reads a character's items only then): the turns under way, if any, have ended.

        Not the turns queued behind them: those have not committed anything yet, and any of
        them may as well start right after this returns (nothing is held over the read).
        Waiting for the whole queue made a login wait for every item action in the game
        queued before it, past its timeout when the database writer is busy."""
        for turn in self._turns.active:
            await turn.over.wait()

    async def commit(self, txn: Txn) -> str | None:
        """Run ``txn`` as one transaction; then change memory and tell the clients.

        Returns None when done, else what to tell the player (nothing moved). Call it inside
        ``turn()``."""
        assert self._turns.active, "commit outside a turn"
        if not txn:
            return None
        hook = before_commit.get()
        if hook is not None and not await hook():  # its line never runs twice (bus/wire.py)
            self._count.labels("failed").inc()
            log.warning("item_move_unconfirmed", ops=len(txn.ops))
            return ADRIFT
        try:
            made = await self.store.transact(txn.ops)
        except ItemConflict as exc:
            self._count.labels("conflict").inc()
            log.warning("item_conflict", op=repr(exc.op))
            return CONFLICT
        except Exception as exc:
            # Nothing moved in memory. (Should the connection die during COMMIT itself, the
            # database may have kept the move after all; its conditional statements then refuse
            # any move based on the old place, so the thing is never doubled; the next start
            # reads where it really is.)
            self._count.labels("failed").inc()
            log.warning("item_transaction_failed", error=describe_error(exc),
                        ops=len(txn.ops))
            return UNREACHABLE
        self._count.labels("committed").inc()
        txn.apply(made)
        self.emit(txn.events)
        return None

    def starting_kit(self, profession: str) -> list[tuple[str, int, str | None]]:
        """A new character's kit (rules/character.py), the prototypes this world has."""
        return [k for k in starting_kit(profession) if k[0] in self.world.protos]

    # -- loading ----------------------------------------------------------------------------
    def build(self, rows: Iterable[ItemRow], *, chars: dict[int, Character] | None = None,
              ) -> list[Item]:
        """Items from database rows (parents before contents), attached to their owners: the
        characters in ``chars``, the world's rooms, or items built here. Rows naming an unknown
        prototype, room or owner are left in the database and out of the world (logged)."""
        built: dict[int, Item] = {}
        out: list[Item] = []
        protos = self.world.protos
        for row in rows:
            proto = protos.get(row.proto)
            kind, _, key = row.owner.partition(":")
            owner: Any = None
            if kind == "char" and chars is not None:
                owner = chars.get(int(key)) if key.isdigit() else None
            elif kind == "room":
                owner = self.world.rooms.get(key)
            elif kind == "item" and key.isdigit():
                owner = built.get(int(key))
            if proto is None or owner is None:
                log.warning("item_not_loaded", item=row.id, proto=row.proto, owner=row.owner,
                            reason="unknown prototype" if proto is None else "unknown owner")
                continue
            item = new_item(row.id, proto, row.quantity,
                            row.slot if isinstance(owner, Character) else None)
            attach(item, owner)
            built[row.id] = item
            out.append(item)
        return out

    def attach_character(self, char: Character, rows: Iterable[ItemRow]) -> None:
        """Give a character loaded from the database what it carries (its row's items)."""
        char.items = []
        self.build(rows, chars={char.id: char})

    async def start(self) -> None:
        """Seed the world files' placements not seeded yet, load everything in rooms, put
        back what refilling placements miss, and set containers' states. At start-up."""
        async with self.turn():
            seeds = await self.store.seeds()
            for p in self.world.placements:
                if p.id in seeds or p.proto not in self.world.protos:
                    continue
                ops: list[ItemOp] = [Create(p.proto, room_owner(p.room), p.quantity)]
                ops += [Create(c.proto, Ref(0), c.quantity) for c in p.contents]
                ops.append(Seed(p.id, Ref(0)))
                made = await self.store.seed(ops)
                if made is not None:
                    seeds[p.id] = made[0]
                    log.info("placement_seeded", placement=p.id, room=p.room)
            for room in self.world.rooms.values():
                room.items = []
            self.build(await self.store.load_rooms())
            by_id = {i.id: i for room in self.world.rooms.values() for i in room.items}
            for p in self.world.placements:
                item = by_id.get(seeds.get(p.id) or -1)
                if p.refill:
                    await self._refill(p, item)
                if item is not None and p.state is not None and item.is_container:
                    item.state = p.state

    async def _refill(self, p: Any, item: Item | None) -> None:
        txn = Txn()
        protos = self.world.protos
        if p.contents:
            if item is None or not item.is_container:
                return
            for c in p.contents:
                have = sum(i.quantity for i in item.contents if i.proto.id == c.proto)
                if have < c.quantity and c.proto in protos:
                    txn.create(protos[c.proto], c.quantity - have, item)
        else:
            room = self.world.rooms[p.room]
            proto = protos[p.proto]
            have = sum(i.quantity for i in room.items if i.proto is proto)
            if have < p.quantity:
                txn.create(proto, p.quantity - have, room)
        if txn and (problem := await self.commit(txn)) is not None:
            log.warning("refill_failed", placement=p.id, problem=problem)

    # -- what clients are told (GMCP Char.Items.*) ----------------------------------------------
    def _audience(self, holder: Any) -> tuple[str, list[Session]]:
        """(GMCP location, sessions to tell) for things held by ``holder``."""
        from mythos.engine.session import Session

        if isinstance(holder, Character):
            link = holder.link
            return "inv", [link] if isinstance(link, Session) else []
        if isinstance(holder, Room):
            return "room", self.game.sessions_in(holder)
        top = top_owner(holder)
        if isinstance(top, Character):
            link = top.link
            return str(holder.id), [link] if isinstance(link, Session) else []
        if isinstance(top, Room):
            return str(holder.id), self.game.sessions_in(top)
        return str(holder.id), []

    def emit(self, events: Iterable[Event]) -> None:
        packages = {"add": "Char.Items.Add", "remove": "Char.Items.Remove",
                    "update": "Char.Items.Update"}
        for kind, holder, item in events:
            location, sessions = self._audience(holder)
            data: Any = gmcp.item_event(location, item)
            if len(sessions) > 1:
                data = gmcp.Encoded(data)
            for s in sessions:
                s.oob(packages[kind], data)

    def send_lists(self, session: Session, *, inventory: bool = True) -> None:
        """Char.Items.List of the inventory (unless not ``inventory``: a step changes none)
        and of the room (login, every move)."""
        char = session.char
        if char is None:
            return
        if inventory:
            session.oob("Char.Items.List", gmcp.items_list("inv", char.items))
        session.oob("Char.Items.List",
                    gmcp.items_list("room", self.world.rooms[char.room_id].items))

    def find_visible(self, char: Character, item_id: int) -> Item | None:
        """An item ``char`` can see by id: carried, on the floor, or in an open container
        of either."""
        room = self.world.rooms[char.room_id]
        for item in walk([*char.items, *room.items]):
            if item.id == item_id:
                return item
        return None

    def on_request(self, session: Session, package: str, data: Any) -> None:
        """Char.Items.Inv, Char.Items.Room, Char.Items.Contents "<id>" from a client."""
        char = session.char
        if char is None:
            return
        p = package.lower()
        if p == "char.items.inv":
            session.oob("Char.Items.List", gmcp.items_list("inv", char.items))
        elif p == "char.items.room":
            session.oob("Char.Items.List",
                        gmcp.items_list("room", self.world.rooms[char.room_id].items))
        elif p == "char.items.contents":
            try:
                item_id = int(str(data).strip().strip('"'))
            except ValueError:
                return
            item = self.find_visible(char, item_id)
            if item is None or not item.is_container:
                return
            if item.is_open and all(not isinstance(o, Item) or o.is_open
                                    for o in _owners(item)):
                session.oob("Char.Items.List", gmcp.items_list(str(item.id), item.contents))
            else:
                session.oob("Char.Items.List", gmcp.items_list(str(item.id), []))


def _owners(item: Item) -> list[Any]:
    out = []
    owner = item.parent
    while isinstance(owner, Item):
        out.append(owner)
        owner = owner.parent
    return out
