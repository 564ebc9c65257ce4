"""Posture: standing, sitting, lying (RULES.md, Posture)."""

from __future__ import annotations

from dataclasses import dataclass

from mythos.world.model import Character, Posture

#: Regeneration multiplier by posture.
REGEN_FACTOR: dict[Posture, float] = {
    Posture.STANDING: 1.0, Posture.SITTING: 1.5, Posture.LYING: 2.0}

_VERB = {Posture.STANDING: "stand up", Posture.SITTING: "sit down", Posture.LYING: "lie down"}
_OTHERS = {Posture.STANDING: "stands up", Posture.SITTING: "sits down",
           Posture.LYING: "lies down"}
_ALREADY = {Posture.STANDING: "You are already standing.",
            Posture.SITTING: "You are already sitting.",
            Posture.LYING: "You are already lying down."}
_HERE = {Posture.STANDING: "standing", Posture.SITTING: "sitting", Posture.LYING: "lying"}


@dataclass(frozen=True)
class PostureChange:
    ok: bool
    to_self: str
    to_room: str | None = None  # "{name} sits down." with the name filled in by the caller


def change(char: Character, to: Posture) -> PostureChange:
    if char.posture is to:
        return PostureChange(False, _ALREADY[to])
    if to is not Posture.LYING and char.hp <= 0:
        return PostureChange(False, "You are in no state to move.")
    char.posture = to
    return PostureChange(True, f"You {_VERB[to]}.", f"{{name}} {_OTHERS[to]}.")


def describe(posture: Posture) -> str:
    """'standing', 'sitting', 'lying' as in 'Ashley is sitting here.'"""
    return _HERE[posture]
