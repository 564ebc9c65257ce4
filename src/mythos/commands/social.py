"""Talking beyond the room, posing, ignoring, aliases and the message of the day.

(``say`` and ``emote`` are in comm.py. This module registers after the older families so that
abbreviations keep their meaning: 'lo' is look, 'wh' is who, 'g' is go.)"""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.engine.auth import NAME_RE
from mythos.engine.login import UNREACHABLE
from mythos.rules import aliases as alias_rules
from mythos.rules.comm import CHANNELS, POSE_MAX, find_channel, is_staff, parse_minutes
from mythos.text import escape, player_text, sanitize

REACH_WORDS = {"room": "the room", "zone": "this part of town", "world": "all Arkham",
               "private": "one person"}
NOBODY = "Nobody by that name walks Arkham just now."


# -- zone and world channels ---------------------------------------------------------------

async def _talk_wide(ctx: Ctx, channel: str, args: str, colour: str, tag: str) -> None:
    text = player_text(args)
    if not text:
        ctx.send(f"{channel.capitalize()} what?")
        return
    social, char = ctx.game.social, ctx.char
    if not social.may_talk(ctx.session, char, channel):
        return
    await social.deliver(channel, char, social.reach(channel, char),
                         f"{colour}[{tag}] {char.name}: {text}{{x}}",
                         own=f"{colour}[{tag}] You: {text}{{x}}")


@command("local", category="communication")
async def local(ctx: Ctx, args: str) -> None:
    """local <text>

    Talk to everyone in this part of town (the zone you are in: Arkham's streets, the
    university, the cemetery ...). At most 20 lines a minute."""
    await _talk_wide(ctx, "local", args, "{c}", f"Local: {ctx.room.zone.name}")


@command("global", category="communication")
async def global_(ctx: Ctx, args: str) -> None:
    """global <text>

    Talk to every investigator in Arkham. At most 10 lines a minute."""
    await _talk_wide(ctx, "global", args, "{m}", "Global")


# -- whispers ----------------------------------------------------------------------------------

@command("whisper", "tell", category="communication")
async def whisper(ctx: Ctx, args: str) -> None:
    """whisper <player> <text>

    Whisper to one investigator, wherever they are; nobody else hears. 'tell' is the same.
    They answer with 'reply'. At most 5 whispers a minute."""
    name, _, rest = args.strip().partition(" ")
    if not name:
        ctx.send("Whisper to whom?")
        return
    target = ctx.game.social.find_online(name)
    if target is None:
        ctx.send(NOBODY)
        return
    if target is ctx.char:
        ctx.send("You mutter to yourself. It does not help.")
        return
    text = player_text(rest)
    if not text:
        ctx.send(f"Whisper what to {target.name}?")
        return
    await ctx.game.social.tell(ctx.session, ctx.char, target, text)


@command("reply", category="communication")
async def reply(ctx: Ctx, args: str) -> None:
    """reply <text>

    Whisper back to whoever whispered to you last."""
    social = ctx.game.social
    name = social.state(ctx.char).reply_to
    if name is None:
        ctx.send("Nobody has whispered to you yet.")
        return
    target = ctx.game.online.get(name.lower())
    if target is None:
        ctx.send(f"{name} is no longer in Arkham.")
        return
    text = player_text(args)
    if not text:
        ctx.send(f"Reply what to {target.name}?")
        return
    await social.tell(ctx.session, ctx.char, target, text)


# -- pose --------------------------------------------------------------------------------------

@command("pose", category="communication")
async def pose(ctx: Ctx, args: str) -> None:
    """pose [description | clear]

    How others see you in the room: 'pose leans against the lamp-post, collar up.' shows
    'Ashley leans against the lamp-post, collar up.' when they look. It lasts until you move;
    'pose clear' drops it, 'pose' alone shows it."""
    char = ctx.char
    text = player_text(args)
    if not text:
        ctx.send(f"Your pose: {char.name} {char.pose}" if char.pose else
                 "You have no pose. 'pose <description>' sets one.")
        return
    if text.lower() in ("clear", "none", "off"):
        char.pose = ""
        ctx.send("You drop your pose.")
        return
    if len(text) > POSE_MAX:
        ctx.send(f"A pose may be at most {POSE_MAX} characters long.")
        return
    social = ctx.game.social
    if not social.may_talk(ctx.session, char, "pose"):
        return
    char.pose = text
    await social.deliver("pose", char, ctx.room.characters, f"{char.name} {text}")


