"""Talking, ignoring and running the place, through the front door: two and three telnet players
on a real server, mutes and aliases kept across a restart on both database backends, the staff's
commands refused to players and written to the audit log, the shutdown countdown (in-process and
as a real ``mythos serve`` process)."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from pathlib import Path

import sqlalchemy as sa

from conftest import query
from mythos.rules import aliases as alias_rules
from mythos.rules.comm import CHANNELS
from mythos.store import Store
from mythos.store.social import audit_log
from mythos.text import strip_markup
from mythos.world.model import World
from test_cli import mythos, serve, sqlite_url
from test_store import outage

from mudclient import PASSWORD, MudClient, login, staff, wait_until


def line(text: str) -> str:
    """``text`` as a whole line of output (perhaps after the last prompt)."""
    return rf"(?m)^(?:.*> )?{re.escape(text)}\r?$"


async def close_all(*clients: MudClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))


def path_to_other_zone(world: World, start: str) -> list[str]:
    """Directions through open ways from ``start`` to the nearest room of another zone."""
    zone = world.rooms[start].zone
    seen = {start}
    queue: deque[tuple[str, list[str]]] = deque([(start, [])])
    while queue:
        room_id, path = queue.popleft()
        for ex in world.rooms[room_id].visible_exits():
            if not ex.passable or ex.to in seen:
                continue
            if world.rooms[ex.to].zone is not zone:
                return [*path, ex.direction]
            seen.add(ex.to)
            queue.append((ex.to, [*path, ex.direction]))
    raise AssertionError("no other zone reachable from the start")


async def walk(c: MudClient, path: list[str]) -> None:
    for d in path:
        await c.command(d, "Exits:")


async def not_heard(c: MudClient, sentinel_from: MudClient, secret: str) -> None:
    """``c`` never got ``secret``: a global line sent after it arrives, and it did not."""
    mark = f"sentinel {id(secret) % 100000}"
    sentinel_from.send(f"global {mark}")
    await c.expect(re.escape(mark))
    assert secret not in c.text_plain


async def audit_rows(app) -> list:
    return await query(app.store, sa.select(audit_log).order_by(audit_log.c.id))


# -- channels -----------------------------------------------------------------------------------

async def test_every_channel_reaches_whom_it_should(server):
    world = server.game.world
    alice, bob, carol = [await login(server, n) for n in ("Alice", "Bobby", "Carol")]
    away = path_to_other_zone(world, world.start_room)
    await walk(carol, away)
    carol_zone = world.rooms[server.game.online["carol"].room_id].zone
    assert carol_zone is not world.rooms[world.start_room].zone

    # Comm.Channel.List came at login, with every channel a player hears.
    listed = await bob.expect_gmcp("Comm.Channel.List")
    assert [c["name"] for c in listed] == list(CHANNELS)
    assert all(c["on"] for c in listed)
    assert {c["name"]: c["command"] for c in listed}["announce"] == ""  # staff talk there

    # say: the room only, as text and GMCP.
    await alice.command("say the fog is early", "You say, 'the fog is early'")
    await bob.expect("Alice says, 'the fog is early'")
    msg = await bob.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] == "say")
    assert msg == {"channel": "say", "talker": "Alice", "text": "Alice says, 'the fog is early'"}
    own = await alice.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] == "say")
    assert own["text"] == "You say, 'the fog is early'"
    await not_heard(carol, alice, "the fog is early")

    # emote and me: the room.
    alice.send("me turns up her collar.")
    await bob.expect("Alice turns up her collar.")
    msg = await bob.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] == "emote")
    assert msg["text"] == "Alice turns up her collar."

    # local: the zone, not the other zone.
    zone_name = world.rooms[world.start_room].zone.name
    await alice.command("local anyone near the square?",
                        re.escape(f"[Local: {zone_name}] You: anyone near the square?"))
    await bob.expect(re.escape(f"[Local: {zone_name}] Alice: anyone near the square?"))
    assert (await bob.expect_gmcp("Comm.Channel.Text",
                                  where=lambda d: d["channel"] == "local"))["talker"] == "Alice"
    await not_heard(carol, alice, "anyone near the square?")

    # global: everyone.
    carol.send("global hello from afar")
    for c in (alice, bob):
        await c.expect(re.escape("[Global] Carol: hello from afar"))
    await carol.expect(re.escape("[Global] You: hello from afar"))
    msg = await alice.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] == "global"
                                  and d["talker"] == "Carol")
    assert msg["text"] == "[Global] Carol: hello from afar"

    # whisper (and tell) across zones, then reply; nobody else hears.
    await alice.command("whisper carol meet me at the bridge",
                        "You whisper to Carol, 'meet me at the bridge'")
    await carol.expect("Alice whispers to you, 'meet me at the bridge'")
    msg = await carol.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] == "whisper")
    assert msg["talker"] == "Alice"
    await carol.command("reply on my way", "You whisper to Alice, 'on my way'")
    await alice.expect("Carol whispers to you, 'on my way'")
    await bob.command("tell car psst", "You whisper to Carol, 'psst'")  # a unique prefix
    await carol.expect("Bobby whispers to you, 'psst'")
    await not_heard(bob, carol, "meet me at the bridge")
    await alice.command("reply nobody asked", "You whisper to Carol")  # Carol told Alice last
    await bob.command("tell Nobodyatall hi", "Nobody by that name walks Arkham just now.")
    await bob.command("tell bobby hi", "You mutter to yourself")
    await carol.command("reply", "Reply what to Alice?")
    await bob.command("reply", "Nobody has whispered to you yet.")
    await alice.command("global", "Global what?")

    # pose: shown with the name in the room, cleared by walking away.
    await alice.command("pose leans on the statue, watching the fog.",
                        "Alice leans on the statue, watching the fog.")
    await bob.expect("Alice leans on the statue, watching the fog.")
    await bob.command("look", r"Alice leans on the statue, watching the fog\.")
    await alice.command("pose", "Your pose: Alice leans on the statue")
    back = world.rooms[world.start_room].visible_exits()[0]
    await walk(alice, [back.direction])
    await walk(alice, [next(d for d, ex in world.rooms[back.to].exits.items()
                            if ex.to == world.start_room)])
    await bob.command("look", "Alice the journalist is standing here.")
    await alice.command("pose", "You have no pose.")
    await close_all(alice, bob, carol)


async def test_channel_rate_limits(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'rate.db'}")
    ann, ben = await login(app, "Annabel"), await login(app, "Benedict")
    for channel, verb in (("say", "say"), ("global", "global"), ("whisper", "tell Benedict")):
        limit = CHANNELS[channel].per_minute
        assert limit is not None
        for i in range(limit):
            await ann.command(f"{verb} {channel} line {i}", rf"{channel} line {i}\b")
        await ann.command(f"{verb} {channel} one too many",
                          re.escape(f"Slow down: at most {limit} lines a minute on {channel}."))
        await ben.expect(rf"{channel} line {limit - 1}\b")  # the last one allowed was heard
    await not_heard(ben, ben, "one too many")  # (her global is spent: his own line marks it)
    # Another channel, and another talker, are not held back.
    await ann.command("emote is quiet now.", "Annabel is quiet now.")
    await ben.command("say my turn", "You say, 'my turn'")
    await close_all(ann, ben)


async def test_a_rate_limit_passes_with_its_minute(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'short.db'}", minute_seconds=1)
    ann, ben = await login(app, "Annabel"), await login(app, "Benedict")
    refused = False
    for i in range(50):
        ann.send(f"tell Benedict {i}")
        m = await ann.expect(r"You whisper to Benedict, '\d+'|Slow down: at most 5 lines")
        if m.group(0).startswith("Slow down"):
            refused = True
            break
    assert refused, "whispers were never limited"
    await asyncio.sleep(1.2)  # the (shortened) minute passes
    await ann.command("tell Benedict again", "You whisper to Benedict, 'again'")
    await ben.expect("Annabel whispers to you, 'again'")
    await close_all(ann, ben)


# -- mutes --------------------------------------------------------------------------------------

async def test_mute_players_and_channels_with_expiry(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'mute.db'}", minute_seconds=2)
    alice, bob, carol = [await login(app, n) for n in ("Alice", "Bobby", "Carol")]

    # A muted player's lines never reach you: say, emote, local, global, whispers.
    await bob.command("mute alice", "You mute Alice until you unmute them.")
    alice.send("say secret one")
    await carol.expect("Alice says, 'secret one'")
    alice.send("emote secret two")
    await carol.expect("Alice secret two")
    alice.send("global secret three")
    await carol.expect(re.escape("[Global] Alice: secret three"))
    alice.send("local secret four")
    await carol.expect("Alice: secret four")
    await alice.command("tell bobby secret five", "Bobby is not listening to you.")
    await not_heard(bob, carol, "secret")
    await bob.command("mutes", r"Alice\s+until you unmute them")
    await bob.command("mute me", "There is no player or channel")
    await bob.command("mute bobby", "You cannot mute yourself")
    await bob.command("mute nosuchperson", "There is no player or channel 'nosuchperson'.")
    await bob.command("mute announce", "Staff announcements cannot be muted.")
    await bob.command("mute alice 0", "Minutes are a whole number")
    await bob.command("unmute ali", "You can hear Alice again.")
    alice.send("say audible")
    await bob.expect("Alice says, 'audible'")

    # For a while: the (shortened) minute passes and she is heard again.
    await bob.command("mute alice 1", "You mute Alice for about a minute more.")
    alice.send("say muted for now")
    await carol.expect("Alice says, 'muted for now'")
    await not_heard(bob, carol, "muted for now")
    for i in range(100):
        alice.send(f"say ping {i}")
        await carol.expect(f"Alice says, 'ping {i}'")
        if f"Alice says, 'ping {i}'" in bob.unread:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the mute never expired")
    await bob.command("mutes", "You have muted nobody and nothing.")

    # A channel, for good and for a while; 'channels' is the same switch.
    await bob.command("mute global", "You mute global until you unmute it.")
    listed = await bob.expect_gmcp("Comm.Channel.List",
                                   where=lambda d: not {c["name"]: c["on"] for c in d}["global"])
    assert {c["name"]: c["on"] for c in listed}["say"] is True
    await bob.command("channels", r"global\s+off")
    await bob.command("global can I talk?", "You have global turned off")
    carol.send("global nobody hears this")
    await alice.expect(re.escape("[Global] Carol: nobody hears this"))
    carol.send("say but this")
    await bob.expect("Carol says, 'but this'")
    assert "nobody hears this" not in bob.text_plain
    await bob.command("channels global on", "You turn global on.")
    await bob.command("channels global on", "Global is on already.")
    await bob.command("channels off local", "You turn local off.")
    await bob.command("unmute local", "You can hear local again.")
    await bob.command("channels announce off", "Staff announcements cannot be turned off.")
    await bob.command("mute global 1", "You mute global for about a minute more.")
    await bob.command("channels", r"global\s+off \(for about a minute more\)")
    await wait_until(lambda: not app.game.social.muted(app.game.online["bobby"], "channel",
                                                       "global"), timeout=10)
    carol.send("global heard again")
    await bob.expect(re.escape("[Global] Carol: heard again"))

    # A client may ask for the list.
    bob.send_gmcp("Comm.Channel.List")
    listed = await bob.expect_gmcp("Comm.Channel.List")
    assert all(c["on"] for c in listed)
    await close_all(alice, bob, carol)


async def test_mutes_aliases_and_silences_survive_restart(start_server, db_url):
    app = await start_server(db_url)
    boss = await staff(app, "Warden")
    alice, bob = await login(app, "Alice"), await login(app, "Bobby")
    await bob.command("mute alice", "You mute Alice")
    await bob.command("mute local", "You mute local")
    await bob.command("alias greet say hello $1, and welcome", "Alias made")
    await boss.command("silence alice", "Alice is silenced until lifted.")
    await alice.expect("The staff have silenced you until lifted.")
    await alice.command("say can I?", "You are silenced by the staff until lifted.")
    await close_all(boss, alice, bob)
    await app.stop()

    app = await start_server(db_url)
    bob = await login(app, "Bobby", create=False)
    alice = await login(app, "Alice", create=False)
    await alice.expect("You are silenced by the staff until lifted.")
    await bob.command("mutes", r"(?s)local \(channel\)\s+until you unmute it.*Alice")
    await bob.command("aliases", re.escape("greet = say hello $1, and welcome"))
    await bob.command("greet Alice", re.escape("You say, 'hello Alice, and welcome'"))
    await alice.expect(re.escape("Bobby says, 'hello Alice, and welcome'"))
    await alice.command("whisper bobby hear me?", "You are silenced by the staff")
    boss = await login(app, "Warden", create=False)
    await boss.command("unsilence alice", "Alice may speak again.")
    await alice.expect("The staff let you speak again.")
    await alice.command("whisper bobby now?", "Bobby is not listening to you.")
    await alice.command("say now then", "You say, 'now then'")
    await boss.expect("Alice says, 'now then'")
    await not_heard(bob, boss, "now then")
    await bob.command("unmute alice", "You can hear Alice again.")
    await bob.command("unalias greet", "Alias greet removed.")
    await close_all(boss, alice, bob)
    await app.stop()

    app = await start_server(db_url)
    bob = await login(app, "Bobby", create=False)
    await bob.command("aliases", "You have no aliases.")
    # Only the channel is left: the listing ends (the prompt follows) after it.
    await bob.command("mutes", r"Muted\r?\n\s+local \(channel\)\s+until you unmute it\r?\n\[HP")
    await bob.close()


async def test_a_change_the_database_refuses_is_not_made(start_server, db_url):
    app = await start_server(db_url, db_busy_timeout=0.3)
    alice, bob = await login(app, "Alice"), await login(app, "Bobby")
    unreachable = "The archives are unreachable just now; nothing was changed."
    async with outage(db_url):
        await bob.command("alias hi say hello", unreachable, timeout=15)
        await bob.command("mute alice", unreachable, timeout=15)
        await bob.command("channels global off", unreachable, timeout=15)
        await bob.command("aliases", "You have no aliases.")
        await bob.command("mutes", "You have muted nobody and nothing.")
        await bob.command("hi", "Huh?")
        await alice.command("global still here", re.escape("[Global] You: still here"))
        await bob.expect(re.escape("[Global] Alice: still here"))
    await bob.command("alias hi say hello", "Alias made")
    await bob.command("hi", "You say, 'hello'")
    await close_all(alice, bob)


# -- aliases ------------------------------------------------------------------------------------

async def test_aliases_with_arguments_depth_and_cycles(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'alias.db'}",
                             commands_per_second=1000, channel_rate_limits=False)
    c = await login(app, "Aliaser")
    await c.command("aliases", "You have no aliases.")
    await c.command("alias two say first $1, then $2",
                    re.escape("Alias made: two = say first $1, then $2"))
    await c.command("two bread wine", re.escape("You say, 'first bread, then wine'"))
    await c.command("two bread", re.escape("You say, 'first bread, then'"))
    await c.command("alias all say all of it: $*", "Alias made")
    await c.command("all of the words here", re.escape("You say, 'all of it: of the words here'"))
    await c.command("alias yell say", "Alias made")  # no $: what follows is added
    await c.command("yell LOUDLY now", re.escape("You say, 'LOUDLY now'"))
    await c.command("alias nest all nested", "Alias made")  # an alias using another
    await c.command("nest deeper", re.escape("You say, 'all of it: nested deeper'"))
    await c.command("alias cash say it costs $$5", "Alias made")
    await c.command("cash", re.escape("You say, 'it costs $5'"))
    await c.command("alias two say changed", "Alias changed: two = say changed")
    await c.command("alias two", re.escape("two = say changed"))
    await c.command("alias lk look", "Alias made")
    await c.command("lk", "Exits:")
    await c.command("alias qs 'quick", "Alias made")  # the ' shorthand after expansion
    await c.command("qs", re.escape("You say, 'quick'"))

    # Cycles are refused when made; a loop made through $1 is stopped when run.
    await c.command("alias ping pong", "Alias made")
    await c.command("alias pong ping", re.escape("That alias would loop: pong -> ping -> pong."))
    await c.command("alias self self", re.escape("That alias would loop: self -> self."))
    await c.command("alias echo $1 $1", "Alias made")
    await c.command("echo echo", re.escape(
        f"Your aliases go more than {alias_rules.MAX_DEPTH} deep"))
    # Depth: a chain of MAX_DEPTH aliases is fine, one more is refused.
    for i in range(1, alias_rules.MAX_DEPTH):
        await c.command(f"alias c{i} c{i + 1}", "Alias made")
    await c.command(f"alias c{alias_rules.MAX_DEPTH} say chained", "Alias made")
    await c.command("c1", re.escape("You say, 'chained'"))
    await c.command("alias c0 c1", re.escape(
        f"That alias would make a chain more than {alias_rules.MAX_DEPTH} deep"))

    # Names, length and count.
    await c.command("alias alias look", "stays what it is")
    await c.command("alias 9lives look", "An alias name is 1 to 20")
    await c.command("alias long say " + "x" * alias_rules.MAX_LENGTH,
                    f"at most {alias_rules.MAX_LENGTH} characters")
    await c.command("alias long say " + "x" * (alias_rules.MAX_LENGTH - 4), "Alias made")
    have = len(app.game.online["aliaser"].aliases)
    for i in range(have, alias_rules.MAX_COUNT):
        await c.command(f"alias fill{i} look", "Alias made")
    await c.command("alias onemore look", f"You have {alias_rules.MAX_COUNT} aliases already")
    await c.command("alias fill49 say replaced", "Alias changed")  # replacing is fine
    await c.command("aliases", rf"Your aliases \({alias_rules.MAX_COUNT} of "
                               rf"{alias_rules.MAX_COUNT}\)")
    await c.command("unalias fill49", "Alias fill49 removed.")
    await c.command("unalias fill49", "You have no alias 'fill49'.")
    await c.command("alias onemore look", "Alias made")
    await c.close()


# -- staff --------------------------------------------------------------------------------------

async def test_staff_commands_for_staff_and_huh_for_players(server):
    app = server
    table = app.game.commands
    staff_cmds = [cmd for cmd in table.commands if cmd.role != "player"]
    assert {c.name for c in staff_cmds} >= {
        "teleport", "goto", "shutdown", "announce", "ban", "unban", "set", "stat", "users",
        "silence", "unsilence", "audit"}
    player = await login(app, "Pauline")
    huh = r"(?m)^(?:.*> )?Huh\?(?: \(Did you mean '(\w+)'\?\))?\r?$"
    for cmd in staff_cmds:
        as_player = table.find(cmd.name, "player")
        if as_player is not None:  # 'stat' is a prefix of status for a player
            assert as_player.allowed("player") and as_player is not cmd
            continue
        m = await player.command(f"{cmd.name} Pauline", huh)
        suggested = m.group(1) and table.find(m.group(1), "admin")
        assert not suggested or suggested.allowed("player"), (cmd.name, m.group(0))
        await player.command(f"help {cmd.name}", f"There is no help on '{cmd.name}'")
    await player.command("help", "Commands")
    assert "teleport" not in player.unread
    builder = await staff(app, "Bertram", "builder")
    await builder.command("teleport Pauline", huh)
    await builder.command("users", r"Bertram\s+builder\s+127\.0\.0\.1")
    admin = await staff(app, "Agatha")
    world = app.game.world
    assert app.game.online["agatha"].role == "admin"

    # goto a room and a player; teleport a player to a room and to oneself.
    target = world.rooms[world.start_room].visible_exits()[0].to
    await admin.command(f"goto {target}", "Exits:")
    await admin.expect_gmcp("Room.Info", where=lambda d: d["num"] == target)
    await player.expect("Agatha vanishes into a curl of fog.")
    await builder.command("goto agatha", "Exits:")
    assert app.game.online["bertram"].room_id == target
    await admin.command("goto nowhere-at-all", "There is no room 'nowhere-at-all'.")
    await admin.command("teleport pauline", "Pauline steps out of a curl of fog.")
    await admin.expect("You send Pauline to")
    await player.expect("A cold hand closes on yours")
    await player.expect_gmcp("Room.Info", where=lambda d: d["num"] == target)
    await admin.command(f"teleport pauline {world.start_room}", "You send Pauline to")
    assert app.game.online["pauline"].room_id == world.start_room
    await admin.command("teleport nobodyhere", "Nobody by that name")

    # announce: everyone, even one who muted the admin and turned every channel off.
    await player.command("mute agatha", "You mute Agatha")
    for ch in ("global", "say", "local"):
        await player.command(f"channels {ch} off", f"You turn {ch} off.")
    await admin.command("announce The library closes early tonight.",
                        re.escape("[Announcement] Agatha: The library closes early tonight."))
    await player.expect(re.escape("[Announcement] Agatha: The library closes early tonight."))
    msg = await player.expect_gmcp("Comm.Channel.Text", where=lambda d: d["channel"] ==
                                   "announce")
    assert msg["talker"] == "Agatha"
    await builder.expect("The library closes early tonight.")

    # set and stat, online and offline.
    await admin.command("set pauline hp 7", "Pauline's hp: ")
    vitals = await player.expect_gmcp("Char.Vitals", where=lambda d: d["hp"] == 7)
    assert vitals["hp"] == 7
    await player.expect("The staff set your hp to 7.")
    await admin.command("set pauline strength 17", "Pauline's strength: ")
    await admin.command("set pauline strength 99", "strength must be between 3 and 18")
    await admin.command("set pauline luck 3", "You can set:")
    await admin.command("set pauline posture sitting", "Pauline's posture: standing -> sitting")
    await player.expect_gmcp("Char.Status", where=lambda d: d["posture"] == "sitting")
    await admin.command("stat pauline", r"(?s)Account\s+Pauline, role player.*strength 17.*"
                                        r"Online\s+from 127\.0\.0\.1.*"
                                        r"Mutes\s+global \(channel\).*Agatha")
    await admin.command("users", r"(?s)Pauline\s+player\s+127\.0\.0\.1.*3 playing, 0 at the "
                                 r"login screen")
    offline = await login(app, "Oswald")
    offline.send("quit")
    await offline.wait_closed()
    await admin.command("set oswald level 3", "Oswald's level: 1 -> 3")
    await admin.command("stat oswald", r"(?s)Level 3.*Offline\s+last seen")
    await admin.command("stat nobodyatall", "There is no character named Nobodyatall.")
    again = await login(app, "Oswald", create=False)
    assert (await again.expect_gmcp("Char.Vitals"))["level"] == 3

    # silence: no channel at all, for a while.
    await admin.command("silence oswald 5", "Oswald is silenced for 5 more minutes.")
    await again.expect("The staff have silenced you for 5 more minutes.")
    await again.command("say hello?", "You are silenced by the staff")
    await again.command("emote waves.", "You are silenced by the staff")
    await again.command("tell agatha let me speak", "You are silenced by the staff")
    await admin.command("unsilence oswald", "Oswald may speak again.")
    await again.command("emote waves.", "Oswald waves.")

    # ban: thrown out, refused at login, and back after unban.
    await admin.command("ban oswald for spamming the square", "Oswald is banned")
    await again.expect(re.escape("You have been barred from Arkham (for spamming the square)."))
    await again.wait_closed()
    assert "oswald" not in app.game.online
    await admin.command("ban oswald", "Oswald is banned already.")
    await admin.command("ban agatha", "You cannot ban yourself.")
    await admin.command("ban nosuchaccount", "There is no account named Nosuchaccount.")
    refused = await MudClient.connect("127.0.0.1", app.telnet_port)
    await refused.expect("By what name")
    refused.send(f"connect Oswald {PASSWORD}")
    await refused.expect("This account has been barred from Arkham.")
    await refused.wait_closed()
    await admin.command("unban oswald", "Oswald may come back to Arkham.")
    back = await login(app, "Oswald", create=False)

    # Every staff action is in the audit log.
    rows = await audit_rows(app)
    actions = [(r.actor, r.action, r.target) for r in rows]
    for expected in [("Agatha", "goto", target), ("Bertram", "goto", target),
                     ("Agatha", "teleport", "Pauline"), ("Agatha", "announce", None),
                     ("Agatha", "set", "Pauline"), ("Agatha", "set", "Oswald"),
                     ("Agatha", "stat", "Pauline"), ("Agatha", "users", None),
                     ("Bertram", "users", None), ("Agatha", "silence", "Oswald"),
                     ("Agatha", "unsilence", "Oswald"), ("Agatha", "ban", "Oswald"),
                     ("Agatha", "unban", "Oswald")]:
        assert expected in actions, expected
    ban_row = next(r for r in rows if r.action == "ban")
    assert ban_row.details == {"reason": "for spamming the square"}
    set_row = next(r for r in rows if r.action == "set" and r.target == "Pauline")
    assert set_row.details == {"field": "hp", "old": str(vitals["maxhp"]), "new": "7"}
    await admin.command("audit 3", r"(?s)Audit log, newest first.*Agatha unban Oswald")
    assert not any(r.actor == "Pauline" for r in rows)
    await close_all(player, builder, admin, back)


async def test_shutdown_counts_down_and_can_be_called_off(server):
    admin = await staff(server, "Agatha")
    player = await login(server, "Pauline")
    lurker = await MudClient.connect("127.0.0.1", server.telnet_port)
    await lurker.expect("By what name")
    await player.command("shutdown 1", r"Huh\?")

    await admin.command("shutdown 600", "Arkham closes its doors in 600 seconds")
    await player.expect(re.escape("Arkham closes its doors in 600 seconds (shutdown by Agatha)"))
    await admin.command("shutdown cancel", "The shutdown is called off")
    await player.expect("The shutdown is called off")
    await admin.command("shutdown cancel", "No shutdown is pending.")
    await admin.command("shutdown soon", "Usage: shutdown")
    actions = [(r.actor, r.action, r.details) for r in await audit_rows(server)]
    assert actions == [("Agatha", "shutdown", {"seconds": 600}),
                       ("Agatha", "shutdown_cancel", None)]

    await admin.command("shutdown 3", "closes its doors in 3 seconds")
    for c in (player, lurker):
        for n in ("3 seconds", "2 seconds", "1 second"):
            await c.expect(f"Arkham closes its doors in {n}")
        await c.expect("shutting down", timeout=10)
        await c.wait_closed(timeout=10)
    await asyncio.wait_for(server.stopped.wait(), 10)
    await admin.close()


async def test_motd_at_login_and_on_demand(server):
    motd = strip_markup(server.game.world.motd).strip().splitlines()
    c = await login(server, "Reader")
    assert motd[0] in c.text_plain
    await c.command("motd", re.escape(motd[-1]))
    await c.close()


async def test_shutdown_command_stops_the_real_process(tmp_path: Path):
    db = sqlite_url(tmp_path / "shutdown.db")
    r = await mythos("account", "create", "Agatha", "--password", PASSWORD, "--admin",
                     "--database-url", db)
    assert r.rc == 0, r.err
    async with serve("--telnet-port", "0", "--web-port", "0", "--database-url", db,
                     cwd=tmp_path) as srv:
        c = await MudClient.connect("127.0.0.1", srv.telnet_port)
        await c.expect("By what name")
        c.send(f"connect Agatha {PASSWORD}")
        await c.expect("Exits:")
        await c.command("shutdown 1", "Arkham closes its doors in 1 second")
        await c.expect("shutting down", timeout=10)
        await c.wait_closed(timeout=10)
        assert await srv.wait() == 0
        assert "Traceback" not in srv.stderr, srv.stderr
        assert "shutdown_by_staff" in srv.stderr and "server_stopped" in srv.stderr

    store = await Store.open(db)
    try:
        rows = await query(store, sa.select(audit_log.c.actor, audit_log.c.action,
                                            audit_log.c.details))
    finally:
        await store.close()
    assert [tuple(r) for r in rows] == [("Agatha", "shutdown", {"seconds": 1})]
