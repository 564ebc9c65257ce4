"""The engine through the front door: the pulse, the login dialogue, the commands, the limits on
greedy or silent clients, and play going on while the database is away.

Every test starts the real server in-process and plays it over real telnet sockets."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable

import pytest

from mythos.app import GC_YOUNG_THRESHOLD
from mythos.commands.info import WHO_LIMIT
from mythos.engine.login import UNREACHABLE
from mythos.rules.lucidity import TIERS
from mythos.store import Store
from mythos.text import strip_markup
from mythos.world.model import DIR_SHORT, DIRECTIONS, OPPOSITE, Character, World
from test_store import outage

from mudclient import (
    ECHO,
    HOST,
    PASSWORD,
    WILL,
    MudClient,
    http_get,
    login,
    wait_until,
)


async def get(app, path: str) -> tuple[int, str]:
    return await http_get(app.web_port, path)


def line(text: str) -> str:
    """A pattern for ``text`` as a whole line of output (perhaps after the last prompt)."""
    return rf"(?m)^(?:.*> )?{re.escape(text)}\r?$"


def room_name(app, room_id: str) -> str:
    return app.game.world.rooms[room_id].name


async def close_all(*clients: MudClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))


@pytest.fixture
async def fast(start_server, tmp_path):
    """A server on SQLite whose per-session rate limit is out of the way of tests that type a
    lot of commands quickly."""
    return await start_server(f"sqlite:///{tmp_path / 'fast.db'}",
                              commands_per_second=1000)


# -- the pulse ------------------------------------------------------------------------------------

async def test_the_pulse_keeps_ticking_and_runs_timers_while_the_server_runs(server):
    """(That a raising subsystem or timer is isolated and counted is in test_pulse.py: in a live
    server its traceback would be rendered on the loop, which the blockbuster guard refuses.)"""
    pulse = server.pulse
    fired = asyncio.Event()
    pulse.timers.call_later(0.05, fired.set)
    start = pulse.count
    await asyncio.wait_for(fired.wait(), 5)
    await wait_until(lambda: pulse.count >= start + 5, what="five more pulses")
    # Output to others is flushed by the pulse's output subsystem: it flows.
    a = await login(server, "Ticker")
    b = await login(server, "Tocker")
    b.send("say tick tock")
    await a.expect("Tocker says, 'tick tock'")
    ticks = pulse.count
    await wait_until(lambda: pulse.count > ticks + 2, what="the pulse to go on")
    assert server.metrics.registry.get_sample_value("mythos_pulse_duration_seconds_count") > 5
    await close_all(a, b)


async def test_news_waits_for_the_output_interval_but_never_holds_an_answer(start_server,
                                                                           tmp_path):
    """What a client hears is written to it at most every ``output_interval``: lines that come
    meanwhile wait and go together. Its own command's answer never waits, and brings along
    what did. (A long interval here, so that no pulse could have written the lines.)"""
    app = await start_server(f"sqlite:///{tmp_path / 'news.db'}", output_interval=60.0,
                             npcs=False, lucidity_seconds=3600.0)

    def pulse_writes() -> float:
        return app.metrics.registry.get_sample_value("mythos_output_pulse_writes_total") or 0.0

    ann = await login(app, "Annwn")
    bob = await login(app, "Bobbin")
    await ann.command("look", "Exits:")  # Annwn was just written to
    before = pulse_writes()
    for i in range(4):
        await bob.command(f"emote waves {i}.", f"Bobbin waves {i}.")  # each answered at once
        await asyncio.sleep(0.15)  # more than a pulse apart: each would have gone alone
    assert "Bobbin waves" not in ann.text_plain
    await ann.command("look", "Exits:")
    heard = [m.group(1) for m in re.finditer(r"Bobbin waves (\d)\.", ann.text_plain)]
    assert heard == ["0", "1", "2", "3"], ann.text_plain[-800:]
    assert ann.text_plain.index("Bobbin waves 3.") < ann.text_plain.rindex("Exits:")
    assert pulse_writes() == before  # all four came with the answer, none by the pulse
    await close_all(ann, bob)


async def test_metrics_time_the_garbage_collectors_full_passes(server):
    """A full collection stops everything, the loop included: /metrics says how long each took
    (a cause of loop lag to look for when it is high)."""
    def full_passes(body: str) -> float:
        m = re.search(r'^mythos_gc_pause_seconds_count\{generation="2"\} (\S+)$', body, re.M)
        return float(m.group(1)) if m else 0.0

    before = full_passes((await http_get(server.web_port, "/metrics"))[1])
    gc.collect()  # what the collector does by itself when enough new objects have lived long
    status, body = await http_get(server.web_port, "/metrics")
    assert status == 200 and full_passes(body) == before + 1, body[-2000:]
    # A running server collects its youngest objects less often than Python's default (700
    # allocations), so fewer short-lived ones are promoted, and full passes come rarer.
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD > 700


# -- logging in -----------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
async def test_passwords_are_hashed_in_threads_nicer_than_the_loop(server):
    """A burst of logins must not take the CPU from those already playing: the argon2 threads
    run at a lower priority than the event loop's thread."""
    c = await login(server, "Nicety")  # one hash, so the pool has its thread
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hashers = [t for t in threading.enumerate() if t.name.startswith("argon2")]
    assert hashers
    for t in hashers:
        assert os.getpriority(os.PRIO_PROCESS, t.native_id) == min(19, loop_nice + 10), t.name
    await c.close()