# -- channels and mutes ------------------------------------------------------------------------

@command("channels", category="communication")
async def channels(ctx: Ctx, args: str) -> None:
    """channels [channel on|off]

    List the channels, whether you hear them and how far they reach. 'channels global off'
    stops you hearing (and talking on) global until 'channels global on'. Staff
    announcements cannot be turned off."""
    social, char = ctx.game.social, ctx.char
    words = args.lower().split()
    if not words:
        lines = ["{Y}Channels{x}"]
        muted = {t: until for k, t, until in social.mutes_of(char) if k == "channel"}
        for ch in CHANNELS.values():
            if ch.staff and not is_staff(char.role):
                state = "on"
            elif ch.name in muted:
                until = muted[ch.name]
                state = "off" + ("" if until is None else f" ({social.left(until)})")
            else:
                state = "on"
            rate = f"{ch.per_minute} lines a minute" if ch.per_minute else "staff only"
            note = "" if ch.mutable else "  (cannot be turned off)"
            lines.append(f"  {ch.name:<9} {state:<6} {REACH_WORDS[ch.reach]}, {rate}{note}")
        ctx.send("\n".join(lines))
        return
    if len(words) != 2 or not ({"on", "off"} & set(words)):
        ctx.send("Usage: channels [channel on|off]")
        return
    switch = "on" if "on" in words else "off"
    name = words[1] if words[0] == switch else words[0]
    ch = find_channel(name)
    if ch is None:
        ctx.send(f"There is no channel '{escape(name)}'. Type 'channels' for the list.")
        return
    if not ch.mutable:
        ctx.send("Staff announcements cannot be turned off.")
        return
    is_off = social.muted(char, "channel", ch.name)
    if switch == "off":
        if await social.mute(ctx.session, char, "channel", ch.name, None) is not False:
            ctx.send(f"You turn {ch.name} off.")
    elif not is_off:
        ctx.send(f"{ch.name.capitalize()} is on already.")
    elif await social.unmute(ctx.session, char, "channel", ch.name):
        ctx.send(f"You turn {ch.name} on.")


@command("mute", "ignore", category="communication")
async def mute(ctx: Ctx, args: str) -> None:
    """mute <player or channel> [minutes]

    Stop hearing a player (on every channel, whispers included) or a channel, for so many
    minutes or, without a number, until you 'unmute'. Kept across logout and restarts.
    'mutes' lists them. Staff announcements cannot be muted."""
    social, char = ctx.game.social, ctx.char
    words = args.split()
    if not words:
        await mutes(ctx, "")
        return
    if len(words) > 2:
        ctx.send("Usage: mute <player or channel> [minutes]")
        return
    minutes = None
    if len(words) == 2:
        minutes = parse_minutes(words[1])
        if minutes is None:
            ctx.send("Minutes are a whole number from 1 to 525600 (a year).")
            return
    ch = find_channel(words[0])
    if ch is not None:
        if not ch.mutable:
            ctx.send("Staff announcements cannot be muted.")
            return
        kind, target, shown = "channel", ch.name, ch.name
    else:
        who = social.find_online(words[0])
        if who is None:
            if not NAME_RE.match(words[0]):
                ctx.send(f"There is no player or channel '{escape(sanitize(words[0]))}'.")
                return
            try:
                row = await ctx.game.store.get_character(words[0])
            except Exception:
                ctx.send(UNREACHABLE)
                return
            if row is None:
                ctx.send(f"There is no player or channel '{words[0]}'.")
                return
            shown = row.name
        else:
            shown = who.name
        if shown.lower() == char.name.lower():
            ctx.send("You cannot mute yourself, however much you might like to.")
            return
        kind, target = "player", shown.lower()
    until = await social.mute(ctx.session, char, kind, target, minutes)
    if until is False:
        return
    ctx.send(f"You mute {shown} {social.left(until)}." if until is not None else
             f"You mute {shown} until you unmute {'it' if kind == 'channel' else 'them'}.")


