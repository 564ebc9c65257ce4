"""Looking around and about: look, exits, who, status, help, quit."""

from __future__ import annotations

import bisect
import time

from mythos.commands.table import Ctx, command
from mythos.engine.gmcp import profession_name
from mythos.engine.itemviews import look_at
from mythos.engine.views import character_text, exit_view, exits_text, wrap
from mythos.rules.lucidity import tier
from mythos.world.model import normalize_direction


@command("look", "l", category="information")
def look(ctx: Ctx, args: str) -> None:
    """look [thing, person or direction]

    Look around the room, or at someone or something here, or along an exit: 'look north'.
    'look in <container>' shows what is inside a bag, a drawer, a chest."""
    target = args.strip().lower()
    if target.startswith("at "):
        target = target[3:].strip()
    if not target:
        ctx.game.show_room(ctx.session)
        return
    room = ctx.room
    d = normalize_direction(target)
    if d is not None:
        ex = room.exits.get(d)
        if ex is None or ex.hidden:
            ctx.send("You see nothing special in that direction.")
        else:
            ctx.send(ex.description or f"To the {d}: {exit_view(ctx.game.world, ex)}.")
        return
    for other in room.characters:
        if other.name.lower().startswith(target):
            if other is ctx.char:
                ctx.send("You look yourself over. Still here, still whole. For now.")
            else:
                ctx.send(character_text(other))
                if other.link is not None:
                    other.link.write(f"{ctx.char.name} looks at you.")
            return
    if target in ("room", "here"):
        ctx.game.show_room(ctx.session)
        return
    seen = look_at(ctx.char, room, target, ctx.session.width)  # a thing, or 'look in <bag>'
    ctx.send(seen if seen is not None else "You see nothing like that here.")


@command("exits", category="information")
def exits(ctx: Ctx, args: str) -> None:
    """exits

    List the ways out of this room and where they lead."""
    ctx.send(exits_text(ctx.game.world, ctx.room))


#: ``who`` lists at most this many investigators (by name); the rest are counted, and
#: ``who <letters>`` narrows the list to the names that begin so.
WHO_LIMIT = 100


@command("who", category="information")
def who(ctx: Ctx, args: str) -> None:
    """who [first letters of a name]

    List the investigators walking Arkham now, by name. When more are online than fit in a
    list, the first hundred are shown and the rest counted: 'who ab' lists those whose names
    begin with "ab"."""
    prefix = args.strip().lower()
    if prefix and not prefix.isalpha():
        ctx.send("Names have only letters: 'who ab' lists those whose names begin with ab.")
        return
    online = ctx.game.online
    names = ctx.game.online_names()  # by lower-case name: the keys sort as the names do
    start, end = 0, len(names)
    if prefix:
        start = bisect.bisect_left(names, prefix)
        end = bisect.bisect_left(names, prefix + "\U0010ffff", start)
    shown = names[start:min(end, start + WHO_LIMIT)]
    lines = ["{Y}Investigators in Arkham{x}"]
    for key in shown:
        c = online[key]
        lines.append(f"  [{c.level:>3}] {c.name} the {profession_name(c)}")
    found = end - start
    more = found - len(shown)
    if more:
        lines.append(f"  ... and {more:,} more ('who <first letters of a name>' narrows the "
                     "list).")
    if prefix:
        lines.append(f"{found:,} whose names begin with {prefix!r}.")
    n = len(online)
    lines.append(f"{n:,} investigator{'s' if n != 1 else ''} online.")
    ctx.send("\n".join(lines))


@command("status", "score", category="information")
def status(ctx: Ctx, args: str) -> None:
    """status

    Your health, lucidity, posture, level and experience."""
    c = ctx.char
    ctx.send("\n".join([
        f"{{Y}}{c.name} the {profession_name(c)}{{x}}",
        f"  Level {c.level}   XP {c.xp}",
        f"  Health    {c.hp}/{c.max_hp}",
        f"  Lucidity  {c.lucidity} ({tier(c.lucidity)})",
        f"  Posture   {c.posture}",
        f"  Location  {ctx.room.name}, {ctx.room.zone.name}",
        *([f"  Liabilities  {', '.join(sorted(c.mind.liabilities))}"]
          if c.mind.liabilities else []),
    ]))


@command("help", "?", category="information")
def help_(ctx: Ctx, args: str) -> None:
    """help [topic or command]

    Without a topic, list the commands and help topics. 'help look' tells about one command;
    'help newbie' is the place to start."""
    table, world = ctx.game.commands, ctx.game.world
    topic = args.strip().lower()
    if not topic:
        by_cat: dict[str, list[str]] = {}
        for cmd in table.visible(ctx.char.role):
            by_cat.setdefault(cmd.category, []).append(cmd.name)
        lines = ["{Y}Commands{x}"]
        for cat, names in by_cat.items():
            lines.append(f"  {{c}}{cat}{{x}}: " + ", ".join(names))
        if world.help_pages:
            lines.append("{Y}Topics{x}: " + ", ".join(sorted(world.help_pages)))
        lines.append("Type 'help <command or topic>' to read more. New here? 'help newbie'.")
        ctx.send("\n".join(lines))
        return
    page = world.help_pages.get(topic) or next(
        (p for p in world.help_pages.values() if topic in p.keywords), None)
    cmd = table.find(topic, ctx.char.role)
    # A command named exactly wins over a page that merely lists the word as a keyword
    # ('help north', 'help say'); a page's own topic wins over a command prefix; a command
    # and a page of the same name ('help map') are shown together.
    exact = cmd is not None and topic in (cmd.name, *cmd.aliases)
    if cmd is not None and (page is None or exact):
        words = ", ".join((cmd.name, *cmd.aliases))
        see = f"\n{{c}}See also:{{x}} help {page.topic}" if page is not None else ""
        if page is not None and page.topic == topic:  # a command and a page of one name: both
            see = f"\n{{Y}}{page.title}{{x}}\n{page.body.rstrip()}"
        ctx.send(f"{{Y}}{cmd.usage}{{x}}\n{wrap(cmd.help, ctx.session.width)}\n"
                 f"{{c}}Also typed as:{{x}} {words}{see}")
        return
    if page is not None:
        ctx.send(f"{{Y}}{page.title}{{x}}\n{page.body.rstrip()}")
        return
    ctx.send(f"There is no help on '{topic}'. Type 'help' for the list.")


@command("quit", category="information")
def quit_(ctx: Ctx, args: str) -> None:
    """quit

    Leave the game. Your character is saved where it stands. Type it in full."""
    if ctx.verb != "quit":
        ctx.send("If you want to leave, type 'quit' in full.")
        return
    minutes = int((time.monotonic() - ctx.session.connected_at) // 60)
    ctx.session.close(f"You step out of the fog and leave Arkham behind, for now. "
                      f"({minutes} minute{'s' if minutes != 1 else ''} played)")