async def test_guided_creation_dialogue(server):
    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    await c.command("ashley", r"Create a new character named Ashley\? \(yes/no\)")
    assert not c.echo_off
    await c.command("yes", r"Choose a password \(at least 8 characters\):")
    assert c.echo_off and (WILL, ECHO) in c.negotiations  # the server hides the typing
    await c.command("short", r"at least 8 characters\. Try again:")
    await c.command(PASSWORD, "Repeat the password:")
    assert c.echo_off
    await c.command("not-the-same", "The passwords differ. Choose a password:")
    assert c.echo_off
    await c.command(PASSWORD, "Repeat the password:")
    await c.command(PASSWORD, r"What is your profession\? \(.*doctor of medicine.*\)")
    assert not c.echo_off
    await c.command("astrologer", "No such profession")
    assert await server.store.get_account("Ashley") is None  # nothing made before the end
    await c.command("doctor", "Welcome to Arkham, Ashley")
    await c.expect("Independence Square")
    await c.expect("Exits:")
    info = await c.expect_gmcp("Room.Info")
    assert info["num"] == "arkham.square" == server.game.world.start_room
    assert info["name"] == "Independence Square"
    assert (await c.expect_gmcp("Char.Status"))["profession"] == "doctor of medicine"
    account = await server.store.get_account("ashley")
    row = await server.store.get_character("Ashley")
    assert account is not None and account.name == "Ashley"
    assert row is not None and row.profession == "doctor" and row.room_id == "arkham.square"
    await c.close()


async def test_guided_creation_can_be_declined(server):
    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    await c.command("Wilmarth", r"\(yes/no\)")
    await c.command("no", "By what name")
    assert await server.store.get_account("Wilmarth") is None
    await c.close()


async def test_returning_player_guided_login(server):
    c = await login(server, "Barnaby")
    c.send("quit")
    await c.wait_closed()

    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    await c.command("barnaby", line("Password:"))
    assert c.echo_off
    await c.command("wrong-password", "do not match anyone")
    assert not c.echo_off
    await c.expect("By what name")
    await c.command("Barnaby", line("Password:"))
    await c.command(PASSWORD, "Welcome back, Barnaby")
    await c.expect("Exits:")
    info = await c.expect_gmcp("Room.Info")
    assert info["num"] == server.game.world.start_room
    assert "barnaby" in server.game.online
    await c.close()


