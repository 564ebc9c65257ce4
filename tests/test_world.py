"""The world loader and the shipped starter world (data/world)."""

from __future__ import annotations

import copy
from collections import Counter, deque
from pathlib import Path
from typing import Any

import pytest
import yaml

from mythos.world import Problem, WorldError, check_world, load_world
from mythos.world.loader import STEP
from mythos.world.model import ENVIRONMENTS, OPPOSITE, DoorState, World

WORLD_DIR = Path(__file__).resolve().parents[1] / "data" / "world"


# ------------------------------------------------------------------------------------------------
# The shipped world


@pytest.fixture(scope="module")
def world() -> World:
    w, problems = check_world(WORLD_DIR)
    assert problems == [], "\n".join(map(str, problems))
    assert w is not None
    return w


def reachable(world: World, start: str) -> set[str]:
    """Every room reachable on foot from ``start``, through doors and hidden exits alike."""
    seen = {start}
    todo = deque([start])
    while todo:
        for ex in world.rooms[todo.popleft()].exits.values():
            if ex.to not in seen:
                seen.add(ex.to)
                todo.append(ex.to)
    return seen


def test_shipped_world_loads_without_problems(world: World) -> None:
    assert load_world(WORLD_DIR).rooms.keys() == world.rooms.keys()
    assert world.start_room == "arkham.square"
    assert world.respawn_room == "sanitarium.foyer"
    assert world.limbo_room == "limbo.void"
    assert world.motd.strip()


def test_shipped_world_size_and_environments(world: World) -> None:
    assert len(world.rooms) >= 60
    assert all(r.environment in ENVIRONMENTS for r in world.rooms.values())
    for room in world.rooms.values():
        assert room.name and room.area and room.description
        assert 2 <= room.description.count(". ") + 1 <= 6, room.id  # a few sentences each


def test_square_is_the_origin(world: World) -> None:
    sq = world.rooms["arkham.square"]
    assert (sq.coords.x, sq.coords.y, sq.coords.z) == (0, 0, 0)
    assert sq.environment == "street_paved" and sq.outdoors


@pytest.mark.parametrize(("zone", "environments"), [
    ("arkham", {"street_paved", "storm", "indoors"}),
    ("miskatonic", {"indoors", "eldritch", "street_paved"}),
    ("sanitarium", {"forsaken"}),
    ("cemetery", {"graveyard", "haunted"}),
    ("stmarys", {"sanctuary"}),
    ("boarding", {"safehouse"}),
    ("witchhouse", {"eldritch", "haunted"}),
    ("limbo", {"void"}),
])
def test_zone_environments(world: World, zone: str, environments: set[str]) -> None:
    found = {r.environment for r in world.rooms.values() if r.zone.id == zone}
    assert found == environments


def test_places_named_in_world_md(world: World) -> None:
    env = {rid: r.environment for rid, r in world.rooms.items()}
    expected = {
        "arkham.bridge": "street_paved",
        "arkham.french_hill": "street_paved",
        "arkham.merchant_row": "street_paved",
        "miskatonic.quad": "street_paved",
        "miskatonic.library.reading_room": "indoors",
        "miskatonic.library.stacks": "eldritch",
        "miskatonic.lecture_hall": "indoors",
        "miskatonic.museum_basement": "indoors",
        "sanitarium.foyer": "forsaken",
        "sanitarium.office": "forsaken",
        "cemetery.gate": "graveyard",
        "cemetery.crypt": "haunted",
        "stmarys.nave": "sanctuary",
        "boarding.hall": "safehouse",
        "witchhouse.tunnel_mouth": "eldritch",
        "limbo.void": "void",
    }
    assert {rid: env.get(rid) for rid in expected} == expected
    assert sum(e == "storm" and rid.startswith("arkham.") for rid, e in env.items()) >= 3
    tunnels = [r for r in world.rooms.values() if r.area == "Tunnels Under the Witch House"]
    assert len(tunnels) >= 5 and {r.environment for r in tunnels} == {"eldritch"}
    areas = {r.area for r in world.rooms.values() if r.zone.id == "arkham"}
    assert {"Independence Square", "River Bridge", "French Hill", "Merchant District"} <= areas


