"""What staff may set on a character (``set PLAYER STAT VALUE``), and the bounds. No IO."""

from __future__ import annotations

from dataclasses import dataclass

from mythos.rules.character import STATS
from mythos.rules.lucidity import LCD_MAX, LCD_MIN
from mythos.world.model import Character, Posture

#: RULES.md, Characters: stats are on a 3 to 18 scale.
STAT_MIN, STAT_MAX = 3, 18
MAX_LEVEL = 100
MAX_XP = 10_000_000
MAX_MAX_HP = 10_000
#: Progress fields (saved write-behind); the six stats are saved at once instead.
PROGRESS_FIELDS = ("hp", "max_hp", "lucidity", "xp", "level", "posture")
SHUTDOWN_DEFAULT = 60
SHUTDOWN_MAX = 3600
#: Seconds before a shutdown at which everyone is told again.
SHUTDOWN_NOTICES = (1800, 900, 600, 300, 120, 60, 30, 10, 5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Change:
    ok: bool
    message: str
    field: str = ""
    value: int | str = 0
    is_stat: bool = False


def settable() -> tuple[str, ...]:
    return (*PROGRESS_FIELDS, *STATS)


def check_set(char: Character, field: str, raw: str) -> Change:
    """Whether ``field`` of ``char`` may be set to ``raw``, and to what value."""
    f = field.strip().lower().replace("-", "_")
    if f in ("lcd", "sanity"):
        f = "lucidity"
    if f in ("maxhp", "max_hp"):
        f = "max_hp"
    if f == "posture":
        try:
            return Change(True, "", f, str(Posture(raw.strip().lower())))
        except ValueError:
            return Change(False, "Posture is standing, sitting or lying.")
    if f not in settable():
        return Change(False, f"You can set: {', '.join(settable())}.")
    try:
        value = int(raw)
    except ValueError:
        return Change(False, f"{f} takes a whole number.")
    low, high = {
        "hp": (1, char.max_hp),
        "max_hp": (1, MAX_MAX_HP),
        "lucidity": (LCD_MIN, LCD_MAX),
        "xp": (0, MAX_XP),
        "level": (1, MAX_LEVEL),
    }.get(f, (STAT_MIN, STAT_MAX))
    if not low <= value <= high:
        return Change(False, f"{f} must be between {low} and {high}.")
    return Change(True, "", f, value, is_stat=f in STATS)


def apply_set(char: Character, change: Change) -> None:
    """Carry out a checked change in memory."""
    if change.is_stat:
        char.stats[change.field] = int(change.value)
    elif change.field == "posture":
        char.posture = Posture(str(change.value))
    else:
        setattr(char, change.field, int(change.value))
        if change.field == "max_hp" and char.hp > char.max_hp:
            char.hp = char.max_hp
