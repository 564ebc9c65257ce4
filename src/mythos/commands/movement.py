"""Walking, and the doors in the way."""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.engine import gmcp
from mythos.rules import movement
from mythos.world.model import DIRECTIONS, OPPOSITE, Exit, Posture


def walk(ctx: Ctx, direction: str) -> None:
    move = movement.try_move(ctx.game.world, ctx.char, direction)
    if not move.ok:
        ctx.send(move.message)
        return
    assert move.origin is not None and move.target is not None and move.exit is not None
    game, char = ctx.game, ctx.char
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
    game.send_state(ctx.session)


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


def _door_exit(ctx: Ctx, args: str, verb: str) -> Exit | None:
    if not args:
        ctx.send(f"{verb.capitalize()} what?")
        return None
    ex = movement.find_door(ctx.room, args.split()[-1] if args.split()[0] in ("the", "a")
                            else args)
    if ex is None:
        ctx.send("You see no door like that here.")
    return ex


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
        game.to_room(other, f"The {door.name} to the {back.direction} is {past} from the "
                            f"other side.")
        game.oob_room(other, "Room.Info", gmcp.room_info(other))
    game.oob_room(ctx.room, "Room.Info", gmcp.room_info(ctx.room))


@command("open", category="movement")
def open_(ctx: Ctx, args: str) -> None:
    """open <door or direction>

    Open a door: 'open north', 'open door', 'open gate'. A locked door needs its key."""
    ex = _door_exit(ctx, args, "open")
    if ex is not None and ex.door is not None:
        _door_change(ctx, ex, movement.open_door(ex.door), "opens")


@command("close", category="movement")
def close(ctx: Ctx, args: str) -> None:
    """close <door or direction>

    Close a door: 'close north', 'close door'."""
    ex = _door_exit(ctx, args, "close")
    if ex is not None and ex.door is not None:
        _door_change(ctx, ex, movement.close_door(ex.door), "closes")
