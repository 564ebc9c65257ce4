"""Load and check the world files (``data/world/``) into the in-memory model.

Layout of a world directory (see ``docs/WORLD_FORMAT.md``)::

    world.yaml          start/respawn/limbo room ids and the message of the day
    help.yaml           help pages (a list); more may live in help/*.yaml
    items.yaml          item prototypes (a list); more may live in items/*.yaml
    npcs.yaml           NPC definitions (a list); more may live in npcs/*.yaml
    zones/*.yaml        one zone per file: its rooms (with their items and shops) and doors

``check_world`` reads every YAML file, validates each against its schema (pydantic, unknown keys
refused), then checks the world as a whole (ids, exits, doors, coordinates) and returns every
problem it found, each naming its file and id. ``load_world`` is the strict form used at start-up.

Pure synchronous code: call it before the event loop starts or through ``asyncio.to_thread``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from mythos.world.items import (
    ITEM_FLAGS,
    ITEM_TYPES,
    MONEY_PROTO,
    WEAR_SLOTS,
    ContainerProto,
    ContainerState,
    ContentSpec,
    ItemProto,
    Placement,
    Shop,
    StockSpec,
    new_stock,
)
from mythos.world.model import (
    DIRECTIONS,
    ENVIRONMENTS,
    OPPOSITE,
    Coords,
    Door,
    DoorState,
    Exit,
    HelpPage,
    Room,
    World,
    Zone,
    normalize_direction,
)

__all__ = [
    "ID_RE",
    "MARKUP_CODES",
    "STEP",
    "Problem",
    "WorldError",
    "check_world",
    "load_world",
]

#: Every id in the world files (zones, rooms, doors, help topics, item prototypes, placements).
ID_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")

#: Colour markup accepted in the motd and help pages: ``{r}`` ... ``{x}`` and ``{{``.
MARKUP_CODES = frozenset("rgybmcwRGYBMCWx")
_MARKUP_RE = re.compile(r"\{\{|\{([A-Za-z])\}|\{.{0,2}")

#: The coordinate step of each direction: x east, y north, z up.
STEP: dict[str, tuple[int, int, int]] = {
    "north": (0, 1, 0), "south": (0, -1, 0), "east": (1, 0, 0), "west": (-1, 0, 0),
    "northeast": (1, 1, 0), "northwest": (-1, 1, 0),
    "southeast": (1, -1, 0), "southwest": (-1, -1, 0),
    "up": (0, 0, 1), "down": (0, 0, -1),
}

try:  # libyaml parses much faster; fall back to pure Python when it is absent
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader


class _YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader that refuses a key written twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


# --------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the world files.

    ``file`` is relative to the world directory (``zones/arkham.yaml``); ``id`` is the zone,
    room, door or help topic concerned, or ``""`` when the problem is about the whole file.
    """

    file: str
    id: str
    message: str

    def __str__(self) -> str:
        if self.id:
            return f"{self.file}: {self.id}: {self.message}"
        return f"{self.file}: {self.message}"


