"""Combat, health, death and corpses: the numbers of RULES.md in one place. Pure: no IO.

Durations are in game seconds; the engine divides them by ``Settings.time_scale`` (tests run
the clock fast, never by sleeping).
"""

from __future__ import annotations

import random
from typing import Any

from mythos.world.model import Posture

# -- periods and durations (seconds) -----------------------------------------------------------
ROUND_SECONDS = 3.0  # a combat round (the reference used 6 s; 3 s plays better)
REGEN_SECONDS = 6.0  # regeneration out of combat
BLEED_SECONDS = 1.0  # a mortally wounded character loses 1 HP per this
FIGHT_IDLE_SECONDS = 180.0  # a fight with no blows for this long ends
FIGHT_IDLE_FLOOR = 5.0  # real seconds: the idle end never comes sooner, whatever time_scale
WANDER_SECONDS = 10.0  # mobs consider wandering this often ...
WANDER_CHANCE = 0.25  # ... and go with this probability
HOME_PULL = 0.5  # chance that a wandering mob away from home steps towards home
EMOTE_SECONDS = 45.0  # an idle emote, now and then (randomised around this)
AGGRO_BEAT = 1.5  # an aggressive mob attacks an arriving player after this beat
LOOT_OWNER_SECONDS = 300.0  # only the dead (or the killers of an NPC) may loot a corpse
CORPSE_DECAY_SECONDS = 3600.0  # then the corpse crumbles; what is in it spills on the floor
RESPAWN_SECONDS: dict[str, float] = {
    "quest_giver": 600.0, "shopkeeper": 300.0, "passive_mob": 180.0, "aggressive_mob": 300.0}

# -- health ------------------------------------------------------------------------------------
MORTAL_HP = 0  # at or below: mortally wounded (unconscious, lying, bleeding)
DEAD_HP = -10  # at or below: dead
#: Commands a mortally wounded (unconscious) character may still use.
WHILE_UNCONSCIOUS: frozenset[str] = frozenset({"help", "who", "quit", "score", "status",
                                               "time", "commands"})
REGEN_BASE = 2  # HP per regeneration period, standing
REGEN_FACTOR: dict[Posture, float] = {
    Posture.STANDING: 1.0, Posture.SITTING: 1.5, Posture.LYING: 2.0}

# -- blows -------------------------------------------------------------------------------------
UNARMED_DAMAGE = 2
#: Damage of a wielded weapon by item prototype; other weapons do WEAPON_DAMAGE.
WEAPON_DAMAGE_BY_PROTO: dict[str, int] = {
    "revolver_38": 10, "knife": 5, "crowbar": 7, "walking_stick": 4}
WEAPON_DAMAGE = 4
#: Armour (damage taken off each blow) of worn clothing by prototype.
ARMOUR_BY_PROTO: dict[str, int] = {
    "trench_coat": 2, "overcoat": 1, "leather_gloves": 1, "fedora": 1, "work_boots": 1,
    "cloth_cap": 0}
BASE_HIT = 0.65  # chance to hit between equals
HIT_PER_DEX = 0.03  # per point of dexterity difference
FLEE_BASE = 0.5
FLEE_PER_DEX = 0.03
XP_PER_LEVEL = 100  # level = XP // 100 + 1 (rules/character.py)


def stat(who: Any, name: str) -> int:
    return int(who.stats.get(name, 10))


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def hit_chance(attacker: Any, defender: Any) -> float:
    diff = stat(attacker, "dexterity") - stat(defender, "dexterity")
    level = getattr(attacker, "level", 1) - getattr(defender, "level", 1)
    return clamp(BASE_HIT + HIT_PER_DEX * diff + 0.02 * level, 0.05, 0.95)


def damage(base: int, strength: int, armour: int, rng: random.Random) -> int:
    """A blow's damage: the weapon's (or the NPC's) base, plus strength, less armour; >= 1."""
    raw = rng.randint(max(1, base // 2), max(1, base)) + max(0, (strength - 10) // 2)
    return max(1, raw - armour)


def weapon_damage(proto_id: str | None, proto_type: str | None) -> int:
    if proto_id is None:
        return UNARMED_DAMAGE
    if proto_id in WEAPON_DAMAGE_BY_PROTO:
        return WEAPON_DAMAGE_BY_PROTO[proto_id]
    return WEAPON_DAMAGE if proto_type == "weapon" else UNARMED_DAMAGE


def flee_chance(who: Any, foes: list[Any]) -> float:
    best = max((stat(f, "dexterity") for f in foes), default=10)
    return clamp(FLEE_BASE + FLEE_PER_DEX * (stat(who, "dexterity") - best), 0.1, 0.9)


def regen_amount(posture: Posture, con: int) -> int:
    return max(1, round((REGEN_BASE + max(0, con - 10) // 4) * REGEN_FACTOR[posture]))


def consider(player_level: int, player_hp: int, mob_level: int, mob_hp: int) -> str:
    """How dangerous a foe looks."""
    score = (mob_level - player_level) + (mob_hp - player_hp) / 40
    if score <= -4:
        return "You could kill it with a rolled-up newspaper."
    if score <= -1:
        return "It should not trouble you much."
    if score < 1:
        return "A fair fight. Fair fights are the dangerous kind."
    if score < 4:
        return "It would probably win. Bring friends."
    return "It would kill you. Think of your family."


def share_xp(total: int, fighters: int) -> int:
    return max(1, total // max(1, fighters)) if total else 0


def health_word(hp: int, max_hp: int) -> str:
    pct = 100 * hp / max(1, max_hp)
    if pct >= 100:
        return "is in perfect health"
    if pct >= 75:
        return "has a few scratches"
    if pct >= 50:
        return "is bleeding freely"
    if pct >= 25:
        return "is badly hurt"
    if pct > 0:
        return "is barely standing"
    return "is mortally wounded"