@command("unmute", "unignore", category="communication")
async def unmute(ctx: Ctx, args: str) -> None:
    """unmute <player or channel>

    Hear a muted player or channel again."""
    social, char = ctx.game.social, ctx.char
    word = args.strip().lower()
    if not word:
        ctx.send("Unmute whom, or which channel?")
        return
    live = social.mutes_of(char)
    hits = [(k, t) for k, t, _ in live if t == word] or [
        (k, t) for k, t, _ in live if t.startswith(word)]
    if len(hits) != 1:
        ctx.send("You have not muted anyone or anything by that name." if not hits else
                 "Which one? " + ", ".join(t for _, t in hits))
        return
    kind, target = hits[0]
    if await social.unmute(ctx.session, char, kind, target):
        shown = target if kind == "channel" else target.capitalize()
        ctx.send(f"You can hear {shown} again.")


@command("mutes", "ignores", category="communication")
async def mutes(ctx: Ctx, args: str) -> None:
    """mutes

    List the players and channels you have muted, and for how long."""
    social = ctx.game.social
    live = social.mutes_of(ctx.char)
    if not live:
        ctx.send("You have muted nobody and nothing.")
        return
    lines = ["{Y}Muted{x}"]
    for kind, target, until in live:
        shown = f"{target} (channel)" if kind == "channel" else target.capitalize()
        forever = f"until you unmute {'it' if kind == 'channel' else 'them'}"
        lines.append(f"  {shown:<20} " + (forever if until is None else social.left(until)))
    ctx.send("\n".join(lines))


# -- aliases -----------------------------------------------------------------------------------

@command("alias", category="aliases")
async def alias(ctx: Ctx, args: str) -> None:
    """alias [name [command]]

    Make a word of your own for a command: 'alias gn get newspaper'. In the command, $1 to $9
    stand for the words typed after the alias and $* for all of them: 'alias ts tell $1
    psst, $2!'; an alias without any $ gets what you type after it added at the end. An alias
    may use another, up to 10 deep; loops are refused. At most 50 aliases of 500 characters.
    'alias' alone lists them, 'alias name' shows one, 'unalias name' removes one."""
    char = ctx.char
    name, _, command_text = args.strip().partition(" ")
    name = name.lower()
    if not name:
        await aliases(ctx, "")
        return
    command_text = sanitize(command_text)
    if not command_text:
        if name in char.aliases:
            ctx.send(f"{name} = {escape(char.aliases[name])}")
        else:
            ctx.send(f"You have no alias '{escape(name)}'.")
        return
    problem = alias_rules.check(char.aliases, name, command_text)
    if problem:
        ctx.send(escape(problem))
        return
    had = name in char.aliases
    if await ctx.game.social.set_alias(ctx.session, char, name, command_text):
        ctx.send(f"Alias {'changed' if had else 'made'}: {name} = {escape(command_text)}")


@command("unalias", category="aliases")
async def unalias(ctx: Ctx, args: str) -> None:
    """unalias <name>

    Remove one of your aliases."""
    name = args.strip().lower()
    if not name:
        ctx.send("Remove which alias?")
        return
    if name not in ctx.char.aliases:
        ctx.send(f"You have no alias '{escape(name)}'.")
        return
    if await ctx.game.social.remove_alias(ctx.session, ctx.char, name):
        ctx.send(f"Alias {name} removed.")


@command("aliases", category="aliases")
async def aliases(ctx: Ctx, args: str) -> None:
    """aliases

    List your aliases."""
    mine = ctx.char.aliases
    if not mine:
        ctx.send("You have no aliases. 'help alias' tells how to make one.")
        return
    lines = [f"{{Y}}Your aliases{{x}} ({len(mine)} of {alias_rules.MAX_COUNT})"]
    width = max(len(n) for n in mine)
    lines += [f"  {n:<{width}} = {escape(mine[n])}" for n in sorted(mine)]
    ctx.send("\n".join(lines))


# -- the message of the day ---------------------------------------------------------------------

@command("motd", category="information")
def motd(ctx: Ctx, args: str) -> None:
    """motd

    Show the message of the day again."""
    ctx.send(ctx.game.world.motd or "There is no message of the day.")
