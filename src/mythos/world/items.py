"""Items in memory: prototypes from the world files, instances with one owner, shops.

An ``Item`` is an instance of an ``ItemProto``. It lives in exactly one place, its ``parent``: a
``Character`` (carried, or worn when ``slot`` is set), a ``Room`` (on the floor) or another
``Item`` (a container). The database keeps the same fact as an ``owner`` string
(``owner_key``); every move between owners is committed there before it is made here (see
``engine/economy.py``). Nothing in this module does IO.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from mythos.world.model import Character, Room

#: Where things can be worn (RULES.md, Items and containers), in the order ``equipment`` lists.
WEAR_SLOTS: tuple[str, ...] = (
    "head", "amulet", "torso", "back", "belt", "hands", "ring", "legs", "feet",
    "main_hand", "off_hand",
)
#: How ``equipment`` names each slot.
SLOT_LABEL: dict[str, str] = {
    "head": "on head", "amulet": "around neck", "torso": "on body", "back": "on back",
    "belt": "at belt", "hands": "on hands", "ring": "on finger", "legs": "on legs",
    "feet": "on feet", "main_hand": "wielded", "off_hand": "held",
}
#: Where a thing worn in each slot sits, as a sentence says it ("You wear the fedora on your
#: head.").
SLOT_PLACE: dict[str, str] = {
    "head": "on your head", "amulet": "around your neck", "torso": "on your body",
    "back": "on your back", "belt": "at your belt", "hands": "on your hands",
    "ring": "on your finger", "legs": "on your legs", "feet": "on your feet",
    "main_hand": "in your hand", "off_hand": "in your off hand",
}
ITEM_TYPES: frozenset[str] = frozenset({
    "misc", "light", "weapon", "ammo", "clothing", "container", "key", "money", "book",
    "consumable", "tool", "treasure", "fixture",
})
#: The prototype that is money (a stack of coins); prices and values are counted in it.
MONEY_PROTO = "coins"
#: no_drop: cannot leave your hands (drop, give, put, sell); no_take: cannot be picked up
#: (furniture, room containers); no_sell: no shop will buy it.
ITEM_FLAGS: frozenset[str] = frozenset({"no_drop", "no_take", "no_sell"})


class ContainerState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"


@dataclass(frozen=True)
class ContainerProto:
    slots: int  # how many things (a stack counts once) it holds
    weight: float  # the most weight of contents, in pounds
    closable: bool = True
    state: ContainerState = ContainerState.OPEN  # of a new instance
    key: str | None = None  # prototype id of the key that locks and unlocks it


@dataclass(frozen=True, eq=False)
class ItemProto:
    id: str
    name: str  # "a brass lantern"
    keywords: tuple[str, ...]
    long: str  # as seen on the floor: "A brass lantern stands here."
    description: str  # as seen up close (examine)
    type: str = "misc"
    weight: float = 1.0
    value: int = 0  # in coins
    flags: frozenset[str] = frozenset()
    wear: tuple[str, ...] = ()  # slots it can be worn or wielded in
    stack: bool = False  # countable: instances at one owner merge into one stack
    plural: str = ""  # "coins": how a stack of more than one is named ("12 coins")
    container: ContainerProto | None = None

    @property
    def takeable(self) -> bool:
        return "no_take" not in self.flags

    def named(self, quantity: int = 1) -> str:
        """"a candle", "5 coins"; several of a thing that does not stack: "a candle (x3)"."""
        if self.stack and quantity != 1:
            return f"{quantity} {self.plural or self.name}"
        if quantity > 1:
            return f"{self.name} (x{quantity})"
        return self.name


@dataclass(eq=False)
class Item:
    """One thing in the world. ``quantity`` > 1 only for stacks."""

    id: int
    proto: ItemProto
    quantity: int = 1
    slot: str | None = None  # worn or wielded in, when carried by a character
    parent: Any = None  # Character | Room | Item
    contents: list[Item] = field(default_factory=list)
    state: ContainerState = ContainerState.OPEN  # containers only; memory only, like doors
    key: str | None = None  # containers: the key prototype that works its lock

    @property
    def name(self) -> str:
        return self.proto.named(self.quantity)

    @property
    def is_container(self) -> bool:
        return self.proto.container is not None

    @property
    def is_open(self) -> bool:
        return self.proto.container is not None and self.state is ContainerState.OPEN

    def weight(self) -> float:
        """Its own weight (times its quantity) and everything in it."""
        return self.proto.weight * self.quantity + sum(i.weight() for i in self.contents)


def owner_key(owner: Any) -> str:
    """The database's name for an owner: ``char:17``, ``room:arkham.square`` or ``item:42``."""
    if isinstance(owner, Character):
        return f"char:{owner.id}"
    if isinstance(owner, Room):
        return f"room:{owner.id}"
    if isinstance(owner, Item):
        return f"item:{owner.id}"
    raise TypeError(f"not an item owner: {owner!r}")


