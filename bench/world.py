"""A bigger world for the ramp: the starter world and a generated town of streets beside it.

The starter world has 83 rooms: 5,000 bots wandering it are 60 to a room, and every move, say
and emote is told to all of them. A MUD with thousands online has thousands of rooms, so
``python -m bench --world-rooms N`` measures in a copy of the starter world with a grid of
about N more street rooms (``sqrt(N)`` on a side, in zones of 8 x 8 rooms, ``outskirts_X_Y``)
whose middle room is where new characters appear and the dead come back; its ``up`` leads to
Independence Square and the square's ``down`` back. Stray dogs roam each block (one for every
``ROOMS_PER_STRAY`` rooms, passive, back a minute after they die), so the bots' fights have
something to pick on. Everything else (rooms, NPCs, items, help) is the starter world's, and
the server loads it through its ordinary ``world`` setting, as an operator's own world.

    .venv/bin/python -m bench.world /tmp/bigworld --rooms 1024   # write one, to look at
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path
from typing import Any

import yaml

from mythos.config import default_world_dir

ZONE = "outskirts"
#: Rooms on a side of one block; each block is a zone of its own (a zone channel reaches a
#: block, as the starter world's zones hold a few dozen rooms each).
BLOCK = 8
#: Where the grid joins the starter world, and the directions of that join.
JOIN_ROOM, DOWN, UP = "arkham.square", "down", "up"
#: A block has one stray dog for this many of its rooms.
ROOMS_PER_STRAY = 8

_STREETS = ("Boundary", "Crane", "Derby", "Federal", "Hyde", "Jenkin", "Lich", "Marsh",
            "Peabody", "Powder Mill", "Sentinel", "Walnut")
_SIGHTS = (
    "Frame houses lean over a narrow street, their shutters closed against the damp.",
    "A row of shuttered shops gives way to an empty lot grown over with brambles.",
    "Cobbles give way to packed earth here, rutted by wagon wheels and the autumn rain.",
    "A gas lamp sputters above a hitching post; beyond it a lane runs between high fences.",
    "Old elms drip onto the pavement, and somewhere behind the houses a dog will not stop barking.",
    "A boarded-up chapel stands on the corner, its weathervane rusted pointing north.",
)


def grid_side(rooms: int) -> int:
    """Rooms on one side of the grid that holds at least ``rooms``."""
    return max(2, math.isqrt(max(rooms, 1) - 1) + 1)


def _zone_id(x: int, y: int) -> str:
    return f"{ZONE}_{x // BLOCK}_{y // BLOCK}"


def _room_id(x: int, y: int) -> str:
    return f"{_zone_id(x, y)}.r{x}_{y}"


def outskirts(side: int) -> tuple[list[dict[str, Any]], str]:
    """The generated zones (as their YAML documents: a block of ``BLOCK`` x ``BLOCK`` rooms
    each, coordinates of the whole grid) and the id of the grid's middle room."""
    mid = side // 2
    zones: dict[str, dict[str, Any]] = {}
    for y in range(side):
        for x in range(side):
            exits: dict[str, str] = {}
            if y + 1 < side:
                exits["north"] = _room_id(x, y + 1)
            if y > 0:
                exits["south"] = _room_id(x, y - 1)
            if x + 1 < side:
                exits["east"] = _room_id(x + 1, y)
            if x > 0:
                exits["west"] = _room_id(x - 1, y)
            if (x, y) == (mid, mid):
                exits[UP] = JOIN_ROOM
            zid = _zone_id(x, y)
            block = f"block {x // BLOCK + 1}-{y // BLOCK + 1}"
            zone = zones.get(zid)
            if zone is None:
                zone = zones[zid] = {
                    "zone": zid, "name": f"The Outskirts, {block}",
                    "description": "Street after street of the town's edge, made for a load test.",
                    "rooms": []}
            zone["rooms"].append({
                "id": _room_id(x, y),
                "name": f"{_STREETS[(x + 3 * y) % len(_STREETS)]} Street",
                "area": f"The Outskirts, {block}",
                "environment": "street_paved",
                "outdoors": True,
                "coords": [x - mid, y - mid, 0],
                "description": _SIGHTS[(7 * x + 5 * y) % len(_SIGHTS)],
                "exits": exits,
            })
    return list(zones.values()), _room_id(mid, mid)


def strays(side: int) -> list[dict[str, Any]]:
    """One NPC definition per block: stray dogs born in its middle room, wandering the block
    (their area); a fight for a level-1 character lasts a few rounds and never kills it."""
    out = []
    for by in range(0, side, BLOCK):
        for bx in range(0, side, BLOCK):
            w, h = min(BLOCK, side - bx), min(BLOCK, side - by)
            zid = _zone_id(bx, by)
            out.append({
                "id": f"stray_{zid.removeprefix(ZONE + '_')}",
                "name": "a stray dog",
                "keywords": ["dog", "stray", "mongrel"],
                "long": "A stray dog trots along the gutter, ribs showing under a matted coat.",
                "description": "A rangy yellow mongrel with a torn ear, hungry enough to bite.",
                "kind": "passive_mob",
                "home": _room_id(bx + w // 2, by + h // 2),
                "wander": True,
                "max_population": max(1, w * h // ROOMS_PER_STRAY),
                "level": 2,
                "hp": 14,
                "damage": 2,
                "xp": 20,
                "respawn": 60,
                "stats": {"strength": 8, "dexterity": 12, "constitution": 8},
                "emotes": ["The stray dog scratches behind its ear.",
                           "The stray dog noses at a heap of wet leaves."],
            })
    return out


def build(dest: Path, rooms: int, source: Path | None = None) -> Path:
    """Write the starter world (``source``) with about ``rooms`` more into ``dest`` (replaced
    if it exists); returns ``dest``."""
    source = source or default_world_dir()
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    blocks, middle = outskirts(grid_side(rooms))
    zones = dest / "zones"
    join_file = zones / f"{JOIN_ROOM.split('.')[0]}.yaml"
    doc = yaml.safe_load(join_file.read_text(encoding="utf-8"))
    join = next(r for r in doc["rooms"] if r["id"] == JOIN_ROOM)
    if DOWN in join.get("exits", {}):
        raise ValueError(f"{JOIN_ROOM} already has an exit {DOWN}")
    join.setdefault("exits", {})[DOWN] = middle
    join_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    for zone in blocks:
        (zones / f"{zone['zone']}.yaml").write_text(yaml.safe_dump(zone, sort_keys=False),
                                                    encoding="utf-8")
    npcs_file = dest / "npcs.yaml"
    npcs = yaml.safe_load(npcs_file.read_text(encoding="utf-8")) or []
    npcs_file.write_text(yaml.safe_dump(npcs + strays(grid_side(rooms)), sort_keys=False),
                         encoding="utf-8")
    world_file = dest / "world.yaml"
    world = yaml.safe_load(world_file.read_text(encoding="utf-8"))
    world["start_room"] = world["respawn_room"] = middle
    world_file.write_text(yaml.safe_dump(world, sort_keys=False), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.world", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", type=Path, help="the directory to write (replaced if it exists)")
    p.add_argument("--rooms", type=int, default=1024, help="about how many rooms to add")
    a = p.parse_args(argv)
    out = build(a.dest, a.rooms)
    side = grid_side(a.rooms)
    dogs = sum(n["max_population"] for n in strays(side))
    print(f"{out}: the starter world and {side ** 2} rooms in "
          f"{((side + BLOCK - 1) // BLOCK) ** 2} zones {ZONE}_*, {dogs} stray dogs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
