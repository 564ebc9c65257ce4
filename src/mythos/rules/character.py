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

#: What each profession starts with: (item prototype id, quantity, slot it is worn in or None).
#: Everyone gets some money (a stack of coins). The prototypes live in data/world/items.yaml.
STARTING_KITS: dict[str, tuple[tuple[str, int, str | None], ...]] = {
    "antiquarian": (("magnifying_glass", 1, None), ("journal", 1, None),
                    ("satchel", 1, "belt"), ("coins", 40, None)),
    "author": (("journal", 1, None), ("pencil", 1, None), ("fedora", 1, "head"),
               ("coins", 25, None)),
    "dilettante": (("pocket_watch", 1, None), ("hip_flask", 1, None), ("fedora", 1, "head"),
                   ("leather_gloves", 1, "hands"), ("coins", 80, None)),
    "doctor": (("medical_bag", 1, None), ("bandages", 1, None), ("folk_tonic", 1, None),
               ("coins", 50, None)),
    "journalist": (("journal", 1, None), ("pencil", 1, None), ("camera", 1, None),
                   ("satchel", 1, "belt"), ("fedora", 1, "head"), ("coins", 20, None)),
    "detective": (("revolver_38", 1, "main_hand"), ("bullets_38", 6, None),
                  ("trench_coat", 1, "torso"), ("police_badge", 1, None), ("coins", 30, None)),
    "investigator": (("trench_coat", 1, "torso"), ("fedora", 1, "head"),
                     ("flashlight", 1, None), ("knife", 1, None), ("backpack", 1, "back"),
                     ("coins", 30, None)),
    "professor": (("journal", 1, None), ("pencil", 1, None), ("magnifying_glass", 1, None),
                  ("walking_stick", 1, None), ("coins", 45, None)),
    "tramp": (("overcoat", 1, "torso"), ("cloth_cap", 1, "head"), ("knife", 1, None),
              ("tin_cup", 1, None), ("hip_flask", 1, None), ("coins", 3, None)),
}


def starting_kit(profession: str) -> tuple[tuple[str, int, str | None], ...]:
    return STARTING_KITS.get(profession, ())


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