class WorldError(Exception):
    """The world files are invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"the world has {n} problem{'s' if n != 1 else ''}:\n{lines}")


# --------------------------------------------------------------------------------------------
# File schemas


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Listed = TypeVar("_Listed", bound=_Spec)


class WorldSpec(_Spec):
    """``world.yaml``."""

    start_room: str = World.start_room
    respawn_room: str = World.respawn_room
    limbo_room: str = World.limbo_room
    motd: str = ""


class ExitSpec(_Spec):
    to: str
    door: str | None = None
    hidden: StrictBool = False
    one_way: StrictBool = False
    description: str = ""


class ContentSpecModel(_Spec):
    proto: str
    quantity: StrictInt = Field(default=1, ge=1)


def _short_contents(value: Any) -> Any:
    """``- candle`` is short for ``- {proto: candle}``."""
    if isinstance(value, list):
        return [{"proto": v} if isinstance(v, str) else v for v in value]
    if value is None:
        return []
    return value


class PlacementSpec(_Spec):
    """An item a room starts with: a room container (with its contents) or a loose thing."""

    id: str
    proto: str
    quantity: StrictInt = Field(default=1, ge=1)
    state: Literal["open", "closed", "locked"] | None = None
    refill: StrictBool = False
    contents: list[ContentSpecModel] = Field(default_factory=list)

    _contents = field_validator("contents", mode="before")(_short_contents)


class StockSpecModel(_Spec):
    proto: str
    price: StrictInt | None = Field(default=None, ge=0)
    quantity: StrictInt | None = Field(default=None, ge=1)
    restock: float = Field(default=0.0, ge=0)


class ShopSpecModel(_Spec):
    keeper: str = Field(min_length=1)
    buys: list[str] = Field(default_factory=list)
    sell_ratio: float = Field(default=0.5, ge=0, le=1)
    stock: list[StockSpecModel] = Field(default_factory=list)

    @field_validator("stock", mode="before")
    @classmethod
    def _short_stock(cls, value: Any) -> Any:
        """``- candle`` is short for ``- {proto: candle}``."""
        if isinstance(value, list):
            return [{"proto": v} if isinstance(v, str) else v for v in value]
        return value


class RoomSpec(_Spec):
    id: str
    name: str
    area: str | None = None  # defaults to the zone's name
    environment: str
    outdoors: StrictBool = False
    coords: list[StrictInt] = Field(min_length=2, max_length=3)
    flags: list[str] = Field(default_factory=list)
    description: str
    exits: dict[str, ExitSpec] = Field(default_factory=dict)
    items: list[PlacementSpec] = Field(default_factory=list)
    shop: ShopSpecModel | None = None

    @field_validator("exits", mode="before")
    @classmethod
    def _short_exits(cls, value: Any) -> Any:
        """``north: arkham.x`` is short for ``north: {to: arkham.x}``."""
        if isinstance(value, dict):
            return {k: ({"to": v} if isinstance(v, str) else v) for k, v in value.items()}
        if value is None:
            return {}
        return value


class DoorSpec(_Spec):
    id: str
    name: str = "door"
    state: Literal["open", "closed", "locked"] = "closed"
    key: str | None = None


class ContainerSpecModel(_Spec):
    slots: StrictInt = Field(ge=1)
    weight: float = Field(ge=0)
    closable: StrictBool = True
    state: Literal["open", "closed", "locked"] = "open"
    key: str | None = None


class ItemSpec(_Spec):
    """One item prototype of ``items.yaml``."""

    id: str
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    long: str = Field(min_length=1)
    description: str = Field(min_length=1)
    type: str = "misc"
    weight: float = Field(default=1.0, ge=0)
    value: StrictInt = Field(default=0, ge=0)
    flags: list[str] = Field(default_factory=list)
    wear: list[str] = Field(default_factory=list)
    stack: StrictBool = False
    plural: str = ""
    container: ContainerSpecModel | None = None


class LootSpecModel(_Spec):
    proto: str
    quantity: StrictInt = Field(default=1, ge=1)
    chance: float = Field(default=1.0, gt=0, le=1)


class NpcSpec(_Spec):
    """One NPC definition of ``npcs.yaml``."""

    id: str
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    long: str = Field(min_length=1)
    description: str = Field(min_length=1)
    kind: Literal["shopkeeper", "quest_giver", "passive_mob", "aggressive_mob"]
    level: StrictInt = Field(default=1, ge=1)
    hp: StrictInt = Field(default=20, ge=1)
    stats: dict[str, StrictInt] = Field(default_factory=dict)
    damage: StrictInt = Field(default=3, ge=0)
    armour: StrictInt = Field(default=0, ge=0)
    xp: StrictInt = Field(default=10, ge=0)
    horror: Literal["disturbing", "horrific", "cosmic"] | None = None
    home: str
    area: str | None = None
    wander: StrictBool = False
    required: StrictBool = True
    chance: float = Field(default=1.0, ge=0, le=1)
    max_population: StrictInt = Field(default=1, ge=1)
    emotes: list[str] = Field(default_factory=list)
    greeting: str = ""
    loot: list[LootSpecModel] = Field(default_factory=list)
    respawn: float | None = Field(default=None, ge=0)
    shop: StrictBool = False  # keeps the shop of its home room (``shop:`` in the zone file)

    _loot = field_validator("loot", mode="before")(_short_contents)


class LucidityDrainSpec(_Spec):
    day: float
    night: float


class ZoneSpec(_Spec):
    """A zone file. Rooms and doors are validated one by one so a problem names its id."""

    zone: str
    name: str
    description: str = ""
    lucidity_drain: LucidityDrainSpec | None = None
    rooms: list[Any] = Field(default_factory=list)
    doors: list[Any] = Field(default_factory=list)


class HelpSpec(_Spec):
    topic: str
    title: str
    keywords: list[str] = Field(default_factory=list)
    body: str


# --------------------------------------------------------------------------------------------
# Reading


class _Checker:
    """Collects problems while the world is read; one instance per ``check_world`` call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, file: str, id_: str, message: str) -> None:
        self.problems.append(Problem(file, id_, message))

    def check_id(self, file: str, id_: str, what: str, value: str | None = None) -> None:
        """Check ``value`` (by default ``id_`` itself) against ``ID_RE``."""
        value = id_ if value is None else value
        if not ID_RE.match(value):
            self.add(file, id_, f"bad {what} id {value!r}: use lowercase a-z, 0-9 and _, "
                                "in dot-separated parts (e.g. arkham.square)")

    def validation_problems(self, file: str, id_: str, err: ValidationError,
                            prefix: str = "") -> None:
        for e in err.errors(include_url=False):
            loc = ".".join(str(p) for p in e["loc"])
            where = f"{prefix}{loc}" if loc else prefix.rstrip(".")
            if e["type"] == "extra_forbidden":
                msg = f"unknown key {where!r}"
            elif e["type"] == "missing":
                msg = f"missing key {where!r}"
            else:
                msg = f"{where}: {e['msg']}" if where else e["msg"]
            self.add(file, id_, msg)

    def markup(self, file: str, id_: str, text: str, what: str) -> None:
        for m in _MARKUP_RE.finditer(text):
            # '{{' is consumed whole, so '{{r}' is a literal '{r}' and not a code
            if m.group(0) == "{{" or (m.group(1) and m.group(1) in MARKUP_CODES):
                continue
            self.add(file, id_, f"{what}: bad colour markup {m.group(0)!r} "
                                "(use {r} {g} {y} {b} {m} {c} {w}, uppercase for bright, "
                                "{x} to reset, {{ for a literal brace)")