async def test_name_and_password_rules(fast):
    store = fast.store
    c = await MudClient.connect(HOST, fast.telnet_port)
    await c.expect("By what name")
    word_of_the_game = "That name is a word of the game; choose another."
    letters = "A name has 3 to 20 letters and nothing else."
    cases = [
        ("create north abcdefgh", "north", word_of_the_game),
        ("create look abcdefgh", "look", word_of_the_game),
        ("create Create abcdefgh", "Create", word_of_the_game),
        ("create Ab abcdefgh", "Ab", letters),
        ("create Bob1 abcdefgh", "Bob1", letters),
        ("create Abcdefghijklmnopqrstu abcdefgh", "Abcdefghijklmnopqrstu", letters),  # 21
        ("create Valid short", "Valid", "A password needs at least 8 characters."),
        ("north", "north", word_of_the_game),  # the guided way checks the same rules
        ("Bob1", "Bob1", letters),
    ]
    # Every command word that looks like a name at all is refused.
    cases += [(f"create {w} abcdefgh", w, word_of_the_game)
              for w in sorted(fast.game.commands.words()) if re.fullmatch(r"[a-z]{3,20}", w)]
    for typed, _, message in cases:
        await c.command(typed, re.escape(message))
        await c.expect("By what name")
    await c.command("create Valid", re.escape("Usage: create NAME PASSWORD"))
    for _, name, _ in cases:
        assert await store.get_account(name) is None, name
        assert await store.get_character(name) is None, name
    assert fast.game.online == {}
    # The same session may still create a proper character.
    await c.command(f"create Valid {PASSWORD}", "Welcome to Arkham, Valid")
    assert await store.get_account("valid") is not None
    await c.close()


async def test_repeated_failed_logins_are_slowed_and_a_success_resets(server):
    c = await login(server, "Peaslee")
    c.send("quit")
    await c.wait_closed()
    throttle = server.game.throttle
    assert throttle.delay(HOST) == 0

    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    delays = []
    for wrong in ("connect Peaslee wrong-pass-1", "connect Nobodyhere whatever12",
                  "connect Peaslee wrong-pass-3"):
        await c.command(wrong, "do not match anyone")
        delays.append(throttle.delay(HOST))
    assert 0 < delays[0] < delays[1] < delays[2]
    await c.command(f"connect Peaslee {PASSWORD}", "Welcome back, Peaslee", timeout=10)
    assert throttle.delay(HOST) == 0
    await c.close()


# -- moving ---------------------------------------------------------------------------------------

def route_to_direction(world: World, start: str, wanted: Iterable[str]
                       ) -> tuple[list[str], str] | None:
    """Directions through open ways from ``start`` to the nearest room with an open way in one
    of the ``wanted`` directions, and that direction."""
    wanted = set(wanted)
    seen = {start}
    queue: deque[tuple[str, list[str]]] = deque([(start, [])])
    while queue:
        room_id, path = queue.popleft()
        exits = [ex for ex in world.rooms[room_id].visible_exits() if ex.passable]
        for ex in exits:
            if ex.direction in wanted:
                return path, ex.direction
        for ex in exits:
            if ex.to not in seen:
                seen.add(ex.to)
                queue.append((ex.to, [*path, ex.direction]))
    return None


async def step(c: MudClient, app, typed: str, to: str) -> None:
    """Type a movement command and check the room shown and the GMCP that follows."""
    room = app.game.world.rooms[to]
    c.send(typed)
    info = await c.expect_gmcp("Room.Info", where=lambda d: d["num"] == to)
    assert info == {
        "num": to, "name": room.name, "area": room.zone.name, "environment": room.environment,
        "exits": {DIR_SHORT[e.direction]: e.to for e in room.visible_exits()},
        "doors": {DIR_SHORT[e.direction]: str(e.door.state)
                  for e in room.visible_exits() if e.door},
        "coords": {"x": room.coords.x, "y": room.coords.y, "z": room.coords.z},
    }
    status = await c.expect_gmcp("Char.Status")
    assert status["area"] == room.zone.name and status["posture"] == "standing"
    await c.expect(re.escape(room.name))
    await c.expect("Exits:")


