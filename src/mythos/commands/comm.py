"""Talking to the room: say and emote. The other channels, pose and mutes are in social.py
(registered later, so 'lo' stays look and 'wh' stays who); who hears what is decided in
``engine/social.py``."""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.text import player_text


@command("say", category="communication")
async def say(ctx: Ctx, args: str) -> None:
    """say <text>

    Say something to everyone in the room. A leading ' works too: 'hello there."""
    text = player_text(args)
    if not text:
        ctx.send("Say what?")
        return
    social, char = ctx.game.social, ctx.char
    if not social.may_talk(ctx.session, char, "say"):
        return
    await social.deliver("say", char, ctx.room.characters,
                         f"{{w}}{char.name} says, '{text}'{{x}}",
                         own=f"{{w}}You say, '{text}'{{x}}")


@command("emote", "me", category="communication")
async def emote(ctx: Ctx, args: str) -> None:
    """emote <action>

    Show the room what you do: 'emote shivers.' shows 'Ashley shivers.' A leading : works
    too: ':shivers.'"""
    text = player_text(args)
    if not text:
        ctx.send("Emote what?")
        return
    social, char = ctx.game.social, ctx.char
    if not social.may_talk(ctx.session, char, "emote"):
        return
    await social.deliver("emote", char, ctx.room.characters, f"{char.name} {text}")
