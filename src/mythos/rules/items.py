"""Items and containers (RULES.md, Items and containers): naming them, finding them by what a
player typed, and whether a character or a container can take one more. Pure: no IO, nothing
is moved here (``engine/economy.py`` moves things, after the database agrees).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mythos.world.items import MONEY_PROTO, ContainerState, Item, ItemProto, Shop, Stock
from mythos.world.model import Character

#: The prototype that is money: a stack of coins. Prices and values are in coins.
MONEY = MONEY_PROTO
#: Things carried in hand (not worn; a stack counts once): the base, and one more for every
#: two points of strength above 10.
BASE_CARRY_SLOTS = 12
#: Pounds a character can carry (worn things and what is in containers count): the base, and
#: this much more for every point of strength above 10.
BASE_CARRY_WEIGHT = 60.0
CARRY_WEIGHT_PER_STRENGTH = 5.0
#: Containers nest at most this deep: a satchel in a backpack is fine, a tin in a satchel in a
#: backpack is not.
MAX_NESTING = 2
#: The most of anything one command may count ("drop 5 coins").
MAX_COUNT = 100_000

HANDS_FULL = "Your hands are full."
TOO_HEAVY = "You can't carry that much weight."


# -- words -----------------------------------------------------------------------------------

def the(name: str) -> str:
    """'a brass lantern' -> 'the brass lantern'; '12 coins' stays as it is."""
    for article in ("a ", "an ", "some ", "the "):
        if name.lower().startswith(article):
            return "the " + name[len(article):]
    return name


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def listing(items: Iterable[Item]) -> list[str]:
    """Names for a list, identical single things grouped: ['a candle (x3)', '12 coins']."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.name] = counts.get(item.name, 0) + 1
    return [name if n == 1 else f"{name} (x{n})" for name, n in counts.items()]


def floor_line(item: Item) -> str:
    """How an item on the floor shows in a room."""
    if item.proto.stack and item.quantity > 1:
        return f"{cap(item.name)} lie here."
    line = item.proto.long
    if item.is_container and item.proto.container and item.proto.container.closable \
            and not item.is_open:
        line += f" ({item.state})"
    return line


def floor_lines(items: Iterable[Item]) -> list[str]:
    """One line for each thing on a floor; identical things once, with a count."""
    counts: dict[str, int] = {}
    for item in items:
        line = floor_line(item)
        counts[line] = counts.get(line, 0) + 1
    return [line if n == 1 else f"{line} (x{n})" for line, n in counts.items()]


# -- what a player typed ---------------------------------------------------------------------

@dataclass(frozen=True)
class ItemRef:
    """'lantern', '2.candle', 'all', 'all.candle', 'all candles', '5 coins'."""

    words: tuple[str, ...] = ()
    all: bool = False
    index: int = 1  # 2.candle: the second one
    count: int | None = None  # 5 coins


_INDEX = re.compile(r"^(\d+)\.(\S.*)$")
_COUNT = re.compile(r"^(\d+)\s+(\S.*)$")


def parse_ref(text: str) -> ItemRef | None:
    """What ``text`` asks for, or None when it asks for nothing (empty, '0 coins')."""
    t = " ".join(text.lower().split())
    if not t:
        return None
    if t == "all":
        return ItemRef(all=True)
    if t.startswith("all.") or t.startswith("all "):
        words = tuple(t[4:].split())
        return ItemRef(words=words, all=True) if words else ItemRef(all=True)
    if m := _INDEX.match(t):
        n = int(m[1])
        return ItemRef(words=tuple(m[2].split()), index=n) if n >= 1 else None
    if m := _COUNT.match(t):
        n = int(m[1])
        return ItemRef(words=tuple(m[2].split()), count=n) if 1 <= n <= MAX_COUNT else None
    return ItemRef(words=tuple(t.split()))


def _word_matches(word: str, keywords: Sequence[str]) -> bool:
    if any(k.startswith(word) for k in keywords):
        return True
    return len(word) > 2 and word.endswith("s") and any(k.startswith(word[:-1])
                                                         for k in keywords)


def matches(proto: ItemProto, words: Sequence[str]) -> bool:
    return all(_word_matches(w, proto.keywords) for w in words)


def find(candidates: Iterable[Item], words: Sequence[str]) -> list[Item]:
    return [i for i in candidates if matches(i.proto, words)]


def find_one(candidates: Iterable[Item], text: str) -> Item | None:
    """The one thing ``text`` names ('desk', '2.candle') among ``candidates``."""
    ref = parse_ref(text)
    if ref is None or ref.all or ref.count is not None:
        return None
    found = find(candidates, ref.words)
    return found[ref.index - 1] if len(found) >= ref.index else None


@dataclass(frozen=True)
class Pick:
    """What a reference picked: (item, how many of it) pairs, or why nothing."""

    items: tuple[tuple[Item, int], ...] = ()
    problem: str | None = None


