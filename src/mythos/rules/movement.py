"""Moving between rooms and working doors: checks and outcomes, no IO and no messages sent."""

from __future__ import annotations

from dataclasses import dataclass

from mythos.world.model import (
    Character,
    Door,
    DoorState,
    Exit,
    Posture,
    Room,
    World,
    normalize_direction,
)

NEED_STAND = "You need to stand up first."


@dataclass(frozen=True)
class Move:
    ok: bool
    message: str = ""
    exit: Exit | None = None
    origin: Room | None = None
    target: Room | None = None


def try_move(world: World, char: Character, direction: str) -> Move:
    """Check a move and, when it is allowed, carry it out in the world model."""
    d = normalize_direction(direction)
    here = world.rooms[char.room_id]
    if d is None or d not in here.exits:
        return Move(False, "You can't go that way.")
    ex = here.exits[d]
    if char.posture is not Posture.STANDING:
        return Move(False, NEED_STAND)
    if not ex.passable:
        assert ex.door is not None
        return Move(False, f"The {ex.door.name} is closed.")
    target = world.rooms[ex.to]
    place(world, char, target)
    return Move(True, exit=ex, origin=here, target=target)


def place(world: World, char: Character, target: Room) -> None:
    """Put a character in a room, taking it out of the one it was in."""
    here = world.rooms.get(char.room_id)
    if here is not None and char in here.characters:
        here.characters.remove(char)
    char.room_id = target.id
    if char not in target.characters:
        target.characters.append(char)


def remove(world: World, char: Character) -> None:
    here = world.rooms.get(char.room_id)
    if here is not None and char in here.characters:
        here.characters.remove(char)


def find_door(room: Room, word: str) -> Exit | None:
    """The exit with a door named by direction ('north', 'n') or by the door's name."""
    d = normalize_direction(word)
    if d is not None:
        ex = room.exits.get(d)
        return ex if ex is not None and ex.door is not None else None
    w = word.lower().strip()
    for ex in room.exits.values():
        if ex.door is not None and not ex.hidden and w and (
                w == "door" or w in ex.door.name.lower().split() or w == ex.door.name.lower()):
            return ex
    return None


@dataclass(frozen=True)
class DoorChange:
    ok: bool
    message: str
    door: Door | None = None


def open_door(door: Door) -> DoorChange:
    if door.state is DoorState.OPEN:
        return DoorChange(False, f"The {door.name} is already open.")
    if door.state is DoorState.LOCKED:
        return DoorChange(False, f"The {door.name} is locked.")
    door.state = DoorState.OPEN
    return DoorChange(True, f"You open the {door.name}.", door)


def close_door(door: Door) -> DoorChange:
    if door.state is not DoorState.OPEN:
        return DoorChange(False, f"The {door.name} is already closed.")
    door.state = DoorState.CLOSED
    return DoorChange(True, f"You close the {door.name}.", door)


def lock_door(door: Door, has_key: bool) -> DoorChange:
    """Lock a closed door; the character must carry its key (``has_key``)."""
    if door.key is None:
        return DoorChange(False, f"The {door.name} has no lock.")
    if door.state is DoorState.LOCKED:
        return DoorChange(False, f"The {door.name} is already locked.")
    if door.state is DoorState.OPEN:
        return DoorChange(False, f"You need to close the {door.name} first.")
    if not has_key:
        return DoorChange(False, "You don't have the key.")
    door.state = DoorState.LOCKED
    return DoorChange(True, f"You lock the {door.name}.", door)


def unlock_door(door: Door, has_key: bool) -> DoorChange:
    """Unlock a locked door (it stays closed); the character must carry its key."""
    if door.key is None:
        return DoorChange(False, f"The {door.name} has no lock.")
    if door.state is not DoorState.LOCKED:
        return DoorChange(False, f"The {door.name} is not locked.")
    if not has_key:
        return DoorChange(False, "You don't have the key.")
    door.state = DoorState.CLOSED
    return DoorChange(True, f"You unlock the {door.name}.", door)
