"""How items look to a player: the floor of a room, inventory, equipment, a container's
contents, a close look. Markup text, no IO."""

from __future__ import annotations

from mythos.engine.views import wrap
from mythos.rules import items as rules
from mythos.world.items import SLOT_LABEL, SLOT_PLACE, WEAR_SLOTS, Item
from mythos.world.model import Character, Room


def inventory_text(char: Character) -> str:
    held = rules.carried(char)
    lines = ["You are carrying:"]
    lines += [f"  {name}" for name in rules.listing(held)] or ["  Nothing at all."]
    lines.append(f"({len(held)}/{rules.carry_slots(char)} things in hand, "
                 f"{rules.load(char):.1f}/{rules.carry_weight(char):g} lb in all.)")
    return "\n".join(lines)


def equipment_text(char: Character) -> str:
    worn = {i.slot: i for i in rules.worn(char)}
    if not worn:
        return "You are not wearing anything of note."
    lines = ["You are using:"]
    for slot in WEAR_SLOTS:
        item = worn.get(slot)
        if item is not None:
            lines.append(f"  {'<' + SLOT_LABEL[slot] + '>':<15} {item.name}")
    return "\n".join(lines)


def contents_text(container: Item) -> str:
    name = rules.the(container.name)
    if not container.contents:
        return f"{rules.cap(name)} is empty."
    spec = container.proto.container
    assert spec is not None
    lines = [f"In {name}:"] + [f"  {n}" for n in rules.listing(container.contents)]
    held = sum(i.weight() for i in container.contents)
    lines.append(f"({len(container.contents)}/{spec.slots} things, "
                 f"{held:.1f}/{spec.weight:g} lb.)")
    return "\n".join(lines)


def examine_text(item: Item, viewer: Character, width: int = 80) -> str:
    proto = item.proto
    lines = [f"{{Y}}{rules.cap(item.name)}{{x}}", wrap(proto.description, width)]
    if item.slot is not None:
        where = "wielding it" if item.slot == "main_hand" else f"wearing it {SLOT_PLACE[item.slot]}"
        lines.append(f"You are {where}.")
    elif proto.wear:
        worn_at = ", ".join(SLOT_LABEL[s].replace("wielded", "wielded in hand")
                            for s in proto.wear)
        lines.append(f"It can be worn or used: {worn_at}.")
    weight = item.weight()
    lines.append(f"It weighs {weight:.1f} lb." if weight >= 0.1 else "It weighs next to nothing.")
    if item.is_container:
        spec = proto.container
        assert spec is not None
        state = "" if not spec.closable else f" It is {item.state}."
        lines.append(f"It can hold {spec.slots} things, up to {spec.weight:g} lb.{state}")
        if item.is_open:
            lines.append(contents_text(item))
    return "\n".join(lines)


def _strip_article(text: str) -> str:
    words = text.split()
    if len(words) > 1 and words[0].lower() in ("the", "a", "an", "my"):
        return " ".join(words[1:])
    return text


def find_thing(char: Character, room: Room, text: str) -> Item | None:
    """The thing ``text`` names ('satchel', 'the desk', '2.candle'): carried, worn, or on the
    floor."""
    return rules.find_one([*char.items, *room.items], _strip_article(text))


def find_container(char: Character, room: Room, text: str) -> Item | None:
    """Like ``find_thing``, but a container wins: 'desk' is the desk, not the desk key."""
    word = _strip_article(text)
    containers = [i for i in [*char.items, *room.items] if i.is_container]
    return rules.find_one(containers, word) or rules.find_one([*char.items, *room.items], word)


def look_in_text(char: Character, room: Room, text: str) -> str:
    if not text.strip():
        return "Look in what?"
    item = find_container(char, room, text)
    if item is None:
        return "You see nothing like that here."
    refusal = rules.closed_refusal(item)
    return refusal if refusal is not None else contents_text(item)


def look_at(char: Character, room: Room, target: str, width: int = 80) -> str | None:
    """What ``look <target>`` shows of things: ``look in <container>`` or a close look at a
    thing; None when no thing here is called that."""
    t = target.strip()
    for prefix in ("in ", "into ", "inside "):
        if t.lower().startswith(prefix):
            return look_in_text(char, room, t[len(prefix):])
    item = find_thing(char, room, t)
    return examine_text(item, char, width) if item is not None else None
