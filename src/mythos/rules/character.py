"""Characters: professions, stats, hit points and levels (RULES.md, Characters)."""

from __future__ import annotations

from dataclasses import dataclass

STATS: tuple[str, ...] = (
    "strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma")
BASE_STAT = 10


@dataclass(frozen=True)
class Profession:
    id: str
    name: str
    bent: dict[str, int]  # added to BASE_STAT


PROFESSIONS: dict[str, Profession] = {p.id: p for p in (
    Profession("antiquarian", "antiquarian", {"intelligence": 3, "wisdom": 2, "strength": -2}),
    Profession("author", "author", {"charisma": 2, "intelligence": 2, "constitution": -1}),
    Profession("dilettante", "dilettante", {"charisma": 3, "dexterity": 1, "wisdom": -1}),
    Profession("doctor", "doctor of medicine", {"intelligence": 3, "wisdom": 1, "strength": -1}),
    Profession("journalist", "journalist", {"charisma": 2, "dexterity": 1, "wisdom": 1}),
    Profession("detective", "police detective", {"strength": 2, "constitution": 2,
                                                   "charisma": -1}),
    Profession("investigator", "private investigator", {"dexterity": 2, "wisdom": 2,
                                                        "charisma": -1}),
    Profession("professor", "professor", {"intelligence": 3, "wisdom": 2, "dexterity": -2}),
    Profession("tramp", "tramp", {"constitution": 3, "strength": 1, "charisma": -2}),
)}
DEFAULT_PROFESSION = "journalist"


def starting_stats(profession: str) -> dict[str, int]:
    bent = PROFESSIONS[profession].bent
    return {s: BASE_STAT + bent.get(s, 0) for s in STATS}


def max_hp(stats: dict[str, int], level: int) -> int:
    """Max HP grows with constitution and level."""
    return 50 + 3 * stats.get("constitution", BASE_STAT) + 10 * (level - 1)


def level_for_xp(xp: int) -> int:
    """The reference curve: level = XP // 100 + 1."""
    return xp // 100 + 1


def find_profession(word: str) -> Profession | None:
    w = word.strip().lower()
    for p in PROFESSIONS.values():
        if w in (p.id, p.name) or (len(w) >= 3 and (p.id.startswith(w) or p.name.startswith(w))):
            return p
    return None
