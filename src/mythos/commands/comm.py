"""Talking to the room: say and emote. Channels come with the communication issue."""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.text import player_text, strip_markup


def _channel_text(ctx: Ctx, channel: str, line: str) -> None:
    data = {"channel": channel, "talker": ctx.char.name, "text": strip_markup(line)}
    for s in ctx.game.sessions_in(ctx.room):
        s.oob("Comm.Channel.Text", data)


@command("say", category="communication")
def say(ctx: Ctx, args: str) -> None:
    """say <text>

    Say something to everyone in the room. A leading ' works too: 'hello there."""
    text = player_text(args)
    if not text:
        ctx.send("Say what?")
        return
    ctx.send(f"{{w}}You say, '{text}'{{x}}")
    line = f"{ctx.char.name} says, '{text}'"
    ctx.game.to_room(ctx.room, f"{{w}}{line}{{x}}", exclude=(ctx.char,))
    _channel_text(ctx, "say", line)


@command("emote", "me", category="communication")
def emote(ctx: Ctx, args: str) -> None:
    """emote <action>

    Show the room what you do: 'emote shivers.' shows 'Ashley shivers.' A leading : works
    too: ':shivers.'"""
    text = player_text(args)
    if not text:
        ctx.send("Emote what?")
        return
    line = f"{ctx.char.name} {text}"
    ctx.game.to_room(ctx.room, line)
    _channel_text(ctx, "emote", line)