async def test_every_direction_the_world_has_can_be_walked(fast):
    world = fast.game.world
    c = await login(fast, "Walker")
    await c.expect_gmcp("Char.Status")  # the one sent at login
    here = world.start_room
    in_world = {d for r in world.rooms.values() for d, ex in r.exits.items()
                if ex.passable and not ex.hidden}
    left = [d for d in DIRECTIONS if d in in_world]
    assert {"north", "south", "east", "west", "up", "down"} <= set(left)
    forms = [lambda d: d, lambda d: DIR_SHORT[d], lambda d: f"go {d}",
             lambda d: f"go {DIR_SHORT[d]}"]
    walked = []
    while left:
        found = route_to_direction(world, here, left)
        if found is None:
            break  # the rest are not reachable through open ways from here
        path, d = found
        for p in path:
            here = world.rooms[here].exits[p].to
            await step(c, fast, DIR_SHORT[p], here)
        here = world.rooms[here].exits[d].to
        await step(c, fast, forms[len(walked) % len(forms)](d), here)
        assert fast.game.online["walker"].room_id == here
        walked.append(d)
        left.remove(d)
    assert set(walked) >= {"north", "south", "east", "west", "up", "down"}
    assert not left, f"directions in the world never reached: {left}"
    # Where there is no such way: a clear no, and nobody moves.
    room = world.rooms[here]
    for d in DIRECTIONS:
        if d not in room.exits:
            await c.command(d, "You can't go that way.")
    await c.command("go", "Go where?")
    await c.command("go sideways", "You can't go that way.")
    assert fast.game.online["walker"].room_id == here
    await c.close()


async def test_moving_needs_standing(server):
    c = await login(server, "Sitter")
    start = server.game.world.start_room
    await c.command("sit", "You sit down.")
    for typed in ("north", "n", "go north"):
        await c.command(typed, "You need to stand up first.")
    await c.command("lie", "You lie down.")
    await c.command("south", "You need to stand up first.")
    assert server.game.online["sitter"].room_id == start
    await c.command("stand", "You stand up.")
    target = server.game.world.rooms[start].exits["north"].to
    c.send("north")
    await c.expect_gmcp("Room.Info", where=lambda d: d["num"] == target)
    await c.close()


async def test_others_see_arrivals_and_departures_with_gmcp(server):
    world = server.game.world
    start = world.start_room
    north = world.rooms[start].exits["north"].to
    back = OPPOSITE["north"]
    assert world.rooms[north].exits[back].to == start
    a = await login(server, "Arrowsmith")
    await a.expect_gmcp("Room.Players")  # the one sent at login
    b = await login(server, "Blackwood")
    await a.expect("Blackwood has entered the game.")
    added = await a.expect_gmcp("Room.AddPlayer")
    assert added == {"name": "Blackwood", "fullname": "Blackwood the journalist"}
    # A client that takes no Room package gets none of it.
    quiet = await login(server, "Quietus", supports=["Char 1"])

    a.send("north")
    await b.expect("Arrowsmith leaves north.")
    await quiet.expect("Arrowsmith leaves north.")
    assert await b.expect_gmcp("Room.RemovePlayer") == "Arrowsmith"
    await a.expect_gmcp("Room.Info", where=lambda d: d["num"] == north)
    players = await a.expect_gmcp("Room.Players")
    assert [p["name"] for p in players] == ["Arrowsmith"]

    a.send(back)
    await b.expect("Arrowsmith arrives from the north.")
    await quiet.expect("Arrowsmith arrives from the north.")
    added = await b.expect_gmcp("Room.AddPlayer", where=lambda d: d["name"] == "Arrowsmith")
    assert added == {"name": "Arrowsmith", "fullname": "Arrowsmith the journalist"}
    await a.expect_gmcp("Room.Info", where=lambda d: d["num"] == start)
    players = await a.expect_gmcp("Room.Players")
    assert {p["name"] for p in players} == {"Arrowsmith", "Blackwood", "Quietus"}
    # The mover does not hear of itself.
    await a.command("look", "Exits:")
    assert "Arrowsmith arrives" not in a.text_plain and "Arrowsmith leaves" not in a.text_plain

    await quiet.command("look", "Exits:")
    await quiet.command("who", "online")  # anything flushed before this has arrived
    got = [p for p, _ in quiet.gmcp]
    assert "Char.Vitals" in got
    assert not [p for p in got if p.lower().startswith("room.")], got
    await close_all(a, b, quiet)


