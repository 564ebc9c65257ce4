"""Sitting, standing and lying down."""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.rules import posture
from mythos.world.model import Posture


def _change(ctx: Ctx, to: Posture) -> None:
    result = posture.change(ctx.char, to)
    ctx.send(result.to_self)
    if result.ok:
        if result.to_room:
            ctx.game.to_room(ctx.room, result.to_room.format(name=ctx.char.name),
                             exclude=(ctx.char,))
        ctx.game.changed(ctx.char, status=True)


@command("stand", category="posture")
def stand(ctx: Ctx, args: str) -> None:
    """stand

    Get to your feet. You must stand to walk."""
    _change(ctx, Posture.STANDING)


@command("sit", category="posture")
def sit(ctx: Ctx, args: str) -> None:
    """sit

    Sit down. You recover faster sitting (x1.5) than standing."""
    _change(ctx, Posture.SITTING)


@command("lie", "rest", category="posture")
def lie(ctx: Ctx, args: str) -> None:
    """lie

    Lie down. You recover fastest lying (x2), but you must stand to walk."""
    _change(ctx, Posture.LYING)