def holdings(owner: Any) -> list[Item]:
    """The list of items directly held by a character, room or container."""
    return owner.items if not isinstance(owner, Item) else owner.contents


def attach(item: Item, owner: Any) -> None:
    item.parent = owner
    holdings(owner).append(item)


def detach(item: Item) -> None:
    if item.parent is not None:
        items = holdings(item.parent)
        if item in items:
            items.remove(item)
    item.parent = None


def top_owner(item: Item) -> Any:
    """The character or room an item is in, however deep in containers."""
    owner = item.parent
    while isinstance(owner, Item):
        owner = owner.parent
    return owner


def walk(items: list[Item]) -> list[Item]:
    """Every item in ``items`` and, depth first, in their contents."""
    out: list[Item] = []
    for item in items:
        out.append(item)
        out.extend(walk(item.contents))
    return out


# -- placements and shops (from the zone files) ------------------------------------------------

@dataclass(frozen=True)
class ContentSpec:
    proto: str
    quantity: int = 1


@dataclass(frozen=True)
class Placement:
    """An item the world files put in a room: seeded into the database once (by ``id``), so
    what players take or leave there is kept across restarts. ``refill``: at every start,
    what is missing of ``contents`` (or the item itself, for a loose item) is put back."""

    id: str
    room: str
    proto: str
    quantity: int = 1
    state: ContainerState | None = None  # containers: open/closed/locked at every start
    refill: bool = False
    contents: tuple[ContentSpec, ...] = ()


@dataclass(frozen=True)
class StockSpec:
    proto: str
    price: int | None = None  # default: the prototype's value
    quantity: int | None = None  # None: never runs out
    restock: float = 0.0  # seconds for one more to come in, up to ``quantity``


@dataclass(eq=False)
class Stock:
    spec: StockSpec
    proto: ItemProto = field(repr=False)
    left: int | None = None  # None: unlimited
    _since: float = field(default_factory=time.monotonic)

    @property
    def price(self) -> int:
        return self.spec.price if self.spec.price is not None else self.proto.value

    def available(self, now: float | None = None) -> int | None:
        """How many are for sale now (restocking lazily as time passes); None: unlimited."""
        if self.left is None or self.spec.quantity is None:
            return None
        now = time.monotonic() if now is None else now
        if self.left < self.spec.quantity and self.spec.restock > 0:
            came = int((now - self._since) // self.spec.restock)
            if came:
                self.left = min(self.spec.quantity, self.left + came)
                self._since += came * self.spec.restock
        if self.left >= self.spec.quantity:
            self._since = now
        return self.left

    def sold(self, n: int, now: float | None = None) -> None:
        if self.left is not None:
            self.available(now)
            self.left = max(0, self.left - n)


@dataclass(eq=False)
class Shop:
    """Someone selling and buying in a room. ``keeper`` is, for now, a name the shop speaks
    with; the NPC issue attaches a shopkeeper NPC (``keeper_npc``) and makes the shop open only
    while that NPC is present."""

    room: str
    keeper: str
    stock: list[Stock]
    buys: frozenset[str] = frozenset()  # item types it buys; empty: every type
    sell_ratio: float = 0.5  # what it pays, as a share of an item's value
    keeper_npc: Any = None

    def buys_type(self, item_type: str) -> bool:
        return not self.buys or item_type in self.buys


def new_stock(spec: StockSpec, proto: ItemProto) -> Stock:
    return Stock(spec=spec, proto=proto, left=spec.quantity)


__all__ = [
    "ITEM_FLAGS",
    "ITEM_TYPES",
    "MONEY_PROTO",
    "SLOT_LABEL",
    "SLOT_PLACE",
    "WEAR_SLOTS",
    "ContainerProto",
    "ContainerState",
    "ContentSpec",
    "Item",
    "ItemProto",
    "Placement",
    "Shop",
    "Stock",
    "StockSpec",
    "attach",
    "detach",
    "holdings",
    "new_stock",
    "owner_key",
    "top_owner",
    "walk",
]