async def test_arrivals_from_above_and_below(fast):
    world = fast.game.world
    found = route_to_direction(world, world.start_room, ["up"])
    assert found is not None
    path, _ = found
    a = await login(fast, "Upton")
    b = await login(fast, "Downing")
    for c in (a, b):
        for d in path:
            await c.command(d, "Exits:")
    await a.command("up", "Exits:")
    await b.expect("Upton leaves up.")
    await a.command("down", "Exits:")
    await b.expect("Upton arrives from above.")
    await b.command("up", "Exits:")
    await a.expect("Downing leaves up.")
    await a.command("up", "Exits:")
    await b.expect("Upton arrives from below.")
    await close_all(a, b)


# -- looking and asking ---------------------------------------------------------------------------

async def test_look_exits_who_and_status(server):
    world = server.game.world
    square = world.rooms[world.start_room]
    h = await login(server, "Henrietta")
    w = await login(server, "Wilbur")

    await h.command("look", "Wilbur the journalist is standing here.")
    north = square.exits["north"]
    expected = north.description or f"To the north: {world.rooms[north.to].name}."
    await h.command("look north", re.escape(expected))
    await h.command("look n", re.escape(expected))
    nowhere = next(d for d in DIRECTIONS if d not in square.exits)
    await h.command(f"look {nowhere}", "You see nothing special in that direction.")
    await h.command("look wilbur", "Wilbur the journalist, level 1, is standing here.")
    await w.expect("Henrietta looks at you.")
    await h.command("look at wil", "Wilbur the journalist, level 1, is standing here.")
    await h.command("look xyzzy", "You see nothing like that here.")

    h.send("exits")
    await h.expect("Obvious exits:")
    for ex in square.visible_exits():
        await h.expect(re.escape(f"{ex.direction:<10} - {world.rooms[ex.to].name}"))

    h.send("who")
    await h.expect(r"\[\s*1\] Henrietta the journalist")
    await h.expect(r"\[\s*1\] Wilbur the journalist")
    await h.expect("2 investigators online.")

    char = server.game.online["henrietta"]
    h.send("status")
    await h.expect("Henrietta the journalist")
    await h.expect(r"Level 1\s+XP 0")
    await h.expect(rf"Health\s+{char.hp}/{char.max_hp}")
    await h.expect(r"Lucidity\s+100 \(lucid\)")
    await h.expect(r"Posture\s+standing")
    await h.command("sit", "You sit down.")
    await w.expect("Henrietta sits down.")
    await h.command("status", r"Posture\s+sitting")
    # The tier shown is the rules' tier of the lucidity.
    for floor, name in TIERS:
        char.lucidity = floor
        await h.command("status", rf"Lucidity\s+{floor} \({name}\)")
    await close_all(h, w)


async def test_who_narrows_by_name_and_counts_past_its_limit(server):
    game = server.game
    h = await login(server, "Abigail")
    a = await login(server, "Abel")
    await h.command("who ab", r"Abel the journalist")
    await h.expect(r"\[\s*1\] Abigail the journalist")
    await h.expect("2 whose names begin with 'ab'.")
    await h.expect("2 investigators online.")
    await h.command("who zz", r"0 whose names begin with 'zz'.\s+2 investigators online.")
    await h.command("who a1", "Names have only letters")
    # Past WHO_LIMIT the list stops, by name, and the rest are counted. (Characters put in
    # the roster without a connection: a few hundred logins would take minutes of hashing.)
    extra = WHO_LIMIT + 49
    for i in range(extra):
        name = f"Zed{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}"
        game.online[name.lower()] = Character(id=-(i + 1), account_id=0, name=name,
                                              profession="tramp", room_id=game.world.start_room,
                                              hp=10, max_hp=10)
    try:
        h.send("who")
        await h.expect(r"\[\s*1\] Abel the ")
        await h.expect(rf"\.\.\. and {extra + 2 - WHO_LIMIT} more \('who <first letters")
        await h.expect(rf"{extra + 2} investigators online.")
        shown = h.text[h.text.rindex("Investigators in Arkham"):]
        assert shown.count("] ") == WHO_LIMIT and "Zedfs" not in shown  # the last by name
    finally:
        for i in range(extra):
            game.online.pop(f"zed{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}", None)
    await close_all(h, a)