def _yaml_files(root: Path) -> Iterator[Path]:
    """Every YAML file, top-level files first, then each folder in name order."""
    files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    yield from sorted(files, key=lambda p: (len(p.relative_to(root).parts), p.parts))


def _read_yaml(chk: _Checker, path: Path, rel: str) -> tuple[bool, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        chk.add(rel, "", f"cannot read file: {exc}")
        return False, None
    try:
        return True, yaml.load(text, Loader=_YamlLoader)  # a safe loader, see above
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        chk.add(rel, "", f"YAML syntax error at {where}: {what}")
    except yaml.YAMLError as exc:
        chk.add(rel, "", f"YAML error: {exc}")
    return False, None


@dataclass
class _RoomDef:
    spec: RoomSpec
    file: str
    zone: str


@dataclass
class _DoorDef:
    spec: DoorSpec
    file: str


@dataclass
class _ItemDef:
    spec: ItemSpec
    file: str


def _item_id(item: Any, key: str, index: int, what: str) -> str:
    if isinstance(item, dict) and isinstance(item.get(key), str) and item[key]:
        return item[key]
    return f"{what}[{index}]"


def _first_file(defs: dict[str, str], id_: str, file: str) -> str | None:
    """Record where ``id_`` was defined; return the earlier file when it is a duplicate."""
    if id_ in defs:
        return defs[id_]
    defs[id_] = file
    return None


def _listed(chk: _Checker, rel: str, kind: str, data: Any, spec: type[_Listed], key: str,
            what: str, seen: dict[str, str], shape: str) -> Iterator[_Listed]:
    """The entries of a list (a file of help pages, item prototypes or NPCs; a zone's rooms
    or doors) of ``spec``, named by its field ``key``, that are well formed and not defined
    before (``seen``); each problem is noted in ``chk`` (``shape``: what the file should look
    like when it is not a list)."""
    if data is None:
        return
    if not isinstance(data, list):
        chk.add(rel, "", shape)
        return
    for i, item in enumerate(data):
        try:
            entry = spec.model_validate(item)
        except ValidationError as exc:
            chk.validation_problems(rel, _item_id(item, key, i, kind), exc)
            continue
        ident = getattr(entry, key)
        chk.check_id(rel, ident, what)
        if (first := _first_file(seen, ident, rel)) is not None:
            chk.add(rel, ident, f"duplicate {what} id (first in {first})")
            continue
        yield entry


def check_world(path: Path) -> tuple[World | None, list[Problem]]:
    """Read and check every world file under ``path``.

    Returns the world and an empty list, or ``None`` and every problem found.
    """
    root = Path(path)
    chk = _Checker(root)
    if not root.is_dir():
        chk.add(str(root), "", "world directory not found")
        return None, chk.problems

    world_spec: WorldSpec | None = None
    world_file_seen = False
    world_rel = "world.yaml"
    zones: dict[str, tuple[ZoneSpec, str]] = {}
    rooms: dict[str, _RoomDef] = {}
    doors: dict[str, _DoorDef] = {}
    help_pages: dict[str, tuple[HelpSpec, str]] = {}
    protos: dict[str, _ItemDef] = {}
    npcs: dict[str, tuple[NpcSpec, str]] = {}
    seen_npc: dict[str, str] = {}
    seen_item: dict[str, str] = {}
    seen_zone: dict[str, str] = {}
    seen_room: dict[str, str] = {}
    seen_door: dict[str, str] = {}
    seen_help: dict[str, str] = {}

    for file in _yaml_files(root):
        rel = file.relative_to(root).as_posix()
        parts = file.relative_to(root).parts
        if rel in ("world.yaml", "world.yml"):
            kind = "world"
            world_rel = rel
        elif rel in ("help.yaml", "help.yml") or (len(parts) > 1 and parts[0] == "help"):
            kind = "help"
        elif rel in ("items.yaml", "items.yml") or (len(parts) > 1 and parts[0] == "items"):
            kind = "items"
        elif rel in ("npcs.yaml", "npcs.yml") or (len(parts) > 1 and parts[0] == "npcs"):
            kind = "npcs"
        elif len(parts) > 1 and parts[0] == "zones":
            kind = "zone"
        else:
            chk.add(rel, "", "not a known world file: expected world.yaml, help.yaml, "
                             "help/*.yaml, items.yaml, items/*.yaml, npcs.yaml, "
                             "npcs/*.yaml or zones/*.yaml")
            continue
        ok, data = _read_yaml(chk, file, rel)
        if not ok:
            if kind == "world":
                world_file_seen = True
            continue

        if kind == "world":
            world_file_seen = True
            try:
                world_spec = WorldSpec.model_validate(data if data is not None else {})
            except ValidationError as exc:
                chk.validation_problems(rel, "", exc)
                continue
            chk.markup(rel, "", world_spec.motd, "motd")

        elif kind == "help":
            for page in _listed(chk, rel, kind, data, HelpSpec, "topic", "help topic",
                                seen_help, "a help file is a list of pages: "
                                "- {topic, title, keywords, body}"):
                chk.markup(rel, page.topic, page.title, "title")
                chk.markup(rel, page.topic, page.body, "body")
                help_pages[page.topic] = (page, rel)

        elif kind == "items":
            for ispec in _listed(chk, rel, kind, data, ItemSpec, "id", "item prototype",
                                 seen_item, "an items file is a list of prototypes: "
                                 "- {id, name, keywords, long, description, ...}"):
                protos[ispec.id] = _ItemDef(ispec, rel)

        elif kind == "npcs":
            for nspec in _listed(chk, rel, kind, data, NpcSpec, "id", "NPC", seen_npc,
                                 "an npcs file is a list of NPC definitions: "
                                 "- {id, name, keywords, long, description, kind, home, ...}"):
                npcs[nspec.id] = (nspec, rel)

        else:  # zone
            if not isinstance(data, dict):
                chk.add(rel, "", "a zone file is a mapping with zone, name, rooms and doors")
                continue
            zid = data.get("zone") if isinstance(data.get("zone"), str) else ""
            try:
                zspec = ZoneSpec.model_validate(data)
            except ValidationError as exc:
                chk.validation_problems(rel, zid, exc)
                continue
            chk.check_id(rel, zspec.zone, "zone")
            if (first := _first_file(seen_zone, zspec.zone, rel)) is not None:
                chk.add(rel, zspec.zone, f"duplicate zone id (first in {first})")
                continue
            zones[zspec.zone] = (zspec, rel)
            for rspec in _listed(chk, rel, "rooms", zspec.rooms, RoomSpec, "id", "room",
                                 seen_room, ""):
                rooms[rspec.id] = _RoomDef(rspec, rel, zspec.zone)
            for dspec in _listed(chk, rel, "doors", zspec.doors, DoorSpec, "id", "door",
                                 seen_door, ""):
                if dspec.key is not None:
                    chk.check_id(rel, dspec.id, "key item", dspec.key)
                doors[dspec.id] = _DoorDef(dspec, rel)

    if not world_file_seen:
        chk.add("world.yaml", "", "missing: it names the start, respawn and limbo rooms")
    if world_spec is None:
        world_spec = WorldSpec()
    else:
        for key in ("start_room", "respawn_room", "limbo_room"):
            rid = getattr(world_spec, key)
            if rid not in rooms:
                chk.add(world_rel, key, f"{key} {rid!r} is not a room")

    _check_rooms(chk, rooms, doors)
    _check_doors(chk, rooms, doors)
    _check_items(chk, protos)
    _check_item_uses(chk, protos, rooms, doors)
    _check_npcs(chk, npcs, protos, rooms)

    if chk.problems:
        return None, chk.problems
    world = _build(world_spec, zones, rooms, doors, help_pages)
    _build_items(world, protos, rooms)
    _build_npcs(world, npcs, rooms)
    return world, []


def load_world(path: Path) -> World:
    """Load the world under ``path``; raise :class:`WorldError` listing every problem."""
    world, problems = check_world(path)
    if problems or world is None:
        raise WorldError(problems)
    return world


# --------------------------------------------------------------------------------------------
# Whole-world checks


def _check_rooms(chk: _Checker, rooms: dict[str, _RoomDef], doors: dict[str, _DoorDef]) -> None:
    env_list = ", ".join(sorted(ENVIRONMENTS))
    coords_seen: dict[tuple[str, int, int, int], str] = {}
    for rid, rd in rooms.items():
        spec, file = rd.spec, rd.file
        if spec.environment not in ENVIRONMENTS:
            chk.add(file, rid, f"unknown environment {spec.environment!r} (one of: {env_list})")
        c = _coords(spec)
        key = (rd.zone, c.x, c.y, c.z)
        if (other := coords_seen.get(key)) is not None:
            chk.add(file, rid, f"coords [{c.x}, {c.y}, {c.z}] already used by room {other} "
                               f"of zone {rd.zone}")
        else:
            coords_seen[key] = rid
        for flag in spec.flags:
            if not ID_RE.match(flag):
                chk.add(file, rid, f"bad flag {flag!r}: use lowercase a-z, 0-9 and _")
        for direction, ex in spec.exits.items():
            if direction not in STEP:
                hint = _direction_hint(direction)
                chk.add(file, rid, f"unknown direction {direction!r}{hint}")
                continue
            label = f"exit {direction}"
            if ex.door is not None and ex.door not in doors:
                chk.add(file, rid, f"{label}: unknown door {ex.door!r}")
            target = rooms.get(ex.to)
            if target is None:
                chk.add(file, rid, f"{label}: no room {ex.to!r}")
                continue
            if target.zone == rd.zone:
                tc = _coords(target.spec)
                dx, dy, dz = STEP[direction]
                if (tc.x - c.x, tc.y - c.y, tc.z - c.z) != (dx, dy, dz):
                    chk.add(file, rid, f"{label} to {ex.to}: its coords [{tc.x}, {tc.y}, {tc.z}] "
                                       f"are not one step {direction} of "
                                       f"[{c.x}, {c.y}, {c.z}]")
            if ex.one_way:
                continue
            back_dir = OPPOSITE[direction]
            back = target.spec.exits.get(back_dir)
            if back is None:
                chk.add(file, rid, f"{label} to {ex.to}: no exit {back_dir} back from {ex.to} "
                                   "(add it, or mark this exit one_way: true)")
            elif back.to != rid:
                chk.add(file, rid, f"{label} to {ex.to}: the exit {back_dir} from {ex.to} "
                                   f"leads to {back.to}, not back here "
                                   "(fix it, or mark this exit one_way: true)")


def _direction_hint(word: str) -> str:
    full = normalize_direction(word)
    if full is not None and full != word:
        return f" (write it in full: {full})"
    return f" (one of: {', '.join(DIRECTIONS)})"


def _check_doors(chk: _Checker, rooms: dict[str, _RoomDef], doors: dict[str, _DoorDef]) -> None:
    users: dict[str, list[tuple[str, str, ExitSpec]]] = {did: [] for did in doors}
    for rid, rd in rooms.items():
        for direction, ex in rd.spec.exits.items():
            if ex.door is not None and ex.door in users and direction in STEP:
                users[ex.door].append((rid, direction, ex))
    for did, dd in doors.items():
        used = users[did]
        names = ", ".join(f"{r} {d}" for r, d, _ in used)
        if not used:
            chk.add(dd.file, did, "door is not used by any exit")
        elif len(used) == 1:
            rid, direction, ex = used[0]
            if not ex.one_way:
                chk.add(dd.file, did, f"door is used only by the exit {direction} of {rid}; "
                                      f"the exit {OPPOSITE[direction]} of {ex.to} must use it "
                                      "too")
        elif len(used) == 2:
            (r1, d1, e1), (r2, d2, e2) = used
            if not (e1.to == r2 and e2.to == r1 and OPPOSITE[d1] == d2):
                chk.add(dd.file, did, f"door is used by exits that are not the two sides of "
                                      f"one passage: {names}")
        else:
            chk.add(dd.file, did, f"door is used by {len(used)} exits ({names}); a door joins "
                                  "exactly two exits, one each way")


def _check_items(chk: _Checker, protos: dict[str, _ItemDef]) -> None:
    types = ", ".join(sorted(ITEM_TYPES))
    for iid, d in protos.items():
        s, file = d.spec, d.file
        if s.type not in ITEM_TYPES:
            chk.add(file, iid, f"unknown item type {s.type!r} (one of: {types})")
        for flag in s.flags:
            if flag not in ITEM_FLAGS:
                chk.add(file, iid, f"unknown item flag {flag!r} "
                                   f"(one of: {', '.join(sorted(ITEM_FLAGS))})")
        for slot in s.wear:
            if slot not in WEAR_SLOTS:
                chk.add(file, iid, f"unknown wear slot {slot!r} (one of: {', '.join(WEAR_SLOTS)})")
        if len(set(s.wear)) != len(s.wear):
            chk.add(file, iid, "a wear slot is named twice")
        if not all(k.strip() for k in s.keywords):
            chk.add(file, iid, "empty keyword")
        if s.stack and s.container is not None:
            chk.add(file, iid, "a stacking item cannot be a container")
        if s.stack and s.wear:
            chk.add(file, iid, "a stacking item cannot be worn")
        if s.stack and not s.plural:
            chk.add(file, iid, "a stacking item needs a plural (e.g. plural: coins)")
        if s.type == "container" and s.container is None:
            chk.add(file, iid, "type container needs a container: {slots, weight} block")
        c = s.container
        if c is not None:
            if c.key is not None and c.key not in protos:
                chk.add(file, iid, f"container key: no item prototype {c.key!r}")
            if c.state == "locked" and c.key is None:
                chk.add(file, iid, "a locked container needs a key")
            if c.state != "open" and not c.closable:
                chk.add(file, iid, "a container that cannot close must start open")


def _check_item_uses(chk: _Checker, protos: dict[str, _ItemDef], rooms: dict[str, _RoomDef],
                     doors: dict[str, _DoorDef]) -> None:
    """Doors' keys, room items and shops name prototypes that exist, and fit."""
    for did, dd in doors.items():
        if dd.spec.key is not None and dd.spec.key not in protos:
            chk.add(dd.file, did, f"key: no item prototype {dd.spec.key!r} (define it in "
                                  "items.yaml)")
    seen: dict[str, str] = {}
    for rid, rd in rooms.items():
        file = rd.file
        for p in rd.spec.items:
            label = f"item {p.id}"
            chk.check_id(file, rid, "placement", p.id)
            if (first := _first_file(seen, p.id, file)) is not None:
                chk.add(file, rid, f"{label}: duplicate item placement id (first in {first})")
            d = protos.get(p.proto)
            if d is None:
                chk.add(file, rid, f"{label}: no item prototype {p.proto!r}")
                continue
            spec = d.spec
            if p.quantity > 1 and not spec.stack:
                chk.add(file, rid, f"{label}: quantity {p.quantity} of {p.proto}, which "
                                   "does not stack (place it more than once instead)")
            c = spec.container
            if c is None:
                if p.contents or p.state is not None:
                    chk.add(file, rid, f"{label}: {p.proto} is not a container "
                                       "(no contents or state)")
                continue
            if p.state == "locked" and c.key is None:
                chk.add(file, rid, f"{label}: locked, but {p.proto} has no key")
            if p.state not in (None, "open") and not c.closable:
                chk.add(file, rid, f"{label}: {p.proto} cannot be closed")
            weight = 0.0
            for cs in p.contents:
                inner = protos.get(cs.proto)
                if inner is None:
                    chk.add(file, rid, f"{label}: contents: no item prototype {cs.proto!r}")
                    continue
                if cs.quantity > 1 and not inner.spec.stack:
                    chk.add(file, rid, f"{label}: contents: quantity {cs.quantity} of "
                                       f"{cs.proto}, which does not stack")
                if inner.spec.container is not None:
                    chk.add(file, rid, f"{label}: contents: {cs.proto} is a container; "
                                       "room containers hold plain things")
                weight += inner.spec.weight * cs.quantity
            if len(p.contents) > c.slots:
                chk.add(file, rid, f"{label}: {len(p.contents)} things, but {p.proto} holds "
                                   f"{c.slots}")
            if weight > c.weight:
                chk.add(file, rid, f"{label}: contents weigh {weight:g} lb, but {p.proto} "
                                   f"holds {c.weight:g} lb")
        shop = rd.spec.shop
        if shop is not None:
            if MONEY_PROTO not in protos:
                chk.add(file, rid, f"shop: there is no money (define the item prototype "
                                   f"{MONEY_PROTO!r})")
            for t in shop.buys:
                if t not in ITEM_TYPES:
                    chk.add(file, rid, f"shop buys: unknown item type {t!r}")
            if not shop.stock:
                chk.add(file, rid, "shop: stock is empty")
            stocked: set[str] = set()
            for st in shop.stock:
                if st.proto not in protos:
                    chk.add(file, rid, f"shop stock: no item prototype {st.proto!r}")
                elif st.proto in stocked:
                    chk.add(file, rid, f"shop stock: {st.proto} is listed twice")
                stocked.add(st.proto)


# --------------------------------------------------------------------------------------------
# Building


def _coords(spec: RoomSpec) -> Coords:
    c = spec.coords
    return Coords(c[0], c[1], c[2] if len(c) > 2 else 0)


def _text(s: str) -> str:
    """Folded YAML text ends with a newline; keep the inside as written."""
    return s.strip()


def _build(world_spec: WorldSpec, zones: dict[str, tuple[ZoneSpec, str]],
           rooms: dict[str, _RoomDef], doors: dict[str, _DoorDef],
           help_pages: dict[str, tuple[HelpSpec, str]]) -> World:
    world = World(motd=world_spec.motd.rstrip(), start_room=world_spec.start_room,
                  respawn_room=world_spec.respawn_room, limbo_room=world_spec.limbo_room)
    for zid, (zs, _file) in zones.items():
        drain = ({"day": zs.lucidity_drain.day, "night": zs.lucidity_drain.night}
                 if zs.lucidity_drain is not None else None)
        world.zones[zid] = Zone(id=zid, name=zs.name, description=_text(zs.description),
                                lucidity_drain=drain)
    for did, dd in doors.items():
        s = dd.spec
        world.doors[did] = Door(id=did, name=s.name, state=DoorState(s.state), key=s.key)
    for rid, rd in rooms.items():
        s = rd.spec
        zone = world.zones[rd.zone]
        room = Room(id=rid, name=s.name, description=_text(s.description), zone=zone,
                    area=s.area or zone.name, environment=s.environment, coords=_coords(s),
                    outdoors=s.outdoors, flags=frozenset(s.flags))
        for direction in DIRECTIONS:  # canonical order
            ex = s.exits.get(direction)
            if ex is None:
                continue
            room.exits[direction] = Exit(
                direction=direction, to=ex.to,
                door=world.doors[ex.door] if ex.door is not None else None,
                hidden=ex.hidden, description=_text(ex.description))
        world.rooms[rid] = room
        zone.rooms.append(room)
    for topic, (hs, _file) in help_pages.items():
        world.help_pages[topic] = HelpPage(
            topic=topic, title=hs.title, body=hs.body.rstrip(),
            keywords=tuple(k.strip().lower() for k in hs.keywords if k.strip()))
    return world


def _build_items(world: World, protos: dict[str, _ItemDef], rooms: dict[str, _RoomDef]) -> None:
    for iid, d in protos.items():
        s = d.spec
        c = s.container
        world.protos[iid] = ItemProto(
            id=iid, name=s.name.strip(), keywords=tuple(k.strip().lower() for k in s.keywords),
            long=_text(s.long), description=_text(s.description), type=s.type,
            weight=float(s.weight), value=s.value, flags=frozenset(s.flags), wear=tuple(s.wear),
            stack=s.stack, plural=s.plural.strip(),
            container=None if c is None else ContainerProto(
                slots=c.slots, weight=float(c.weight), closable=c.closable,
                state=ContainerState(c.state), key=c.key))
    for rid, rd in rooms.items():
        for p in rd.spec.items:
            world.placements.append(Placement(
                id=p.id, room=rid, proto=p.proto, quantity=p.quantity,
                state=ContainerState(p.state) if p.state is not None else None,
                refill=p.refill,
                contents=tuple(ContentSpec(cs.proto, cs.quantity) for cs in p.contents)))
        shop = rd.spec.shop
        if shop is not None:
            world.shops[rid] = Shop(
                room=rid, keeper=shop.keeper.strip(), buys=frozenset(shop.buys),
                sell_ratio=shop.sell_ratio,
                stock=[new_stock(StockSpec(st.proto, st.price, st.quantity, st.restock),
                                 world.protos[st.proto]) for st in shop.stock])


def _check_npcs(chk: _Checker, npcs: dict[str, tuple[NpcSpec, str]],
                protos: dict[str, _ItemDef], rooms: dict[str, _RoomDef]) -> None:
    from mythos.world.npcs import STATS

    corpse = protos.get("corpse")
    if npcs and (corpse is None or corpse.spec.container is None):
        chk.add("items.yaml", "corpse", "NPCs need a 'corpse' item prototype that is a "
                                        "container: every death leaves one")
    for nid, (n, file) in npcs.items():
        if n.home not in rooms:
            chk.add(file, nid, f"home room {n.home!r} is not a room")
        elif n.area is not None:
            areas = {rd.spec.area or rd.zone for rd in rooms.values()}
            if n.area not in areas:
                chk.add(file, nid, f"area {n.area!r} is no room's area")
        for loot in n.loot:
            if loot.proto not in protos:
                chk.add(file, nid, f"loot names an unknown item prototype {loot.proto!r}")
        for stat in n.stats:
            if stat not in STATS:
                chk.add(file, nid, f"unknown stat {stat!r} (one of {', '.join(STATS)})")
        if n.shop and (n.home not in rooms or rooms[n.home].spec.shop is None):
            chk.add(file, nid, "shop: true, but its home room has no shop")
        if n.shop and n.kind != "shopkeeper":
            chk.add(file, nid, "only a shopkeeper keeps a shop")
        for text, what in ((n.greeting, "greeting"), *((e, "emote") for e in n.emotes)):
            chk.markup(file, nid, text, what)


def _build_npcs(world: World, npcs: dict[str, tuple[NpcSpec, str]],
                rooms: dict[str, _RoomDef]) -> None:
    from mythos.world.npcs import LootSpec, NpcProto

    for nid, (n, file) in npcs.items():
        home = world.rooms[n.home]
        proto = NpcProto(
            id=nid, name=n.name.strip(), keywords=tuple(k.strip().lower() for k in n.keywords),
            long=_text(n.long), description=_text(n.description), kind=n.kind, level=n.level,
            hp=n.hp, stats=dict(n.stats), damage=n.damage, armour=n.armour, xp=n.xp,
            horror=n.horror, home=n.home, area=n.area or home.area, wander=n.wander,
            required=n.required, chance=n.chance, max_population=n.max_population,
            emotes=tuple(_text(e) for e in n.emotes), greeting=_text(n.greeting),
            loot=tuple(LootSpec(lt.proto, lt.quantity, lt.chance) for lt in n.loot),
            respawn=n.respawn, file=file)
        world.npc_protos[nid] = proto
        if n.shop:
            world.shops[n.home].keeper_npc = proto
