"""Lucidity (LCD): tiers, passive flux, encounters, liabilities and recovery rites (RULES.md,
Lucidity). Every number of the lucidity system lives here. Pure: no IO, no clocks read (the
callers pass the time and the randomness in)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

LCD_MIN, LCD_MAX = -100, 100
LCD_START = 100

#: (lowest LCD of the tier, name), best first.
TIERS: tuple[tuple[int, str], ...] = (
    (70, "lucid"), (40, "uneasy"), (20, "fractured"), (1, "deranged"), (LCD_MIN, "catatonic"))
TIER_RANK: dict[str, int] = {name: i for i, (_, name) in enumerate(TIERS)}  # 0 best

#: What a player is told on entering each tier.
TIER_MESSAGES: dict[str, str] = {
    "lucid": "{G}The world settles into its proper shape again. You feel lucid.{x}",
    "uneasy": "{y}Something at the edge of your mind will not lie still. You feel uneasy.{x}",
    "fractured": "{m}The edges of things no longer meet. Your mind is fractured.{x}",
    "deranged": "{r}Laughter bubbles up from somewhere that is not quite you. You are "
                "deranged.{x}",
    "catatonic": "{R}Your thoughts stop, one by one, like clocks in an empty house. You are "
                 "catatonic.{x}",
}


def tier(lucidity: int) -> str:
    for floor, name in TIERS:
        if lucidity >= floor:
            return name
    return "catatonic"


def worse(old: str, new: str) -> bool:
    return TIER_RANK[new] > TIER_RANK[old]


def clamp(lcd: int) -> int:
    return max(LCD_MIN, min(LCD_MAX, lcd))


# -- passive flux ----------------------------------------------------------------------------

#: Seconds between flux ticks.
FLUX_SECONDS = 6.0
#: Flux per tick by room environment: (day, night). Environments not listed: no flux.
ENV_FLUX: dict[str, tuple[float, float]] = {
    "sanctuary": (0.6, 0.3), "temple": (0.6, 0.3), "safehouse": (0.6, 0.3),
    "street_paved": (0.2, 0.0),
    "camp": (0.2, 0.2),
    "graveyard": (-0.4, -0.8), "haunted": (-0.4, -0.8),
    "eldritch": (-1.2, -1.5),
    "storm": (-0.3, -0.3),
    "forsaken": (-0.5, -0.2),
}
#: Company: per lucid or uneasy companion in the room, at most COMPANY_MAX in all.
COMPANY_BONUS, COMPANY_MAX = 0.1, 0.3
#: When a deranged or catatonic player is in the room.
COMPANY_PENALTY = -0.2
GOOD_COMPANY = frozenset({"lucid", "uneasy"})
BAD_COMPANY = frozenset({"deranged", "catatonic"})
#: Adaptive resistance: a drain shrinks by RESIST_STEP for every RESIST_SECONDS in the same
#: room, down to RESIST_FLOOR of itself.
RESIST_STEP, RESIST_SECONDS, RESIST_FLOOR = 0.25, 600.0, 0.5


def base_flux(environment: str, day: bool,
              zone_drain: dict[str, float] | None = None) -> float:
    """The room's flux per tick: the zone's own drain when it sets one, else the table's."""
    if zone_drain is not None:
        key = "day" if day else "night"
        if key in zone_drain:
            return float(zone_drain[key])
    d, n = ENV_FLUX.get(environment, (0.0, 0.0))
    return d if day else n


