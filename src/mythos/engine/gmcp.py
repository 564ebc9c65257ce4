"""The out-of-band messages (GMCP.md): built here once, sent to telnet GMCP and websockets alike."""

from __future__ import annotations

from typing import Any

import orjson

from mythos.rules.character import PROFESSIONS
from mythos.rules.comm import Channel
from mythos.rules.lucidity import LCD_MAX, tier
from mythos.text import strip_markup
from mythos.world.model import DIR_SHORT, Character, Room


def encode(data: Any) -> str:
    """GMCP data as compact JSON text (UTF-8 kept as is), as clients receive it."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


class Encoded:
    """GMCP data encoded once for everyone who gets it (a room's, a channel's audience):
    ``Session.oob(package, Encoded(data))``. Never change ``data`` afterwards."""

    __slots__ = ("data", "json")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.json = encode(data)

    def __repr__(self) -> str:
        return f"Encoded({self.json[:60]})"


#: JSON ``null`` said out loud (``Char.Combat`` when a fight ends); plain ``None`` sends the
#: package without data, which a client reading JSON cannot tell from nothing.
NULL = Encoded(None)


def as_json(data: Any) -> str | None:
    """The JSON text of ``data`` (None stays None: a message without data)."""
    if isinstance(data, Encoded):
        return data.json
    return None if data is None else encode(data)


#: Packages sent to a client that never said what it supports.
DEFAULT_SUPPORTS = frozenset({"char", "room", "core"})


def _prefixes(package: str) -> tuple[str, ...]:
    """'Comm.Channel.Text' -> ('comm', 'comm.channel', 'comm.channel.text')."""
    parts = package.lower().split(".")
    return tuple(".".join(parts[:i]) for i in range(1, len(parts) + 1))


#: Package name -> its prefixes; package names are the game's own (a few dozen), so this
#: stays small. ``supported`` runs for every message to every session: no splitting there.
_PREFIXES: dict[str, tuple[str, ...]] = {}


def supported(package: str, supports: set[str] | frozenset[str]) -> bool:
    """Whether 'Comm.Channel.Text' is covered by what the client named ('comm.channel' or
    'comm'); Core is always on."""
    prefixes = _PREFIXES.get(package)
    if prefixes is None:
        prefixes = _prefixes(package)
        if len(_PREFIXES) < 1024:
            _PREFIXES[package] = prefixes
    for p in prefixes:
        if p in supports:
            return True
    return False


def profession_name(char: Character) -> str:
    p = PROFESSIONS.get(char.profession)
    return p.name if p else char.profession


def vitals(char: Character) -> dict[str, Any]:
    return {"hp": char.hp, "maxhp": char.max_hp, "lucidity": char.lucidity,
            "maxlucidity": LCD_MAX, "tier": tier(char.lucidity), "xp": char.xp,
            "level": char.level}


def status(char: Character, room: Room) -> dict[str, Any]:
    return {"name": char.name, "level": char.level, "profession": profession_name(char),
            "posture": str(char.posture), "area": room.zone.name}


def room_info(room: Room) -> dict[str, Any]:
    exits = room.visible_exits()
    return {
        "num": room.id,
        "name": room.name,
        "area": room.zone.name,
        "environment": room.environment,
        "exits": {DIR_SHORT[e.direction]: e.to for e in exits},
        "doors": {DIR_SHORT[e.direction]: str(e.door.state) for e in exits if e.door},
        "coords": {"x": room.coords.x, "y": room.coords.y, "z": room.coords.z},
    }


def map_room(room: Room) -> dict[str, Any]:
    """One explored room in ``Room.Map``: what a mini-map draws (no doors, no area)."""
    return {"num": room.id, "name": room.name, "environment": room.environment,
            "coords": {"x": room.coords.x, "y": room.coords.y, "z": room.coords.z},
            "exits": {DIR_SHORT[e.direction]: e.to for e in room.visible_exits()}}


def room_map(rooms: Any) -> dict[str, Any]:
    """``Room.Map`` (every room the character has explored, at login) and ``Room.Map.Add``
    (one newly explored room): {"rooms": [map_room, ...]}."""
    return {"rooms": [map_room(r) for r in rooms]}


#: (name, profession) -> ``player_entry``: built once per character, not once per listener
#: (``Room.Players`` lists a whole room at every move). Shared: never mutate what it returns.
_ENTRIES: dict[tuple[str, str], dict[str, str]] = {}


def player_entry(char: Character) -> dict[str, str]:
    key = (char.name, char.profession)
    entry = _ENTRIES.get(key)
    if entry is None:
        if len(_ENTRIES) >= 20000:
            _ENTRIES.clear()
        entry = _ENTRIES[key] = {"name": char.name,
                                 "fullname": f"{char.name} the {profession_name(char)}"}
    return entry


def room_players(room: Room) -> list[dict[str, str]]:
    return [player_entry(c) for c in room.characters]


def channel_text(channel: str, talker: str, text: str) -> dict[str, str]:
    """``Comm.Channel.Text``: one line heard on a channel, as plain text (markup removed)."""
    return {"channel": channel, "talker": talker, "text": strip_markup(text)}


def channel_list(channels: list[tuple[Channel, bool, bool]]) -> list[dict[str, Any]]:
    """``Comm.Channel.List`` from (channel, may talk on it, is on) for each channel heard."""
    return [{"name": ch.name, "caption": ch.caption, "command": ch.name if talk else "",
             "on": on} for ch, talk, on in channels]


# -- Char.Items (IRE convention; see docs/PROTOCOL.md) ------------------------------------------

def item_attrib(item: Any) -> str:
    """IRE attribute letters: w worn, l wielded, W wearable, c container, t takeable."""
    a = ""
    if item.slot == "main_hand":
        a += "l"
    elif item.slot is not None:
        a += "w"
    elif item.proto.wear:
        a += "W"
    if item.proto.container is not None:
        a += "c"
    if item.proto.id == "corpse":  # every death's corpse (engine/npcs.py)
        a += "d"
    if item.proto.takeable:
        a += "t"
    return a


def item_entry(item: Any) -> dict[str, Any]:
    """One item: {"id": "17", "name": "a brass lantern", "attrib": "Wt"}, with "quantity" for
    stacks and "slot" for worn or wielded things."""
    entry: dict[str, Any] = {"id": str(item.id), "name": item.name,
                             "attrib": item_attrib(item)}
    if item.proto.stack:
        entry["quantity"] = item.quantity
    if item.slot is not None:
        entry["slot"] = item.slot
    return entry


def items_list(location: str, items: Any) -> dict[str, Any]:
    """Char.Items.List: everything at ``location`` ("inv", "room" or a container's id)."""
    return {"location": location, "items": [item_entry(i) for i in items]}


def item_event(location: str, item: Any) -> dict[str, Any]:
    """Char.Items.Add / Remove / Update: one item at ``location``."""
    return {"location": location, "item": item_entry(item)}


# -- NPCs and combat (see docs/PROTOCOL.md) -----------------------------------------------------

def npc_entry(mob: Any) -> dict[str, Any]:
    """One NPC in ``Room.Npcs``: {"id": "12", "name": "a grey rat", "attrib": "m"}; attrib
    ``m`` monster, ``x`` not to be attacked; "horror" when it has a category."""
    entry: dict[str, Any] = {"id": str(mob.id), "name": mob.name,
                             "attrib": "m" if mob.proto.attackable else "mx",
                             "kind": mob.proto.kind}
    if mob.proto.horror:
        entry["horror"] = mob.proto.horror
    return entry


def room_npcs(room: Room) -> list[dict[str, Any]]:
    return [npc_entry(m) for m in room.npcs if m.alive]


def combat(target: Any) -> dict[str, Any] | Encoded:
    """``Char.Combat``: who you are fighting and how hurt it is; ``null`` when not fighting."""
    if target is None:
        return NULL
    pct = max(0, round(100 * target.hp / max(1, target.max_hp)))
    return {"target": target.name, "target_hp_pct": pct}
