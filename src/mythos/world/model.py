"""The in-memory world: rooms, exits, doors, zones and the characters in them.

Everything here is plain data owned by the event loop. Nothing in this module does IO or knows
about sessions, sockets or the database; the engine hangs its own handle on ``Character.link``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from mythos.world.mind import Mind

#: Canonical direction names, in the order exits are listed to players.
DIRECTIONS: tuple[str, ...] = (
    "north", "east", "south", "west",
    "northeast", "northwest", "southeast", "southwest",
    "up", "down",
)
#: Short forms, as GMCP and the abbreviations use them.
DIR_SHORT: dict[str, str] = {
    "north": "n", "east": "e", "south": "s", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "up": "u", "down": "d",
}
DIR_FROM_SHORT: dict[str, str] = {v: k for k, v in DIR_SHORT.items()}
OPPOSITE: dict[str, str] = {
    "north": "south", "south": "north", "east": "west", "west": "east",
    "northeast": "southwest", "southwest": "northeast",
    "northwest": "southeast", "southeast": "northwest",
    "up": "down", "down": "up",
}

#: Room environments; the lucidity table of RULES.md is keyed by these.
ENVIRONMENTS: frozenset[str] = frozenset({
    "sanctuary", "temple", "safehouse", "street_paved", "camp", "graveyard", "haunted",
    "eldritch", "storm", "forsaken", "indoors", "void",
})


def normalize_direction(word: str) -> str | None:
    """'n' or 'North' -> 'north'; None when the word names no direction."""
    w = word.strip().lower()
    if w in DIR_SHORT:
        return w
    return DIR_FROM_SHORT.get(w)


class Posture(enum.StrEnum):
    STANDING = "standing"
    SITTING = "sitting"
    LYING = "lying"


class DoorState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    LOCKED = "locked"


@dataclass(eq=False)
class Door:
    """One door, shared by the exits on both of its sides."""

    id: str
    name: str = "door"
    state: DoorState = DoorState.CLOSED
    key: str | None = None  # item prototype id that locks and unlocks it (items issue)

    @property
    def is_open(self) -> bool:
        return self.state is DoorState.OPEN


@dataclass(eq=False)
class Exit:
    direction: str
    to: str  # target room id
    door: Door | None = None
    hidden: bool = False
    description: str = ""

    @property
    def passable(self) -> bool:
        return self.door is None or self.door.is_open


@dataclass(frozen=True)
class Coords:
    x: int
    y: int
    z: int = 0


@dataclass(eq=False)
class Zone:
    """A zone (Arkham, Miskatonic University ...): one world file's worth of rooms."""

    id: str
    name: str
    description: str = ""
    lucidity_drain: dict[str, float] | None = None  # optional {day: x, night: y} override
    #: Its rooms, in the world's order (a zone channel walks these, not the whole world).
    rooms: list[Room] = field(default_factory=list, repr=False)


@dataclass(eq=False)
class Room:
    id: str
    name: str
    description: str
    zone: Zone
    area: str  # a named part of the zone, e.g. "French Hill"; shown in GMCP as area
    environment: str
    coords: Coords
    exits: dict[str, Exit] = field(default_factory=dict)  # keyed by canonical direction
    outdoors: bool = False
    flags: frozenset[str] = frozenset()
    #: Characters here now (online only). Order of arrival.
    characters: list[Character] = field(default_factory=list)
    #: Items on the floor (``world/items.py``); changed only after the database agrees.
    items: list[Any] = field(default_factory=list)
    #: NPCs here now (``world/npcs.py`` Mob), in order of arrival.
    npcs: list[Any] = field(default_factory=list)

    def visible_exits(self) -> list[Exit]:
        return [self.exits[d] for d in DIRECTIONS if d in self.exits and not self.exits[d].hidden]


@dataclass(eq=False)
class Character:
    """A player character. Progress fields are saved write-behind; see ``progress()``."""

    id: int
    account_id: int
    name: str
    profession: str
    room_id: str
    hp: int
    max_hp: int
    lucidity: int = 100
    xp: int = 0
    level: int = 1
    posture: Posture = Posture.STANDING
    stats: dict[str, int] = field(default_factory=dict)
    role: str = "player"
    #: The engine's handle (its Session) while the character is online; None otherwise.
    link: Any = None
    #: A standing description shown with the name in the room ("leans on the rail");
    #: transient, cleared when the character moves.
    pose: str = ""
    #: The player's aliases, name -> command (``rules/aliases.py``): loaded at login, each
    #: change saved at once (``engine/social.py``).
    aliases: dict[str, str] = field(default_factory=dict)
    #: What it carries and wears (``world/items.py``). Never part of ``progress()``: items
    #: move only in economy transactions.
    items: list[Any] = field(default_factory=list)
    #: Explored rooms, horrors met, liabilities, rite cooldowns, flux state
    #: (``world/mind.py``): loaded at login, written behind with the progress.
    mind: Mind = field(default_factory=Mind)

    def progress(self) -> tuple[Any, ...]:
        """The fields the write-behind flusher saves, as one comparable snapshot."""
        return (self.room_id, self.hp, self.max_hp, self.lucidity, self.xp, self.level,
                str(self.posture))


@dataclass(eq=False)
class HelpPage:
    topic: str
    title: str
    body: str
    keywords: tuple[str, ...] = ()


@dataclass(eq=False)
class World:
    zones: dict[str, Zone] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=dict)
    doors: dict[str, Door] = field(default_factory=dict)
    help_pages: dict[str, HelpPage] = field(default_factory=dict)
    #: Item prototypes (``items.yaml``), the items the zone files place in rooms, and the
    #: shops by room id (``world/items.py``).
    protos: dict[str, Any] = field(default_factory=dict)
    placements: list[Any] = field(default_factory=list)
    shops: dict[str, Any] = field(default_factory=dict)
    #: NPC definitions (``npcs.yaml``, ``world/npcs.py``) by id.
    npc_protos: dict[str, Any] = field(default_factory=dict)
    motd: str = ""
    start_room: str = "arkham.square"
    respawn_room: str = "sanitarium.foyer"
    limbo_room: str = "limbo.void"

    def room(self, room_id: str) -> Room:
        return self.rooms[room_id]
