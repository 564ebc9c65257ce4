"""The out-of-band messages (GMCP.md): built here once, sent to telnet GMCP and websockets alike."""

from __future__ import annotations

from typing import Any

from mythos.rules.character import PROFESSIONS
from mythos.rules.lucidity import LCD_MAX, tier
from mythos.world.model import DIR_SHORT, Character, Room

#: Packages sent to a client that never said what it supports.
DEFAULT_SUPPORTS = frozenset({"char", "room", "core"})


def supported(package: str, supports: set[str] | frozenset[str]) -> bool:
    """Whether 'Comm.Channel.Text' is covered by what the client named ('comm.channel' or
    'comm'); Core is always on."""
    parts = package.lower().split(".")
    return any(".".join(parts[:i]) in supports for i in range(1, len(parts) + 1))


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


def player_entry(char: Character) -> dict[str, str]:
    return {"name": char.name, "fullname": f"{char.name} the {profession_name(char)}"}


def room_players(room: Room) -> list[dict[str, str]]:
    return [player_entry(c) for c in room.characters]
