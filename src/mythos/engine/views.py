"""How things look to a player: rooms, exits, people. Markup text, no IO."""

from __future__ import annotations

import textwrap
from functools import lru_cache

from mythos.engine.gmcp import profession_name
from mythos.rules.items import floor_lines
from mythos.rules.posture import describe as posture_word
from mythos.world.model import Character, Exit, Room, World

#: Texts kept wrapped: descriptions are few and shown again and again (every look and move).
WRAP_CACHE = 4096


@lru_cache(maxsize=WRAP_CACHE)
def wrap(text: str, width: int) -> str:
    """``text`` filled to ``width`` columns (kept between 20 and 120), paragraph by paragraph.
    Remembered per text and width: textwrap costs more than the rest of a room's view."""
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n".join(textwrap.fill(p, width=max(20, min(width, 120)) - 1) for p in paras if p)


def exits_line(room: Room) -> str:
    parts = []
    for ex in room.visible_exits():
        if ex.door is not None and not ex.door.is_open:
            parts.append(f"({ex.direction})")
        else:
            parts.append(ex.direction)
    return "{c}Exits:{x} " + (" ".join(parts) if parts else "none")


def room_text(room: Room, viewer: Character, width: int = 80) -> str:
    lines = [f"{{Y}}{room.name}{{x}}", wrap(room.description, width), exits_line(room)]
    lines += ["{y}" + wrap(line, width) + "{x}" for line in floor_lines(room.items)]
    lines += ["{m}" + wrap(m.proto.long, width) + "{x}" for m in room.npcs if m.alive]
    for other in room.characters:
        if other is not viewer and other.pose:
            lines.append(f"{{g}}{other.name} {other.pose}{{x}}")
        elif other is not viewer:
            lines.append(f"{{g}}{other.name} the {profession_name(other)} is "
                         f"{posture_word(other.posture)} here.{{x}}")
    return "\n".join(lines)


def exits_text(world: World, room: Room) -> str:
    rows = []
    for ex in room.visible_exits():
        rows.append(f"  {ex.direction:<10} - {exit_view(world, ex)}")
    return "Obvious exits:\n" + ("\n".join(rows) if rows else "  none")


def exit_view(world: World, ex: Exit) -> str:
    if ex.door is not None and not ex.door.is_open:
        return f"a closed {ex.door.name}"
    target = world.rooms[ex.to].name
    return f"{target} (through an open {ex.door.name})" if ex.door else target


def character_text(char: Character) -> str:
    return (f"{char.name} the {profession_name(char)}, level {char.level}, "
            f"is {posture_word(char.posture)} here.")
