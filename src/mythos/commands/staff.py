"""Running the place: staff commands. Each records the role it needs in the command table (a
player typing one gets "Huh?"), and every use is written to the audit log.

builder: goto, stat, users.   admin: the rest.
(``summon``, which makes items, lives with the item commands in ``commands/items.py``.)"""

from __future__ import annotations

import time
from datetime import datetime

from mythos.commands.table import Ctx, command
from mythos.engine import gmcp
from mythos.engine.auth import NAME_RE
from mythos.engine.login import UNREACHABLE
from mythos.rules import movement
from mythos.rules.comm import parse_minutes
from mythos.rules.lucidity import tier
from mythos.rules.staff import (
    SHUTDOWN_DEFAULT,
    SHUTDOWN_MAX,
    apply_set,
    check_set,
    settable,
)
from mythos.store import AccountRow
from mythos.text import escape, player_text, sanitize
from mythos.world.model import Character, Room, World

NOBODY = "Nobody by that name walks Arkham just now."


def find_room(world: World, word: str) -> Room | str:
    """The room ``word`` names: its id, the last part of its id, or its name (whole or a
    unique part). A message when none or several fit."""
    w = word.strip().lower()
    if w in world.rooms:
        return world.rooms[w]
    hits = [r for r in world.rooms.values() if r.name.lower() == w or r.id.endswith("." + w)]
    if not hits:
        hits = [r for r in world.rooms.values() if w and w in r.name.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        return f"There is no room '{escape(sanitize(word))}'."
    more = " ..." if len(hits) > 8 else ""
    return "Which one? " + ", ".join(r.id for r in hits[:8]) + more


def relocate(ctx: Ctx, char: Character, room: Room) -> Room:
    """Move ``char`` to ``room`` by staff magic, telling both rooms; the room it left."""
    game = ctx.game
    origin = game.room_of(char)
    game.to_room(origin, f"{char.name} vanishes into a curl of fog.", exclude=(char,))
    game.oob_room(origin, "Room.RemovePlayer", char.name, exclude=(char,))
    movement.place(game.world, char, room)
    char.pose = ""
    game.to_room(room, f"{char.name} steps out of a curl of fog.", exclude=(char,))
    game.oob_room(room, "Room.AddPlayer", gmcp.player_entry(char), exclude=(char,))
    game.changed(char)
    session = char.link
    if session is not None:
        game.show_room(session)
        game.send_state(session)
    return origin


def duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def stamp(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else "never"


# -- moving people ------------------------------------------------------------------------------

@command("goto", category="staff", role="builder")
async def goto(ctx: Ctx, args: str) -> None:
    """goto <player or room>

    Step through the fog to a player or a room (its id, like arkham.square, or its name)."""
    word = args.strip()
    if not word:
        ctx.send("Go to whom, or where?")
        return
    game, social = ctx.game, ctx.game.social
    player = game.online.get(word.lower())
    room: Room | str = game.room_of(player) if player is not None else find_room(
        game.world, word)
    if isinstance(room, str):
        player = social.find_online(word)
        if player is None:
            ctx.send(room)
            return
        room = game.room_of(player)
    if room is ctx.room:
        ctx.send("You are there already.")
        return
    origin = relocate(ctx, ctx.char, room)
    await social.audit(ctx.session, ctx.char.name, "goto", room.id, from_room=origin.id)


@command("teleport", category="staff", role="admin")
async def teleport(ctx: Ctx, args: str) -> None:
    """teleport <player> [room]

    Send an online player to a room (by id or name), or to you when no room is given."""
    words = args.split(None, 1)
    if not words:
        ctx.send("Usage: teleport <player> [room]")
        return
    game, social = ctx.game, ctx.game.social
    target = social.find_online(words[0])
    if target is None:
        ctx.send(NOBODY)
        return
    room = ctx.room if len(words) == 1 else find_room(game.world, words[1])
    if isinstance(room, str):
        ctx.send(room)
        return
    if target.room_id == room.id:
        ctx.send(f"{target.name} is there already.")
        return
    if target is not ctx.char and target.link is not None:
        target.link.write("{c}A cold hand closes on yours, and the fog carries you "
                          "elsewhere.{x}")
    origin = relocate(ctx, target, room)
    if target is not ctx.char:
        ctx.send(f"You send {target.name} to {room.name} ({room.id}).")
    await social.audit(ctx.session, ctx.char.name, "teleport", target.name, room=room.id,
                       from_room=origin.id)


# -- talking to everyone ------------------------------------------------------------------------

@command("announce", category="staff", role="admin")
async def announce(ctx: Ctx, args: str) -> None:
    """announce <text>

    Tell every investigator in Arkham. Announcements cannot be muted or turned off."""
    text = player_text(args)
    if not text:
        ctx.send("Announce what?")
        return
    social, char = ctx.game.social, ctx.char
    heard = await social.deliver("announce", char, social.reach("announce", char),
                                 f"{{Y}}[Announcement] {char.name}: {text}{{x}}")
    await social.audit(ctx.session, char.name, "announce", None, text=text, heard=heard)


@command("shutdown", category="staff", role="admin")
async def shutdown(ctx: Ctx, args: str) -> None:
    """shutdown [seconds | now | cancel]

    Close the server after a countdown (60 seconds unless you say), telling everyone as it
    runs; then every character is saved and the server stops cleanly. 'shutdown cancel' calls
    it off."""
    social = ctx.game.social
    word = args.strip().lower()
    if word == "cancel":
        if not social.cancel_shutdown():
            ctx.send("No shutdown is pending.")
            return
        social._tell_all("{G}** The shutdown is called off; Arkham stays open. **{x}")
        await social.audit(ctx.session, ctx.char.name, "shutdown_cancel")
        return
    if word in ("", "now"):
        seconds = SHUTDOWN_DEFAULT if not word else 0
    elif word.isdigit() and int(word) <= SHUTDOWN_MAX:
        seconds = int(word)
    else:
        ctx.send(f"Usage: shutdown [seconds (0 to {SHUTDOWN_MAX}) | now | cancel]")
        return
    await social.audit(ctx.session, ctx.char.name, "shutdown", None, seconds=seconds)
    social.schedule_shutdown(seconds, ctx.char.name)


@command("reload", category="staff", role="admin")
async def reload(ctx: Ctx, args: str) -> None:
    """reload

    Restart the world now: everyone is saved, the world files are read again (under
    'mythos world', the new release's code too), and everyone carries on where they were.
    Connections stay open; commands typed meanwhile wait."""
    if args.strip():
        ctx.send("Usage: reload")
        return
    game = ctx.game
    await game.social.audit(ctx.session, ctx.char.name, "reload")
    game.social.cancel_shutdown()
    game.social._tell_all(f"{{Y}}** {ctx.char.name} restarts the world: hold on, you stay "
                          "connected. **{x}")
    game.restart_requested = True
    game.stop_requested.set()


# -- keeping order ------------------------------------------------------------------------------

@command("ban", category="staff", role="admin")
async def ban(ctx: Ctx, args: str) -> None:
    """ban <account> [reason]

    Bar an account from logging in and throw out its characters now. 'unban' lifts it."""
    name, _, reason = args.strip().partition(" ")
    reason = player_text(reason)
    game = ctx.game
    account = await _account(ctx, name, "Usage: ban <account> [reason]")
    if account is None:
        return
    if account.id == ctx.char.account_id:
        ctx.send("You cannot ban yourself.")
        return
    if account.role == "admin":
        ctx.send(f"{account.name} is an admin; take the role away first "
                 f"(mythos account role {account.name} player).")
        return
    if account.banned:
        ctx.send(f"{account.name} is banned already.")
        return
    if not await game.social.save(ctx.session, game.store.set_banned(account.name, True)):
        return
    why = f" ({reason})" if reason else ""
    for char in list(game.online.values()):
        if char.account_id == account.id and char.link is not None:
            char.link.close(f"{{R}}You have been barred from Arkham{why}.{{x}}")
    ctx.send(f"{account.name} is banned{why}.")
    await game.social.audit(ctx.session, ctx.char.name, "ban", account.name, reason=reason)


@command("unban", category="staff", role="admin")
async def unban(ctx: Ctx, args: str) -> None:
    """unban <account>

    Let a banned account log in again."""
    game = ctx.game
    account = await _account(ctx, args.strip(), "Usage: unban <account>")
    if account is None:
        return
    if not account.banned:
        ctx.send(f"{account.name} is not banned.")
        return
    if not await game.social.save(ctx.session, game.store.set_banned(account.name, False)):
        return
    ctx.send(f"{account.name} may come back to Arkham.")
    await game.social.audit(ctx.session, ctx.char.name, "unban", account.name)


async def _account(ctx: Ctx, name: str, usage: str) -> AccountRow | None:
    """The account named, or None with the staff member told why (bad name, none, no database)."""
    if not NAME_RE.match(name):
        ctx.send(usage)
        return None
    try:
        account = await ctx.game.store.get_account(name)
    except Exception:
        ctx.send(UNREACHABLE)
        return None
    if account is None:
        ctx.send(f"There is no account named {name.capitalize()}.")
    return account


async def _character(ctx: Ctx, name: str) -> Character | None:
    """An online character, or one loaded from the database (None, and the staff member
    told, when there is none or the database fails)."""
    game = ctx.game
    char = game.online.get(name.lower())
    if char is not None:
        return char
    if not NAME_RE.match(name):
        ctx.send(f"There is no character named {escape(sanitize(name))}.")
        return None
    try:
        char = await game.load_character(name)
    except Exception:
        ctx.send(UNREACHABLE)
        return None
    if char is None:
        ctx.send(f"There is no character named {name.capitalize()}.")
    return char


@command("silence", category="staff", role="admin")
async def silence(ctx: Ctx, args: str) -> None:
    """silence <player> [minutes]

    Stop a player talking on every channel (whispers and emotes included) for so many minutes,
    or until 'unsilence'. Kept across logout and restarts."""
    words = args.split()
    if not words or len(words) > 2:
        ctx.send("Usage: silence <player> [minutes]")
        return
    minutes = None
    if len(words) == 2:
        minutes = parse_minutes(words[1])
        if minutes is None:
            ctx.send("Minutes are a whole number from 1 to 525600 (a year).")
            return
    social = ctx.game.social
    target = social.find_online(words[0]) or await _character(ctx, words[0])
    if target is None:
        return
    if target is ctx.char:
        ctx.send("You cannot silence yourself.")
        return
    online = target if ctx.game.online.get(target.name.lower()) is target else None
    until = await social.silence(ctx.session, target.id, online, minutes, ctx.char.name)
    if until is False:
        return
    left = social.left(until)
    if online is not None and online.link is not None:
        online.link.write(f"{{y}}The staff have silenced you {left}.{{x}}")
    ctx.send(f"{target.name} is silenced {left}.")
    await social.audit(ctx.session, ctx.char.name, "silence", target.name, minutes=minutes)


@command("unsilence", category="staff", role="admin")
async def unsilence(ctx: Ctx, args: str) -> None:
    """unsilence <player>

    Let a silenced player talk again."""
    name = args.strip()
    if not name:
        ctx.send("Usage: unsilence <player>")
        return
    social = ctx.game.social
    target = social.find_online(name) or await _character(ctx, name)
    if target is None:
        return
    online = target if ctx.game.online.get(target.name.lower()) is target else None
    if not await social.unsilence(ctx.session, target.id, online):
        return
    if online is not None and online.link is not None:
        online.link.write("{g}The staff let you speak again.{x}")
    ctx.send(f"{target.name} may speak again.")
    await social.audit(ctx.session, ctx.char.name, "unsilence", target.name)


# -- looking at people --------------------------------------------------------------------------

@command("set", category="staff", role="admin")
async def set_(ctx: Ctx, args: str) -> None:
    """set <player> <stat> <value>

    Change a character, online or not: hp, max_hp, lucidity, xp, level, posture, or one of
    strength, dexterity, constitution, intelligence, wisdom, charisma (3 to 18)."""
    words = args.split()
    if len(words) != 3:
        ctx.send(f"Usage: set <player> <stat> <value>. Stats: {', '.join(settable())}.")
        return
    game = ctx.game
    target = await _character(ctx, words[0])
    if target is None:
        return
    change = check_set(target, words[1], words[2])
    if not change.ok:
        ctx.send(change.message)
        return
    f = change.field
    old = target.stats.get(f) if change.is_stat else getattr(target, f)
    if change.is_stat:
        stats = {**target.stats, f: int(change.value)}
        if not await game.social.save(ctx.session, game.social.db.set_stats(target.id, stats)):
            return
    apply_set(target, change)
    if not change.is_stat:
        game.changed(target, vitals=f != "posture", status=f in ("posture", "level"))
    if target is not ctx.char and target.link is not None:
        target.link.write(f"{{y}}The staff set your {f} to {change.value}.{{x}}")
    ctx.send(f"{target.name}'s {f}: {old} -> {change.value}.")
    await game.social.audit(ctx.session, ctx.char.name, "set", target.name, field=f,
                            old=str(old), new=str(change.value))


@command("stat", category="staff", role="builder")
async def stat(ctx: Ctx, args: str) -> None:
    """stat [player]

    Everything about one character, online or not: account, role, where, vitals, stats,
    connection, mutes, aliases and silence."""
    game, social = ctx.game, ctx.game.social
    name = args.strip() or ctx.char.name
    target = social.find_online(name) or await _character(ctx, name)
    if target is None:
        return
    try:
        account = await social.db.account_by_id(target.account_id)
        kept = await social.db.load(target.id, social.now())
        row = await game.store.get_character_by_id(target.id)
    except Exception:
        ctx.send(UNREACHABLE)
        return
    online = game.online.get(target.name.lower()) is target
    room = game.world.rooms.get(target.room_id)
    where = f"{room.name} ({room.id}), {room.zone.name}" if room else target.room_id
    stats = ", ".join(f"{k} {v}" for k, v in target.stats.items()) or "none"
    acct = ("?" if account is None else
            f"{account.name}, role {account.role}{', BANNED' if account.banned else ''}")
    lines = [
        f"{{Y}}{target.name} the {gmcp.profession_name(target)}{{x}} (character {target.id})",
        f"  Account   {acct}",
        f"  Where     {where}",
        f"  Level {target.level}  XP {target.xp}  HP {target.hp}/{target.max_hp}  "
        f"Lucidity {target.lucidity} ({tier(target.lucidity)})  {target.posture}",
        f"  Stats     {stats}",
    ]
    session = target.link if online else None
    if session is not None:
        now = time.monotonic()
        client = session.client or session.ttype or "unknown"
        lines.append(f"  Online    from {session.peer_host} via {session.conn.kind}, "
                     f"client {escape(client)}, idle {duration(now - session.last_input)}, "
                     f"connected {duration(now - session.connected_at)}")
    else:
        lines.append(f"  Offline   last seen {stamp(row.last_seen if row else None)}")
    if target.pose:
        lines.append(f"  Pose      {target.name} {target.pose}")
    mutes = social.mutes_of(target) if online else [(m.kind, m.target, m.until)
                                                     for m in kept.mutes]
    shown = [(f"{t} (channel)" if k == "channel" else t.capitalize()) + f" {social.left(u)}"
             for k, t, u in mutes]
    lines.append("  Mutes     " + (", ".join(shown) or "none"))
    alias_count = len(target.aliases if online else kept.aliases)
    lines.append(f"  Aliases   {alias_count}")
    silenced = social.silenced(target) if online else kept.silence
    if silenced is not None:
        by = getattr(silenced, "by", None) or getattr(silenced, "by_name", "")
        lines.append(f"  Silenced  {social.left(silenced.until)} (by {by})")
    ctx.send("\n".join(lines))
    await social.audit(ctx.session, ctx.char.name, "stat", target.name)


@command("users", category="staff", role="builder")
async def users(ctx: Ctx, args: str) -> None:
    """users

    Who is connected, from where, how long idle and how long on."""
    game = ctx.game
    now = time.monotonic()
    playing = sorted((s for s in game.sessions if s.playing), key=lambda s: s.char.name)
    lines = ["{Y}Name                 Role     From             Idle    On      Client{x}"]
    for s in playing:
        c = s.char
        client = escape((s.client or s.ttype or "-")[:20])
        lines.append(f"{c.name:<20} {c.role:<8} {s.peer_host:<16} "
                     f"{duration(now - s.last_input):<7} {duration(now - s.connected_at):<7} "
                     f"{client}")
    waiting = sum(1 for s in game.sessions if not s.playing and not s.closed)
    lines.append(f"{len(playing)} playing, {waiting} at the login screen.")
    ctx.send("\n".join(lines))
    await game.social.audit(ctx.session, ctx.char.name, "users")


@command("audit", category="staff", role="admin")
async def audit(ctx: Ctx, args: str) -> None:
    """audit [count]

    The newest staff actions from the audit log (20 unless you say, at most 200)."""
    word = args.strip()
    n = int(word) if word.isdigit() else 20
    n = max(1, min(n, 200))
    try:
        rows = await ctx.game.social.db.recent_audit(n)
    except Exception:
        ctx.send(UNREACHABLE)
        return
    if not rows:
        ctx.send("The audit log is empty.")
        return
    lines = ["{Y}Audit log, newest first{x}"]
    for r in rows:
        details = ", ".join(f"{k}={v}" for k, v in (r.details or {}).items())
        lines.append(escape(f"#{r.id} {stamp(r.at)} {r.actor} {r.action}"
                            f"{' ' + r.target if r.target else ''}"
                            f"{' (' + details + ')' if details else ''}"))
    ctx.send("\n".join(lines))
