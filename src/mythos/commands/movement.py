"""Walking, and the doors in the way."""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.engine import gmcp
from mythos.engine.itemviews import find_container
from mythos.rules import items as item_rules
from mythos.rules import movement
from mythos.world.items import Item
from mythos.world.model import DIRECTIONS, OPPOSITE, Exit, Posture


def walk(ctx: Ctx, direction: str) -> None:
    if ctx.game.npcs.in_fight(ctx.char) and movement.normalize_direction(direction):
        ctx.send("You are fighting for your life! Type 'flee' to run.")
        return
    move = movement.try_move(ctx.game.world, ctx.char, direction)
    if not move.ok:
        ctx.send(move.message)
        return
    assert move.origin is not None and move.target is not None and move.exit is not None
    game, char = ctx.game, ctx.char
    char.pose = ""  # a pose is where you stood
    d = move.exit.direction
    game.to_room(move.origin, f"{char.name} leaves {d}.")
    game.oob_room(move.origin, "Room.RemovePlayer", char.name)
    came_from = OPPOSITE[d]
    arrival = ("arrives from above." if came_from == "up" else
               "arrives from below." if came_from == "down" else
               f"arrives from the {came_from}.")
    game.to_room(move.target, f"{char.name} {arrival}", exclude=(char,))
    game.oob_room(move.target, "Room.AddPlayer", gmcp.player_entry(char), exclude=(char,))
    game.changed(char)
    game.show_room(ctx.session)
    game.send_state(ctx.session, walked=True)
    game.npcs.player_arrived(char, move.target)


def _direction_command(direction: str, short: str) -> None:
    def go_dir(ctx: Ctx, args: str) -> None:
        walk(ctx, direction)

    go_dir.__doc__ = f"""{direction}

    Walk {direction}. Type '{short}' for short."""
    command(direction, short, category="movement", min_posture=Posture.STANDING)(go_dir)


for _d in DIRECTIONS:
    _direction_command(_d, {"northeast": "ne", "northwest": "nw", "southeast": "se",
                            "southwest": "sw"}.get(_d, _d[0]))


@command("go", category="movement", min_posture=Posture.STANDING)
def go(ctx: Ctx, args: str) -> None:
    """go <direction>

    Walk in a direction: 'go north' is the same as 'north' or 'n'."""
    if not args:
        ctx.send("Go where?")
        return
    walk(ctx, args.split()[0])


def _door_word(args: str) -> str:
    return args.split()[-1] if args.split()[0] in ("the", "a") else args


def _door_exit(ctx: Ctx, args: str, verb: str) -> Exit | None:
    if not args:
        ctx.send(f"{verb.capitalize()} what?")
        return None
    ex = movement.find_door(ctx.room, _door_word(args))
    if ex is None:
        ctx.send("You see no door like that here.")
    return ex


def _container(ctx: Ctx, args: str) -> Item | None:
    """A container named by ``args`` (carried, worn or in the room) when no door is."""
    if not args.strip() or movement.find_door(ctx.room, _door_word(args)) is not None:
        return None
    item = find_container(ctx.char, ctx.room, args)
    return item if item is not None and item.is_container else None


def _container_change(ctx: Ctx, item: Item, result: item_rules.Change, verb: str) -> None:
    ctx.send(result.message)
    if result.ok:
        ctx.game.to_room(ctx.room, f"{ctx.char.name} {verb} {item.name}.", exclude=(ctx.char,))


def _door_change(ctx: Ctx, ex: Exit, result: movement.DoorChange, past: str) -> None:
    ctx.send(result.message)
    if not result.ok:
        return
    game, char, door = ctx.game, ctx.char, result.door
    assert door is not None
    game.to_room(ctx.room, f"{char.name} {past} the {door.name} to the {ex.direction}.",
                 exclude=(char,))
    other = game.world.rooms[ex.to]
    back = other.exits.get(OPPOSITE[ex.direction])
    if back is not None and back.door is door:
        done = _PARTICIPLE.get(past, past)
        game.to_room(other, f"The {door.name} to the {back.direction} is {done} from the "
                            f"other side.")
        game.oob_room(other, "Room.Info", gmcp.room_info(other))
    game.oob_room(ctx.room, "Room.Info", gmcp.room_info(ctx.room))


_PARTICIPLE = {"opens": "opened", "closes": "closed", "locks": "locked",
               "unlocks": "unlocked"}


@command("open", category="movement")
def open_(ctx: Ctx, args: str) -> None:
    """open <door, direction or container>

    Open a door: 'open north', 'open door', 'open gate'; or a container: 'open desk',
    'open satchel'. A locked one needs its key unlocked first."""
    if (item := _container(ctx, args)) is not None:
        _container_change(ctx, item, item_rules.open_container(item), "opens")
        return
    ex = _door_exit(ctx, args, "open")
    if ex is not None and ex.door is not None:
        _door_change(ctx, ex, movement.open_door(ex.door), "opens")


@command("close", category="movement")
def close(ctx: Ctx, args: str) -> None:
    """close <door, direction or container>

    Close a door: 'close north', 'close door'; or a container: 'close desk'."""
    if (item := _container(ctx, args)) is not None:
        _container_change(ctx, item, item_rules.close_container(item), "closes")
        return
    ex = _door_exit(ctx, args, "close")
    if ex is not None and ex.door is not None:
        _door_change(ctx, ex, movement.close_door(ex.door), "closes")


@command("lock", category="movement")
def lock(ctx: Ctx, args: str) -> None:
    """lock <door, direction or container>

    Lock a closed door or container behind you: 'lock north', 'lock desk'. You must carry
    its key in hand or on you (not packed away in a bag)."""
    if (item := _container(ctx, args)) is not None:
        result = item_rules.lock_container(item, item_rules.has_key(ctx.char, item.key))
        _container_change(ctx, item, result, "locks")
        return
    ex = _door_exit(ctx, args, "lock")
    if ex is not None and ex.door is not None:
        has = item_rules.has_key(ctx.char, ex.door.key)
        _door_change(ctx, ex, movement.lock_door(ex.door, has), "locks")


@command("unlock", category="movement")
def unlock(ctx: Ctx, args: str) -> None:
    """unlock <door, direction or container>

    Unlock a locked door or container with its key: 'unlock north', 'unlock desk'. You must
    carry the key in hand or on you (not packed away in a bag)."""
    if (item := _container(ctx, args)) is not None:
        result = item_rules.unlock_container(item, item_rules.has_key(ctx.char, item.key))
        _container_change(ctx, item, result, "unlocks")
        return
    ex = _door_exit(ctx, args, "unlock")
    if ex is not None and ex.door is not None:
        has = item_rules.has_key(ctx.char, ex.door.key)
        _door_change(ctx, ex, movement.unlock_door(ex.door, has), "unlocks")