def test_everything_but_limbo_is_reachable_from_the_square(world: World) -> None:
    seen = reachable(world, "arkham.square")
    assert set(world.rooms) - seen == {"limbo.void"}
    assert {world.rooms[r].zone.id for r in seen} == set(world.zones) - {"limbo"}
    # and every room can walk back to the square (one-way exits never trap anyone)
    for rid in seen:
        assert "arkham.square" in reachable(world, rid), rid


def test_limbo_is_isolated(world: World) -> None:
    limbo = [r for r in world.rooms.values() if r.zone.id == "limbo"]
    assert [r.id for r in limbo] == ["limbo.void"]
    assert limbo[0].environment == "void"
    assert limbo[0].exits == {}
    assert not any(ex.to == "limbo.void" for r in world.rooms.values() for ex in r.exits.values())


def test_doors(world: World) -> None:
    states = Counter(d.state for d in world.doors.values())
    assert states[DoorState.CLOSED] >= 3 and states[DoorState.LOCKED] >= 2
    assert all(d.key for d in world.doors.values() if d.state is DoorState.LOCKED)
    # each door is one object shared by the two exits it joins
    for door in world.doors.values():
        sides = [(r.id, ex) for r in world.rooms.values() for ex in r.exits.values()
                 if ex.door is door]
        assert len(sides) == 2, door.id
        (r1, e1), (r2, e2) = sides
        assert e1.to == r2 and e2.to == r1 and OPPOSITE[e1.direction] == e2.direction
    stacks_door = world.rooms["miskatonic.library.reading_room"].exits["north"].door
    assert stacks_door is not None and stacks_door.state is DoorState.LOCKED and stacks_door.key


def test_a_closed_door_a_newcomer_can_open_near_the_square(world: World) -> None:
    """Within two steps of the square (through no door), an ordinary closed door."""
    near = {"arkham.square"} | {ex.to for ex in world.rooms["arkham.square"].exits.values()
                                if ex.door is None}
    doors = [ex.door for rid in near for ex in world.rooms[rid].exits.values()
             if ex.door is not None and not ex.hidden]
    assert any(d.state is DoorState.CLOSED and d.key is None for d in doors)


def test_hidden_exits(world: World) -> None:
    hidden = [(r, ex) for r in world.rooms.values() for ex in r.exits.values() if ex.hidden]
    assert hidden
    for r, ex in hidden:
        assert ex not in r.visible_exits()
    assert ("witchhouse.cellar", "north") in {(r.id, ex.direction) for r, ex in hidden}


def test_coords_agree_with_exits_everywhere(world: World) -> None:
    """Even across zones, every exit is one step in its direction, so one map fits all."""
    for room in world.rooms.values():
        for ex in room.exits.values():
            a, b = room.coords, world.rooms[ex.to].coords
            assert (b.x - a.x, b.y - a.y, b.z - a.z) == STEP[ex.direction], (room.id, ex.direction)


def test_help_pages(world: World) -> None:
    for topic in ("newbie", "movement", "communication", "posture", "combat", "lucidity",
                  "doors", "map"):
        page = world.help_pages[topic]
        assert page.title and len(page.body) > 100 and page.keywords


# ------------------------------------------------------------------------------------------------
# A small world of our own, and what breaking it does


def base_zone() -> dict[str, Any]:
    return {
        "zone": "test",
        "name": "Test Zone",
        "rooms": [
            {"id": "test.a", "name": "Room A", "environment": "street_paved",
             "coords": [0, 0, 0], "description": "A room.",
             "exits": {"north": {"to": "test.b", "door": "test.gate"}}},
            {"id": "test.b", "name": "Room B", "area": "Bee", "environment": "indoors",
             "coords": [0, 1, 0], "description": "Another room.",
             "exits": {"south": {"to": "test.a", "door": "test.gate"}, "east": "test.c"}},
            {"id": "test.c", "name": "Room C", "environment": "eldritch",
             "coords": [1, 1, 0], "description": "A third room.",
             "exits": {"west": "test.b"}},
        ],
        "doors": [{"id": "test.gate", "name": "gate", "state": "locked", "key": "key_gate"}],
    }