def pick(candidates: Sequence[Item], ref: ItemRef, missing: str) -> Pick:
    """Resolve ``ref`` among ``candidates``. ``missing`` is said when nothing matches."""
    found = find(candidates, ref.words)
    if not found:
        return Pick(problem=missing)
    if ref.all:
        return Pick(tuple((i, i.quantity) for i in found))
    if ref.count is not None:
        first = found[0]
        if first.proto.stack:
            if ref.count > first.quantity:
                return Pick(problem=f"There are only {first.name}.")
            return Pick(((first, ref.count),))
        same = [i for i in found if i.proto is first.proto] if len(found) >= ref.count else []
        if len(same) < ref.count:
            return Pick(problem=f"There aren't {ref.count} of those.")
        return Pick(tuple((i, 1) for i in same[:ref.count]))
    if len(found) < ref.index:
        return Pick(problem=missing)
    item = found[ref.index - 1]
    return Pick(((item, item.quantity),))


def split_on(args: str, *words: str) -> tuple[str, str] | None:
    """'lantern in backpack' -> ('lantern', 'backpack') for words ('in', 'into')."""
    parts = args.split()
    for i in range(1, len(parts) - 1):
        if parts[i].lower() in words:
            return " ".join(parts[:i]), " ".join(parts[i + 1:])
    return None


# -- carrying --------------------------------------------------------------------------------

def carried(char: Character) -> list[Item]:
    """What is in hand: not worn."""
    return [i for i in char.items if i.slot is None]


def worn(char: Character) -> list[Item]:
    return [i for i in char.items if i.slot is not None]


def within_reach(char: Character) -> list[Item]:
    """Carried things and worn things (a worn backpack can be opened, looked in, put into)."""
    return list(char.items)


