"""Exploration (RULES.md, Exploration): how much of each zone a character knows, and a small
text map of the known rooms around it. Pure: no IO."""

from __future__ import annotations

from collections.abc import Collection

from mythos.world.model import Room, World

#: The map shows this many rooms each way from you (east-west and north-south).
MAP_RADIUS = 3
_EW = {"east": (1, 0), "west": (-1, 0)}
_NS = {"north": (0, 1), "south": (0, -1)}


def zone_shares(world: World, explored: Collection[str]) -> list[tuple[str, int, int]]:
    """(zone name, rooms known, rooms in all) for each zone with a room known, by name."""
    totals: dict[str, list[int]] = {}
    for room in world.rooms.values():
        if room.zone.id == "limbo":
            continue
        t = totals.setdefault(room.zone.name, [0, 0])
        t[1] += 1
        if room.id in explored:
            t[0] += 1
    return sorted(((n, k, a) for n, (k, a) in totals.items() if k), key=lambda x: x[0])


def percent(known: int, total: int) -> int:
    return 0 if total == 0 else (100 * known) // total


def draw_map(world: World, here: Room, explored: Collection[str],
             radius: int = MAP_RADIUS) -> list[str]:
    """Lines of a map around ``here`` (same zone and level): ``@`` you, ``#`` a known room,
    ``-`` and ``|`` known ways between them (``+`` where ways go up or down)."""
    cx, cy, z = here.coords.x, here.coords.y, here.coords.z
    at: dict[tuple[int, int], Room] = {}
    for rid in explored:
        room = world.rooms.get(rid)
        if room is None or room.coords.z != z or room.zone is not here.zone:
            continue
        dx, dy = room.coords.x - cx, room.coords.y - cy
        if abs(dx) <= radius and abs(dy) <= radius:
            at[(dx, dy)] = room
    at[(0, 0)] = here
    size = 2 * radius + 1
    grid = [[" "] * (2 * size - 1) for _ in range(2 * size - 1)]
    for (dx, dy), room in at.items():
        col, row = 2 * (dx + radius), 2 * (radius - dy)
        vertical = any(d in room.exits for d in ("up", "down"))
        grid[row][col] = "@" if room is here else ("+" if vertical else "#")
        for d, (ox, oy) in (*_EW.items(), *_NS.items()):
            ex = room.exits.get(d)
            if ex is None or ex.hidden or (ex.to not in explored and ex.to != here.id):
                continue
            if (dx + ox, dy + oy) not in at or at[(dx + ox, dy + oy)].id != ex.to:
                continue
            grid[row - oy][col + ox] = "-" if ox else "|"
    lines = ["".join(r).rstrip() for r in grid]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines
