"""NPCs in memory: definitions from the world files (``npcs.yaml``) and the living instances.

An ``NpcProto`` is one kind of NPC (a librarian, a rat); a ``Mob`` is one of them walking the
world. Mobs live in ``Room.npcs`` (never in ``Room.characters``, which holds players). Nothing
in this module does IO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: RULES.md, NPCs.
NPC_KINDS: tuple[str, ...] = ("shopkeeper", "quest_giver", "passive_mob", "aggressive_mob")
#: Kinds that cannot be attacked (``attack`` says why).
PEACEFUL_KINDS: frozenset[str] = frozenset({"shopkeeper", "quest_giver"})
#: Horror categories for lucidity encounters (RULES.md, Lucidity).
HORROR_CATEGORIES: tuple[str, ...] = ("disturbing", "horrific", "cosmic")
#: The stats an NPC may set (as a character's, ``rules/character.py``); the rest are 10.
STATS: tuple[str, ...] = (
    "strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma")


@dataclass(frozen=True)
class LootSpec:
    proto: str
    quantity: int = 1
    chance: float = 1.0  # probability that it drops


@dataclass(frozen=True, eq=False)
class NpcProto:
    id: str
    name: str  # "a grey rat"
    keywords: tuple[str, ...]
    long: str  # as seen in the room: "A grey rat noses along the skirting."
    description: str
    kind: str  # one of NPC_KINDS
    level: int = 1
    hp: int = 20
    stats: dict[str, int] = field(default_factory=dict)
    damage: int = 3  # base damage of its blows (before strength and armour)
    armour: int = 0
    xp: int = 10  # awarded for the kill, shared among those who fought it
    horror: str | None = None  # one of HORROR_CATEGORIES
    home: str = ""  # room id it spawns in
    area: str | None = None  # the room area (``Room.area``) it stays in; default: home's area
    wander: bool = False
    required: bool = True
    chance: float = 1.0  # spawn probability of an optional NPC
    max_population: int = 1
    emotes: tuple[str, ...] = ()
    greeting: str = ""
    loot: tuple[LootSpec, ...] = ()
    respawn: float | None = None  # seconds; default by kind (rules/combat.py)
    file: str = ""

    @property
    def attackable(self) -> bool:
        return self.kind not in PEACEFUL_KINDS

    @property
    def aggressive(self) -> bool:
        return self.kind == "aggressive_mob"


@dataclass(eq=False)
class Mob:
    """One living NPC."""

    id: int  # unique while the server runs (never stored)
    proto: NpcProto
    room_id: str
    hp: int
    max_hp: int
    #: Timers of the pulse's heap (wander, emote, aggression), cancelled on death.
    timers: list[Any] = field(default_factory=list)
    alive: bool = True

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def stats(self) -> dict[str, int]:
        return self.proto.stats

    @property
    def level(self) -> int:
        return self.proto.level

    @property
    def horror(self) -> str | None:
        """The horror category a player meets on seeing this NPC (lucidity encounters)."""
        return self.proto.horror

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


def mob_matches(mob: Mob, words: str) -> bool:
    w = words.strip().lower()
    if not w:
        return False
    return any(k.startswith(w) for k in mob.proto.keywords) or mob.proto.id == w