async def test_help_lists_every_command_and_explains_each(fast):
    table = fast.game.commands
    c = await login(fast, "Helper")
    c.send("help")
    m = await c.expect(r"(?s)Commands.*Type 'help <command or topic>'")
    listed = m.group(0)
    for cmd in table.visible("player"):
        assert re.search(rf"\b{re.escape(cmd.name)}\b", listed), cmd.name
    players = [cmd for cmd in table.commands if cmd.allowed("player")]  # staff's: "no help"
    for cmd in players:
        c.send(f"help {cmd.name}")
        await c.expect(line(strip_markup(cmd.usage)))
        await c.expect(re.escape("Also typed as: " + ", ".join((cmd.name, *cmd.aliases))))
    for cmd in players:
        for alias in cmd.aliases:
            if alias.isalpha():
                c.send(f"help {alias}")
                await c.expect(line(strip_markup(cmd.usage)))
    # A word that is also a keyword of a help page names the command, and points at the page.
    await c.command("help north", line("north"))
    await c.expect("See also: help movement")
    await c.command("help movement", "Moving around")
    await c.command("help nonsense", "There is no help on 'nonsense'.")
    await c.close()


async def test_unknown_verbs_prefixes_and_shortcuts(server):
    world = server.game.world
    a = await login(server, "Abner")
    b = await login(server, "Bartholomew")
    await a.command("sya hello", re.escape("Huh? (Did you mean 'say'?)"))
    await a.command("qqqqzz", line("Huh?"))
    await a.command("stat", r"Lucidity\s+100")
    await a.command("wh", "2 investigators online")
    await a.command("exi", "Obvious exits:")
    a.send("emo waves.")
    await b.expect("Abner waves.")
    await a.expect("Abner waves.")
    a.send("'hello there")
    await a.expect("You say, 'hello there'")
    await b.expect("Abner says, 'hello there'")
    a.send(":grins.")
    await b.expect("Abner grins.")
    a.send("'")
    await a.expect("Say what?")
    north = world.rooms[world.start_room].exits["north"].to
    a.send("nor")
    await a.expect_gmcp("Room.Info", where=lambda d: d["num"] == north)
    a.send("sou")
    await a.expect_gmcp("Room.Info", where=lambda d: d["num"] == world.start_room)
    await close_all(a, b)


# -- greedy and silent clients --------------------------------------------------------------------