LIMBO = {"zone": "limbo", "name": "Limbo", "rooms": [
    {"id": "limbo.void", "name": "Void", "environment": "void", "coords": [0, 0],
     "description": "Nothing."}]}
WORLD_YAML = {"start_room": "test.a", "respawn_room": "test.b", "limbo_room": "limbo.void",
              "motd": "{R}Hello{x} {{there}"}
HELP = [{"topic": "newbie", "title": "Start", "keywords": ["Start"], "body": "Type {G}look{x}."}]


def proto(pid: str, **extra: Any) -> dict[str, Any]:
    """A minimal item prototype for the small test worlds."""
    return {"id": pid, "name": f"a {pid}", "keywords": [pid], "long": f"A {pid} lies here.",
            "description": f"It is a {pid}.", **extra}


ITEMS = [
    proto("key_gate", type="key"),
    proto("coins", name="a coin", plural="coins", keywords=["coin", "coins"], type="money",
          stack=True, value=1, weight=0.02),
    proto("lamp", type="light", value=10, wear=["off_hand"]),
    proto("chest", type="container", flags=["no_take"],
          container={"slots": 2, "weight": 10, "state": "locked", "key": "key_gate"}),
]


def write(root: Path, rel: str, data: Any) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))


def make_world(root: Path, zone: dict[str, Any] | None = None) -> Path:
    write(root, "world.yaml", WORLD_YAML)
    write(root, "help.yaml", HELP)
    write(root, "zones/limbo.yaml", LIMBO)
    write(root, "zones/test.yaml", zone if zone is not None else base_zone())
    write(root, "items.yaml", ITEMS)
    return root