def resistance(seconds_in_room: float) -> float:
    """The share of a drain still felt after ``seconds_in_room`` in the same room."""
    steps = int(seconds_in_room // RESIST_SECONDS)
    return max(RESIST_FLOOR, 1.0 - RESIST_STEP * steps)


def company(companion_tiers: Iterable[str]) -> float:
    """The company term from the tiers of the *other* players in the room."""
    good = 0
    bad = False
    for t in companion_tiers:
        if t in GOOD_COMPANY:
            good += 1
        elif t in BAD_COMPANY:
            bad = True
    return min(COMPANY_MAX, COMPANY_BONUS * good) + (COMPANY_PENALTY if bad else 0.0)


def company_counts(good: int, bad: int) -> float:
    """``company`` from counts (the flux subsystem counts once per room)."""
    return min(COMPANY_MAX, COMPANY_BONUS * good) + (COMPANY_PENALTY if bad else 0.0)


def flux(environment: str, day: bool, *, zone_drain: dict[str, float] | None = None,
         seconds_in_room: float = 0.0, company_term: float = 0.0) -> float:
    """One tick's flux: the room's (a drain shrunk by adaptive resistance) plus company."""
    base = base_flux(environment, day, zone_drain)
    if base < 0:
        base *= resistance(seconds_in_room)
    return base + company_term


def accumulate(fraction: float, delta: float) -> tuple[int, float]:
    """Add ``delta`` to the carried ``fraction``: (whole points to apply now, new fraction).
    Whole points are taken towards zero, so fractions of either sign keep adding up."""
    total = fraction + delta
    whole = math.trunc(round(total, 9))
    return whole, total - whole


# -- encounters ------------------------------------------------------------------------------

#: Horror category -> (loss on first sight of a kind, loss on later sights).
ENCOUNTER_LOSS: dict[str, tuple[int, int]] = {
    "disturbing": (6, 2), "horrific": (12, 5), "cosmic": (20, 10)}
#: From this meeting with the same kind on, later losses are halved.
HALVED_FROM = 6


def encounter_loss(category: str, meetings_before: int) -> int:
    """LCD lost (a positive number) on meeting a horror of ``category`` for the
    ``meetings_before + 1``-th time."""
    first, later = ENCOUNTER_LOSS[category]
    if meetings_before == 0:
        return first
    if meetings_before + 1 >= HALVED_FROM:
        return (later + 1) // 2
    return later


# -- liabilities -----------------------------------------------------------------------------

#: A single loss this large (or a worse tier) brings a liability.
LIABILITY_LOSS = 15
LIABILITIES: tuple[str, ...] = (
    "nyctophobia (fear of the dark)", "a horror of enclosed places",
    "a twitch at the sound of water dripping", "sleeplessness", "a dread of being watched",
    "an aversion to the sight of blood", "a compulsion to count doors",
    "a fear of open water", "talking to no one in particular", "a morbid curiosity")


def gains_liability(loss: int, old_tier: str, new_tier: str) -> bool:
    return loss >= LIABILITY_LOSS or worse(old_tier, new_tier)


def pick_liability(have: Iterable[str], roll: float) -> str | None:
    """A liability not yet held (``roll`` in [0, 1)), or None when all are."""
    left = [x for x in LIABILITIES if x not in set(have)]
    if not left:
        return None
    return left[min(len(left) - 1, int(roll * len(left)))]


# -- tier effects ----------------------------------------------------------------------------

#: Chance per flux tick of a whisper (uneasy and worse) and a false arrival (fractured and
#: worse); chance that an altered description is seen (fractured and worse) and that a
#: command misfires (deranged).
WHISPER_CHANCE = 0.08
FALSE_ARRIVAL_CHANCE = 0.05
ALTERED_CHANCE = 0.35
MISFIRE_CHANCE = 0.15
#: What a catatonic character can still do (``quit`` too: nobody is kept in the game).
CATATONIC_ALLOWED = frozenset({"help", "who", "status", "time", "quit"})
#: ``ground`` brings a catatonic character back to this.
GROUND_TO = 1
#: Delirium: at or below DELIRIUM_AT, taken to the Sanitarium with DELIRIUM_TO.
DELIRIUM_AT, DELIRIUM_TO = -10, 10

WHISPERS: tuple[str, ...] = (
    "Someone whispers your name, close behind you. No one is there.",
    "A voice murmurs, very softly, in a language you almost know.",
    "You hear breathing that is not your own.",
    "Something whispers: 'It is later than you think.'",
)
FALSE_ARRIVALS: tuple[str, ...] = (
    "A tall man in a wet overcoat arrives from the north.",
    "Someone you once knew arrives from the west, and smiles at you.",
    "A small girl in a white dress arrives from below.",
    "A figure with your own face arrives from the east.",
)
ALTERED_LINES: tuple[str, ...] = (
    "The walls here breathe, slowly, in and out.",
    "There is one more door here than there was a moment ago. Then there is not.",
    "Every shadow in the room points towards you.",
    "The floor is wet with something that is not water.",
)
MISFIRES: tuple[str, ...] = (
    "emote giggles at something no one else can see.",
    "say Do you hear it too? Under the floor?",
    "emote counts the corners of the room, twice.",
)


def fractured(t: str) -> bool:
    return TIER_RANK[t] >= TIER_RANK["fractured"]


# -- recovery rites ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rite:
    name: str
    gain: int
    cooldown_minutes: float
    needs_company: bool = False
    needs_doctor: bool = False
    consumes: str | None = None  # an item prototype used up
    everyone: bool = False  # the gain goes to everyone present


RITES: dict[str, Rite] = {r.name: r for r in (
    Rite("pray", 8, 15),
    Rite("meditate", 6, 10),
    Rite("group_solace", 4, 20, needs_company=True, everyone=True),
    Rite("therapy", 15, 12 * 60, needs_doctor=True),
    Rite("folk_tonic", 3, 30, consumes="folk_tonic"),
)}
#: Where therapy is given (the doctor's office) while no doctor walks the world.
THERAPY_ROOM = "sanitarium.office"

# -- the forbidden book ----------------------------------------------------------------------

#: Reading it is an encounter of this category and kind.
FORBIDDEN_BOOK = "forbidden_book"
FORBIDDEN_BOOK_HORROR = "cosmic"