async def raw_login(port: int, name: str) -> socket.socket:
    """Log in over a bare socket with a tiny receive buffer; the caller then stops reading."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    await loop.sock_connect(sock, (HOST, port))
    seen = b""

    async def until(marker: bytes) -> None:
        nonlocal seen
        async with asyncio.timeout(5):
            while marker not in seen:
                chunk = await loop.sock_recv(sock, 65536)
                assert chunk, "closed"
                seen += chunk

    await until(b"By what name")
    await loop.sock_sendall(sock, f"create {name} {PASSWORD}\r\n".encode())
    await until(b"Exits:")
    return sock


async def test_a_client_that_never_reads_is_disconnected_and_others_play_on(start_server,
                                                                            tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'bp.db'}", output_limit=8192,
                             commands_per_second=1000, channel_rate_limits=False)
    listener = await login(app, "Listener")
    sleepy = await raw_login(app.telnet_port, "Sleepy")
    try:
        assert "sleepy" in app.game.online
        flooder = await login(app, "Flooder")
        n = 0
        while "sleepy" in app.game.online:
            n += 1
            assert n < 20000, "the silent client was never disconnected"
            await flooder.command(f"say {'x' * 1000} {n}", rf" {n}'")
        assert app.metrics.registry.get_sample_value(
            "mythos_slow_client_disconnects_total") == 1
        assert len(app.game.sessions) == 2
        await listener.expect("Sleepy has left the game.", timeout=10)
        await flooder.command("say still here", "You say, 'still here'")
        await listener.expect("Flooder says, 'still here'", timeout=10)
        await listener.command("look", "Exits:")
        await listener.command("who", "2 investigators online")
    finally:
        sleepy.close()
    await close_all(listener, flooder)


async def test_commands_faster_than_the_rate_limit_are_dropped(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'rate.db'}",
                             commands_per_second=2)
    c = await login(app, "Hasty")
    c.send_raw(b"".join(f"say {i}\r\n".encode() for i in range(1, 13)))
    await c.expect("You are typing faster than Arkham can follow; slow down.")
    await asyncio.sleep(1.2)  # a pause refills the bucket
    await c.command("say recovered", "You say, 'recovered'")
    said = re.findall(r"You say, '(\d+)'", c.text_plain)
    assert 1 <= len(said) <= 5, said  # the burst (twice the rate), then nothing
    assert "12" not in said
    assert c.text_plain.count("typing faster") == 1  # told once, not once a line
    # Flooding again is refused again.
    c.send_raw(b"look\r\n" * 12)
    await c.expect("typing faster")
    await c.close()


# -- the database goes away -----------------------------------------------------------------------

async def test_play_goes_on_while_the_database_is_away(db_url, start_server):
    app = await start_server(db_url, flush_interval=0.2, db_busy_timeout=0.3)
    world = app.game.world
    postgres = app.store.backend == "postgresql"
    a = await login(app, "Olive")
    char = app.game.online["olive"]
    await a.command("north", "Exits:")
    await wait_until(lambda: app.writebehind.dirty_count == 0, what="the first save")
    status, body = await get(app, "/health")
    assert status == 200 and json.loads(body)["database"]["reachable"] is True

    async with outage(db_url):
        ticks = app.pulse.count
        # A login now gets a clear answer (SQLite: after its busy timeout), not a hang.
        newbie = await MudClient.connect(HOST, app.telnet_port)
        await newbie.expect("By what name")
        await newbie.command(f"create Newcomer {PASSWORD}", re.escape(strip_markup(UNREACHABLE)),
                             timeout=15)
        await newbie.expect("By what name")
        assert "newcomer" not in app.game.online

        # The game answers; what changes is kept in memory.
        there = world.rooms[char.room_id].exits["north"].to
        await a.command("north", re.escape(room_name(app, there)))
        await a.command("sit", "You sit down.")
        await a.command("status", r"Posture\s+sitting")
        assert char.room_id == there and char.posture == "sitting"
        assert app.writebehind.pending(char.id) is char
        await wait_until(lambda: not app.writebehind.healthy, timeout=15,
                         what="a failed flush")
        status, body = await get(app, "/health")
        health = json.loads(body)
        assert health["database"]["flushing"] is False
        assert health["database"]["unsaved"] >= 1
        assert status == 503 and health["status"] == "degraded"
        if postgres:  # SQLite can still be read while another connection holds the write lock
            assert health["database"]["reachable"] is False
        await a.command("look", "Exits:")
        assert app.pulse.count > ticks

    await wait_until(lambda: app.writebehind.healthy and app.writebehind.dirty_count == 0,
                     timeout=40, what="the save after the outage")
    status, body = await get(app, "/health")
    assert status == 200 and json.loads(body)["database"]["reachable"] is True
    store = await Store.open(db_url)
    try:
        row = await store.get_character("Olive")
        assert row is not None and row.room_id == there and row.posture == "sitting"
        assert await store.get_account("Newcomer") is None
    finally:
        await store.close()
    # And the one turned away may come in now.
    await newbie.command(f"create Newcomer {PASSWORD}", "Welcome to Arkham, Newcomer")
    await close_all(a, newbie)