def room(zone: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(r for r in zone["rooms"] if r["id"] == rid)


def problems_for(root: Path) -> list[Problem]:
    world, problems = check_world(root)
    assert problems, "expected problems"
    assert world is None
    return problems


def has(problems: list[Problem], file: str, id_: str, *words: str) -> bool:
    return any(p.file == file and p.id == id_ and all(w in p.message for w in words)
               for p in problems)


def test_small_world_loads(tmp_path: Path) -> None:
    world, problems = check_world(make_world(tmp_path))
    assert problems == []
    assert world is not None
    a, b, c = (world.rooms[r] for r in ("test.a", "test.b", "test.c"))
    assert a.zone is world.zones["test"] and a.area == "Test Zone" and b.area == "Bee"
    assert a.exits["north"].door is b.exits["south"].door is world.doors["test.gate"]
    assert world.doors["test.gate"].state is DoorState.LOCKED
    assert world.doors["test.gate"].key == "key_gate"
    assert not a.exits["north"].passable and c.exits["west"].passable
    assert list(b.exits) == ["east", "south"]  # canonical order, not file order
    assert world.rooms["limbo.void"].coords.z == 0
    assert world.help_pages["newbie"].keywords == ("start",)
    assert world.motd == "{R}Hello{x} {{there}"


def test_load_world_raises_with_every_problem(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.a")["environment"] = "swamp"
    room(zone, "test.c")["exits"]["west"] = "test.nowhere"
    make_world(tmp_path, zone)
    with pytest.raises(WorldError) as info:
        load_world(tmp_path)
    assert len(info.value.problems) >= 2
    text = str(info.value)
    assert "zones/test.yaml: test.a: unknown environment 'swamp'" in text
    assert "zones/test.yaml: test.c: exit west: no room 'test.nowhere'" in text


def test_problem_str() -> None:
    assert str(Problem("zones/a.yaml", "a.b", "oops")) == "zones/a.yaml: a.b: oops"
    assert str(Problem("world.yaml", "", "missing")) == "world.yaml: missing"


def test_missing_exit_target(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.c")["exits"]["north"] = "test.nowhere"
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.c", "exit north", "test.nowhere")


def test_duplicate_room_id_across_files(tmp_path: Path) -> None:
    make_world(tmp_path)
    other = {"zone": "other", "name": "Other", "rooms": [
        {"id": "test.a", "name": "Again", "environment": "indoors", "coords": [0, 0, 0],
         "description": "Again."}]}
    write(tmp_path, "zones/zz_other.yaml", other)
    problems = problems_for(tmp_path)
    assert has(problems, "zones/zz_other.yaml", "test.a", "duplicate room id",
               "zones/test.yaml")


def test_duplicate_zone_door_and_help_ids(tmp_path: Path) -> None:
    zone = base_zone()
    zone["doors"].append({"id": "test.gate", "state": "open"})
    make_world(tmp_path, zone)
    write(tmp_path, "zones/zz_again.yaml", {"zone": "test", "name": "Again"})
    write(tmp_path, "help/more.yaml", [{"topic": "newbie", "title": "Again", "body": "x"}])
    problems = problems_for(tmp_path)
    assert has(problems, "zones/test.yaml", "test.gate", "duplicate door id")
    assert has(problems, "zones/zz_again.yaml", "test", "duplicate zone id")
    assert has(problems, "help/more.yaml", "newbie", "duplicate help topic", "help.yaml")


def test_bad_ids(tmp_path: Path) -> None:
    zone = base_zone()
    zone["rooms"].append({"id": "test.Bad-Room", "name": "Bad", "environment": "indoors",
                          "coords": [5, 5, 5], "description": "Bad."})
    zone["doors"][0]["key"] = "Key Gate"
    make_world(tmp_path, zone)
    write(tmp_path, "zones/zz.yaml", {"zone": "zz.", "name": "Bad zone"})
    problems = problems_for(tmp_path)
    assert has(problems, "zones/test.yaml", "test.Bad-Room", "bad room id")
    assert has(problems, "zones/test.yaml", "test.gate", "bad key item id")
    assert has(problems, "zones/zz.yaml", "zz.", "bad zone id")


def test_unknown_environment(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.b")["environment"] = "swamp"
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.b", "unknown environment 'swamp'", "eldritch")


def test_unknown_direction(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.c")["exits"] = {"w": "test.b"}
    room(zone, "test.c")["flags"] = ["no-mobs"]
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.c", "unknown direction 'w'", "west")
    assert has(problems, "zones/test.yaml", "test.c", "bad flag 'no-mobs'")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    make_world(tmp_path)
    write(tmp_path, "zones/broken.yaml",
          "zone: broken\nname: Broken\nrooms:\n  - id: broken.a\n    name: [unclosed\n"
          "    description: oops\n")
    problems = problems_for(tmp_path)
    bad = [p for p in problems if p.file == "zones/broken.yaml"]
    assert len(bad) == 1 and "YAML syntax error at line" in bad[0].message
    assert bad[0].message.split("line ")[1].split(",")[0] in {"5", "6"}


def test_key_written_twice_is_an_error(tmp_path: Path) -> None:
    make_world(tmp_path)
    write(tmp_path, "zones/twice.yaml",
          "zone: twice\nname: Twice\nrooms:\n  - id: twice.a\n    name: A\n"
          "    environment: indoors\n    coords: [0, 0, 0]\n    description: A.\n"
          "    exits:\n      north: twice.a\n      north: twice.b\n")
    problems = problems_for(tmp_path)
    assert has(problems, "zones/twice.yaml", "", "line 11", "duplicate key 'north'")


def test_schema_errors_name_the_room(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.a")["colour"] = "red"
    del room(zone, "test.b")["description"]
    room(zone, "test.c")["coords"] = [1, "north", 0]
    room(zone, "test.c")["exits"]["west"] = {"to": "test.b", "secret": True}
    zone["doors"][0]["state"] = "ajar"
    zone["music"] = "loud"
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test", "unknown key 'music'")
    zone.pop("music")
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.a", "unknown key 'colour'")
    assert has(problems, "zones/test.yaml", "test.b", "missing key 'description'")
    assert has(problems, "zones/test.yaml", "test.c", "coords.1")
    assert has(problems, "zones/test.yaml", "test.c", "unknown key 'exits.west.secret'")
    assert has(problems, "zones/test.yaml", "test.gate", "state")


def test_missing_reverse_exit(tmp_path: Path) -> None:
    zone = base_zone()
    del room(zone, "test.c")["exits"]["west"]
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.b", "exit east", "no exit west back")


def test_reverse_exit_leading_elsewhere(tmp_path: Path) -> None:
    zone = base_zone()
    zone["rooms"].append({"id": "test.d", "name": "D", "environment": "indoors",
                          "coords": [0, 2, 0], "description": "D.",
                          "exits": {"west": {"to": "test.c", "one_way": True}}})
    room(zone, "test.c")["exits"]["west"] = "test.d"  # c -> d to the west, but d is elsewhere
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.b", "exit east", "leads to test.d")


def test_one_way_exit_needs_no_reverse(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.c")["exits"]["down"] = {"to": "test.pit", "one_way": True}
    zone["rooms"].append({"id": "test.pit", "name": "Pit", "environment": "haunted",
                          "coords": [1, 1, -1], "description": "A pit.",
                          "exits": {"up": {"to": "test.c", "hidden": True}}})
    world, problems = check_world(make_world(tmp_path, zone))
    assert problems == [] and world is not None
    assert world.rooms["test.pit"].exits["up"].hidden
    assert world.rooms["test.pit"].visible_exits() == []


def test_exit_with_unknown_door(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.c")["exits"]["west"] = {"to": "test.b", "door": "test.nodoor"}
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.c", "exit west", "unknown door 'test.nodoor'")


def test_door_on_one_side_only(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.b")["exits"]["south"] = "test.a"
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.gate", "used only by the exit north of test.a")


def test_door_not_used_or_used_by_unrelated_exits(tmp_path: Path) -> None:
    zone = base_zone()
    zone["doors"].append({"id": "test.spare", "name": "spare door"})
    room(zone, "test.a")["exits"]["north"] = "test.b"
    room(zone, "test.b")["exits"]["east"] = {"to": "test.c", "door": "test.gate"}
    room(zone, "test.c")["exits"]["west"] = "test.b"
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.spare", "not used by any exit")
    assert has(problems, "zones/test.yaml", "test.gate", "used by exits that are not",
               "test.b east", "test.b south")


def test_door_used_by_more_than_two_exits(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.b")["exits"]["east"] = {"to": "test.c", "door": "test.gate"}
    room(zone, "test.c")["exits"]["west"] = {"to": "test.b", "door": "test.gate"}
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.gate", "used by 4 exits")


def test_special_rooms_must_exist(tmp_path: Path) -> None:
    make_world(tmp_path)
    write(tmp_path, "world.yaml", {"start_room": "test.nowhere", "limbo_room": "limbo.gone"})
    problems = problems_for(tmp_path)
    assert has(problems, "world.yaml", "start_room", "test.nowhere")
    assert has(problems, "world.yaml", "limbo_room", "limbo.gone")
    # respawn_room defaults to sanitarium.foyer, which this small world lacks
    assert has(problems, "world.yaml", "respawn_room", "sanitarium.foyer")


def test_world_yaml_missing(tmp_path: Path) -> None:
    make_world(tmp_path)
    (tmp_path / "world.yaml").unlink()
    assert has(problems_for(tmp_path), "world.yaml", "", "missing")


def test_same_coords_in_one_zone(tmp_path: Path) -> None:
    zone = base_zone()
    zone["rooms"].append({"id": "test.d", "name": "D", "environment": "indoors",
                          "coords": [1, 1, 0], "description": "D."})
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.d", "coords [1, 1, 0]", "test.c")


def test_same_coords_in_two_zones_is_fine(tmp_path: Path) -> None:
    make_world(tmp_path)
    write(tmp_path, "zones/other.yaml", {"zone": "other", "name": "Other", "rooms": [
        {"id": "other.a", "name": "A", "environment": "indoors", "coords": [0, 0, 0],
         "description": "A."}]})
    world, problems = check_world(tmp_path)
    assert problems == [] and world is not None and len(world.zones) == 3


def test_coords_must_agree_with_exits_in_a_zone(tmp_path: Path) -> None:
    zone = base_zone()
    room(zone, "test.c")["coords"] = [2, 1, 0]
    problems = problems_for(make_world(tmp_path, zone))
    assert has(problems, "zones/test.yaml", "test.b", "exit east", "not one step east")


def test_bad_markup_and_unknown_files(tmp_path: Path) -> None:
    make_world(tmp_path)
    write(tmp_path, "help.yaml", [{"topic": "newbie", "title": "T", "body": "a {q}red{x} b"}])
    write(tmp_path, "stray.yaml", {"anything": 1})
    problems = problems_for(tmp_path)
    assert has(problems, "help.yaml", "newbie", "bad colour markup '{q}'")
    assert has(problems, "stray.yaml", "", "not a known world file")


def test_copy_of_shipped_world_detects_a_broken_exit(tmp_path: Path) -> None:
    """The real files, with one exit broken, fail: the shipped check is not vacuous."""
    for src in WORLD_DIR.rglob("*.yaml"):
        write(tmp_path, src.relative_to(WORLD_DIR).as_posix(), src.read_text())
    arkham = yaml.safe_load((tmp_path / "zones/arkham.yaml").read_text())
    broken = copy.deepcopy(arkham)
    room(broken, "arkham.square")["exits"]["north"] = "arkham.gone"
    write(tmp_path, "zones/arkham.yaml", broken)
    problems = problems_for(tmp_path)
    assert has(problems, "zones/arkham.yaml", "arkham.square", "arkham.gone")
    assert has(problems, "zones/arkham.yaml", "arkham.garrison_st", "exit south",
               "leads to arkham.gone, not back here")


def test_a_world_of_thousands_of_rooms_checks_clean(tmp_path: Path) -> None:
    """A large grid loads with every exit paired (how long it takes is the bench's business)."""
    width, height = 100, 50
    rooms = []
    for x in range(width):
        for y in range(height):
            exits = {}
            if x > 0:
                exits["west"] = f"big.r{x - 1}_{y}"
            if x < width - 1:
                exits["east"] = f"big.r{x + 1}_{y}"
            if y > 0:
                exits["south"] = f"big.r{x}_{y - 1}"
            if y < height - 1:
                exits["north"] = f"big.r{x}_{y + 1}"
            rooms.append({"id": f"big.r{x}_{y}", "name": f"Room {x},{y}",
                          "environment": "street_paved", "coords": [x, y, 0],
                          "description": "A room like any other room in a very large grid.",
                          "exits": exits})
    make_world(tmp_path)
    write(tmp_path, "zones/big.yaml", {"zone": "big", "name": "Big", "rooms": rooms})
    world, problems = check_world(tmp_path)
    assert problems == [] and world is not None
    assert len(world.rooms) == width * height + 4
    corner = world.rooms[f"big.r{width - 1}_{height - 1}"]
    assert set(corner.exits) == {"west", "south"}


# ------------------------------------------------------------------------------------------------
# Items: prototypes, room items and shops


def test_shipped_items(world: World) -> None:
    from mythos.rules.character import PROFESSIONS, STARTING_KITS
    from mythos.world.items import ContainerState

    protos = world.protos
    assert len(protos) >= 30
    for pid in ("lantern", "revolver_38", "knife", "crowbar", "trench_coat", "fedora",
                "backpack", "satchel", "key_stacks", "key_crypt", "key_black_chamber",
                "key_sanitarium", "folk_tonic", "coins", "journal", "forbidden_book"):
        assert pid in protos, pid
    assert protos["coins"].stack and protos["coins"].plural
    for bag, slot in (("backpack", "back"), ("satchel", "belt")):
        assert protos[bag].container is not None and slot in protos[bag].wear
    # every locked door's key exists
    for door in world.doors.values():
        if door.key:
            assert door.key in protos
    # the three room containers WORLD.md names, in the right rooms
    placed = {p.room: p for p in world.placements}
    assert placed["miskatonic.library.catalogue"].proto == "card_catalogue"
    desk = placed["sanitarium.office"]
    assert desk.proto == "doctors_desk" and desk.state is ContainerState.LOCKED
    assert protos["doctors_desk"].container.key in protos
    assert placed["cemetery.tomb"].proto == "sarcophagus"
    # every profession has a kit, with money, of prototypes the world has, worn where it fits
    assert set(STARTING_KITS) == set(PROFESSIONS)
    for prof, kit in STARTING_KITS.items():
        assert any(p == "coins" and n > 0 for p, n, _ in kit), prof
        for pid, n, slot in kit:
            assert pid in protos, (prof, pid)
            assert slot is None or slot in protos[pid].wear, (prof, pid, slot)
            assert n == 1 or protos[pid].stack, (prof, pid)
    shop = world.shops["arkham.general_store"]
    assert shop.keeper and len(shop.stock) >= 10


def test_small_world_items_load(tmp_path: Path) -> None:
    from mythos.world.items import ContainerState

    zone = base_zone()
    room(zone, "test.b")["items"] = [
        {"id": "test.b.chest", "proto": "chest", "refill": True,
         "contents": ["lamp", {"proto": "coins", "quantity": 7}]},
        {"id": "test.b.lamp", "proto": "lamp"},
    ]
    room(zone, "test.c")["shop"] = {"keeper": "Mr. Test", "buys": ["light"],
                                    "stock": ["lamp", {"proto": "coins", "price": 2,
                                                       "quantity": 3, "restock": 60}]}
    world, problems = check_world(make_world(tmp_path, zone))
    assert problems == [], problems
    assert world is not None
    lamp = world.protos["lamp"]
    assert lamp.name == "a lamp" and lamp.wear == ("off_hand",) and lamp.takeable
    chest = world.protos["chest"]
    assert not chest.takeable and chest.container is not None
    assert chest.container.state is ContainerState.LOCKED and chest.container.key == "key_gate"
    p = next(p for p in world.placements if p.id == "test.b.chest")
    assert p.room == "test.b" and p.refill and [(c.proto, c.quantity) for c in p.contents] == [
        ("lamp", 1), ("coins", 7)]
    shop = world.shops["test.c"]
    assert shop.keeper == "Mr. Test" and shop.buys == frozenset({"light"})
    assert [(s.proto.id, s.price, s.available()) for s in shop.stock] == [
        ("lamp", 10, None), ("coins", 2, 3)]


def test_item_problems_name_file_and_id(tmp_path: Path) -> None:
    zone = base_zone()
    zone["doors"][0]["key"] = "key_nowhere"
    room(zone, "test.a")["items"] = [
        {"id": "test.a.x", "proto": "ghost"},
        {"id": "test.a.lamps", "proto": "lamp", "quantity": 3},
        {"id": "test.a.box", "proto": "chest", "contents": ["ghost", "lamp", "lamp", "lamp"]},
        {"id": "test.a.y", "proto": "lamp", "contents": ["lamp"]},
        {"id": "Bad Id", "proto": "lamp"},
    ]
    room(zone, "test.b")["items"] = [{"id": "test.a.x", "proto": "lamp"}]
    room(zone, "test.c")["shop"] = {"keeper": "K", "buys": ["gizmos"], "stock": ["unicorn"]}
    items = [*ITEMS,
             proto("hat", wear=["head", "tail"], flags=["cursed"], type="headgear"),
             proto("bag", type="container"),
             proto("purse", stack=True, container={"slots": 1, "weight": 1}),
             proto("box", container={"slots": 1, "weight": 1, "state": "locked",
                                     "key": "key_missing"}),
             proto("lamp"),
             {"id": "nameless", "keywords": ["x"]}]
    make_world(tmp_path, zone)
    write(tmp_path, "items.yaml", items)
    problems = problems_for(tmp_path)
    z, i = "zones/test.yaml", "items.yaml"
    assert has(problems, z, "test.gate", "key", "key_nowhere")
    assert has(problems, z, "test.a", "item test.a.x", "no item prototype 'ghost'")
    assert has(problems, z, "test.a", "test.a.lamps", "does not stack")
    assert has(problems, z, "test.a", "test.a.box", "contents", "ghost")
    assert has(problems, z, "test.a", "test.a.box", "holds 2")
    assert has(problems, z, "test.a", "test.a.y", "not a container")
    assert has(problems, z, "test.a", "bad placement id 'Bad Id'")
    assert has(problems, z, "test.b", "duplicate item placement id")
    assert has(problems, z, "test.c", "shop buys", "gizmos")
    assert has(problems, z, "test.c", "shop stock", "unicorn")
    assert has(problems, i, "hat", "unknown wear slot 'tail'")
    assert has(problems, i, "hat", "unknown item flag 'cursed'")
    assert has(problems, i, "hat", "unknown item type 'headgear'")
    assert has(problems, i, "bag", "needs a container")
    assert has(problems, i, "purse", "stacking item cannot be a container")
    assert has(problems, i, "purse", "needs a plural")
    assert has(problems, i, "box", "no item prototype 'key_missing'")
    assert has(problems, i, "lamp", "duplicate item prototype id")
    assert has(problems, i, "nameless", "missing key 'name'")


def test_items_may_live_in_a_folder(tmp_path: Path) -> None:
    make_world(tmp_path)
    (tmp_path / "items.yaml").unlink()
    write(tmp_path, "items/keys.yaml", ITEMS[:1])
    write(tmp_path, "items/other.yaml", ITEMS[1:])
    world, problems = check_world(tmp_path)
    assert problems == [] and world is not None and set(world.protos) == {
        p["id"] for p in ITEMS}
    write(tmp_path, "items/bad.yaml", {"id": "not a list"})
    assert has(problems_for(tmp_path), "items/bad.yaml", "", "a list of prototypes")


# ------------------------------------------------------------------------------------------------
# NPCs (npcs.yaml)

def test_world_npcs_cover_the_kinds(world: World) -> None:
    protos = world.npc_protos
    assert len(protos) >= 12
    assert {p.kind for p in protos.values()} == {
        "shopkeeper", "quest_giver", "passive_mob", "aggressive_mob"}
    for p in protos.values():
        assert p.home in world.rooms
        if p.kind == "aggressive_mob":
            assert p.horror in ("disturbing", "horrific", "cosmic")
        for loot in p.loot:
            assert loot.proto in world.protos
    assert world.shops["arkham.general_store"].keeper_npc is protos["ezra_alden"]


def test_world_check_reports_bad_npcs(tmp_path) -> None:
    import shutil

    shutil.copytree(WORLD_DIR, tmp_path / "w")
    (tmp_path / "w" / "npcs.yaml").write_text(
        "- {id: ghost, name: a ghost, keywords: [ghost], long: A ghost., description: Boo.,\n"
        "   kind: phantom, home: arkham.square}\n"
        "- {id: gone, name: a gone thing, keywords: [gone], long: Gone., description: Gone.,\n"
        "   kind: passive_mob, home: nowhere.at_all, loot: [no_such_item]}\n")
    world, problems = check_world(tmp_path / "w")
    assert world is None
    text = "\n".join(map(str, problems))
    assert "npcs.yaml: ghost: kind" in text
    assert "npcs.yaml: gone: home room 'nowhere.at_all' is not a room" in text
    assert "npcs.yaml: gone: loot names an unknown item prototype 'no_such_item'" in text