def carry_slots(char: Character) -> int:
    return max(4, BASE_CARRY_SLOTS + (char.stats.get("strength", 10) - 10) // 2)


def carry_weight(char: Character) -> float:
    return max(20.0, BASE_CARRY_WEIGHT
               + CARRY_WEIGHT_PER_STRENGTH * (char.stats.get("strength", 10) - 10))


def load(char: Character) -> float:
    return sum(i.weight() for i in char.items)


def stack_at(holding: Iterable[Item], proto: ItemProto, but: Item | None = None) -> Item | None:
    """The stack of ``proto`` among ``holding`` that more of it would join."""
    if not proto.stack:
        return None
    for i in holding:
        if i.proto is proto and i is not but and i.slot is None:
            return i
    return None


def moved_weight(item: Item, quantity: int) -> float:
    if item.proto.stack:
        return item.proto.weight * quantity
    return item.weight()


def can_carry(char: Character, item: Item, quantity: int, *, from_self: bool = False) -> str | None:
    """Why ``char`` cannot take ``quantity`` of ``item`` into its hands, or None.

    ``from_self``: it comes out of something the character carries (no weight is added)."""
    joins = stack_at(char.items, item.proto) is not None
    if not joins and len(carried(char)) >= carry_slots(char):
        return HANDS_FULL
    if not from_self and load(char) + moved_weight(item, quantity) > carry_weight(char) + 1e-9:
        return TOO_HEAVY
    return None


def can_carry_new(char: Character, proto: ItemProto, quantity: int, count: int = 1) -> str | None:
    """Why ``char`` cannot take ``count`` new things of ``proto`` (bought), or None."""
    joins = stack_at(char.items, proto) is not None
    new_slots = 0 if joins else (1 if proto.stack else count)
    if new_slots and len(carried(char)) + new_slots > carry_slots(char):
        return HANDS_FULL
    weight = proto.weight * (quantity if proto.stack else count)
    if load(char) + weight > carry_weight(char) + 1e-9:
        return TOO_HEAVY
    return None


# -- containers ------------------------------------------------------------------------------

def nest_level(container: Item) -> int:
    """1 for a container in a room or carried; 2 for one inside another container ..."""
    level = 1
    owner = container.parent
    while isinstance(owner, Item):
        level += 1
        owner = owner.parent
    return level


def height(item: Item) -> int:
    """0 for a plain thing; 1 for a container (of plain things); 2 for one holding one ..."""
    if not item.is_container:
        return 0
    return 1 + max((height(i) for i in item.contents), default=0)


def inside(item: Item, container: Item) -> bool:
    """Whether ``item`` is ``container`` or holds it, however deep."""
    owner: object = container
    while isinstance(owner, Item):
        if owner is item:
            return True
        owner = owner.parent
    return False


def closed_refusal(container: Item) -> str | None:
    if container.proto.container is None:
        return f"{cap(the(container.name))} is not a container."
    if not container.is_open:
        return f"{cap(the(container.name))} is closed."
    return None


def can_put(container: Item, item: Item, quantity: int) -> str | None:
    """Why ``quantity`` of ``item`` cannot go into ``container``, or None."""
    spec = container.proto.container
    the_c = the(container.name)
    if spec is None:
        return f"{cap(the_c)} is not a container."
    if inside(item, container):
        return f"You can't put {the(item.proto.named(quantity))} inside itself."
    if (refusal := closed_refusal(container)) is not None:
        return refusal
    if item.is_container and nest_level(container) + height(item) > MAX_NESTING:
        return (f"{cap(the(item.name))} won't go in {the_c}: containers nest only "
                f"{MAX_NESTING} deep.")
    joins = stack_at(container.contents, item.proto) is not None
    if not joins and len(container.contents) >= spec.slots:
        return f"{cap(the_c)} is full."
    held = sum(i.weight() for i in container.contents)
    if held + moved_weight(item, quantity) > spec.weight + 1e-9:
        return f"{cap(the_c)} can't hold that much weight."
    return None


@dataclass(frozen=True)
class Change:
    ok: bool
    message: str


def open_container(item: Item) -> Change:
    spec = item.proto.container
    name = the(item.name)
    if spec is None:
        return Change(False, f"You can't open {name}.")
    if item.state is ContainerState.OPEN:
        return Change(False, f"{cap(name)} is already open.")
    if item.state is ContainerState.LOCKED:
        return Change(False, f"{cap(name)} is locked.")
    item.state = ContainerState.OPEN
    return Change(True, f"You open {name}.")


def close_container(item: Item) -> Change:
    spec = item.proto.container
    name = the(item.name)
    if spec is None or not spec.closable:
        return Change(False, f"You can't close {name}.")
    if item.state is not ContainerState.OPEN:
        return Change(False, f"{cap(name)} is already closed.")
    item.state = ContainerState.CLOSED
    return Change(True, f"You close {name}.")


def lock_container(item: Item, has_key: bool) -> Change:
    name = the(item.name)
    if item.proto.container is None or item.key is None:
        return Change(False, f"{cap(name)} has no lock.")
    if item.state is ContainerState.LOCKED:
        return Change(False, f"{cap(name)} is already locked.")
    if item.state is ContainerState.OPEN:
        return Change(False, f"You need to close {name} first.")
    if not has_key:
        return Change(False, "You don't have the key.")
    item.state = ContainerState.LOCKED
    return Change(True, f"You lock {name}.")


def unlock_container(item: Item, has_key: bool) -> Change:
    name = the(item.name)
    if item.proto.container is None or item.key is None:
        return Change(False, f"{cap(name)} has no lock.")
    if item.state is not ContainerState.LOCKED:
        return Change(False, f"{cap(name)} is not locked.")
    if not has_key:
        return Change(False, "You don't have the key.")
    item.state = ContainerState.CLOSED
    return Change(True, f"You unlock {name}.")


def has_key(char: Character, key: str | None) -> bool:
    """Whether ``char`` holds or wears the key prototype ``key`` (not one packed away)."""
    return key is not None and any(i.proto.id == key for i in char.items)


# -- wearing ---------------------------------------------------------------------------------

def worn_in(char: Character, slot: str) -> Item | None:
    return next((i for i in char.items if i.slot == slot), None)


def wear_slot(char: Character, item: Item) -> tuple[str | None, str]:
    """(slot, "") where ``item`` can be worn now, or (None, why not)."""
    slots = [s for s in item.proto.wear if s != "main_hand"]
    if not slots:
        if "main_hand" in item.proto.wear:
            return None, f"You can't wear {the(item.name)}; wield it instead."
        return None, f"You can't wear {the(item.name)}."
    for s in slots:
        if worn_in(char, s) is None:
            return s, ""
    other = worn_in(char, slots[0])
    assert other is not None
    return None, f"You are already wearing {other.name} there. Remove it first."


def wield_refusal(char: Character, item: Item) -> str | None:
    if "main_hand" not in item.proto.wear:
        return f"You can't wield {the(item.name)}."
    other = worn_in(char, "main_hand")
    if other is not None:
        return f"You are already wielding {other.name}."
    return None


# -- money and shops -------------------------------------------------------------------------

def purse(char: Character) -> Item | None:
    """The coins a character has to hand (its carried coin stack)."""
    return next((i for i in char.items if i.proto.id == MONEY and i.slot is None), None)


def money(char: Character) -> int:
    p = purse(char)
    return p.quantity if p is not None else 0


def sell_price(shop: Shop, item: Item, quantity: int = 1) -> tuple[int, str]:
    """(coins the shop pays for ``quantity`` of ``item``, "") or (0, why it will not buy)."""
    proto = item.proto
    if "no_sell" in proto.flags or proto.id == MONEY:
        return 0, f"{shop.keeper} won't buy {the(proto.named(quantity))}."
    if not shop.buys_type(proto.type):
        return 0, f"{shop.keeper} doesn't deal in things like {the(proto.named(quantity))}."
    if item.contents:
        return 0, f"Empty {the(item.name)} first."
    price = int(proto.value * shop.sell_ratio) * (quantity if proto.stack else 1)
    if price <= 0:
        return 0, f"{shop.keeper} would give you nothing for {the(proto.named(quantity))}."
    return price, ""


def find_stock(shop: Shop, text: str) -> Stock | None:
    ref = parse_ref(text)
    if ref is None or ref.all:
        return None
    found = [s for s in shop.stock if matches(s.proto, ref.words)]
    return found[ref.index - 1] if len(found) >= ref.index else None
