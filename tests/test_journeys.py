"""Whole journeys through the front door: real telnet sockets, a real database, the real pulse."""

from __future__ import annotations

from collections import deque

from mythos.world.model import DoorState, World

from mudclient import PASSWORD, MudClient, http_get, login


def path_to_closed_door(world: World, start: str) -> tuple[list[str], str]:
    """Directions from ``start`` through open ways to a room with a closed, unlocked door,
    and the direction of that door."""
    seen = {start}
    queue: deque[tuple[str, list[str]]] = deque([(start, [])])
    while queue:
        room_id, path = queue.popleft()
        room = world.rooms[room_id]
        for ex in room.visible_exits():
            if ex.door is not None and ex.door.state is DoorState.CLOSED:
                return path, ex.direction
        for ex in room.visible_exits():
            if ex.passable and ex.to not in seen:
                seen.add(ex.to)
                queue.append((ex.to, [*path, ex.direction]))
    raise AssertionError("the world has no closed door reachable from the start")


async def test_create_walk_talk_quit_and_return(start_server, db_url):
    app = await start_server(db_url)
    ann = await login(app, "Annie")
    info = await ann.expect_gmcp("Room.Info")
    assert info["num"] == app.game.world.start_room
    vitals = await ann.expect_gmcp("Char.Vitals")
    assert vitals["hp"] == vitals["maxhp"] > 0 and vitals["lucidity"] == 100

    # Walk to a closed door, find it closed, open it and go through.
    path, door_dir = path_to_closed_door(app.game.world, app.game.world.start_room)
    for d in path:
        await ann.command(d, "Exits:")
    await ann.command(door_dir, r"is closed\.")
    await ann.command(f"open {door_dir}", r"You open the ")
    await ann.command(door_dir, "Exits:")
    world = app.game.world
    room_after = world.start_room
    for d in [*path, door_dir]:
        room_after = world.rooms[room_after].exits[d].to
    await ann.expect_gmcp("Room.Info", where=lambda d: d["num"] == room_after)
    assert app.game.online["annie"].room_id == room_after

    # A second player in the same room hears her and sees her emote.
    bob = await login(app, "Bobby")
    for d in [*path, door_dir]:
        await bob.command(d, "Exits:")
    await bob.expect_gmcp("Room.Info", where=lambda d: d["num"] == room_after)
    ann.send("say The door was open all along.")
    await ann.expect("You say, 'The door was open all along.'")
    await bob.expect(r"Annie says, 'The door was open all along\.'")
    msg = await bob.expect_gmcp("Comm.Channel.Text", where=lambda d: d["talker"] == "Annie")
    assert msg["channel"] == "say"
    ann.send(":shivers in the draught.")
    await bob.expect("Annie shivers in the draught.")

    # She sits, quits; Bob sees her go.
    await ann.command("sit", "You sit down.")
    await bob.expect("Annie sits down.")
    ann.send("quit")
    await ann.wait_closed()
    await bob.expect("Annie has left the game.")
    await bob.close()

    # Restart the server on the same database: same room, same posture.
    await app.stop()
    app2 = await start_server(db_url)
    ann = await login(app2, "Annie", create=False)
    info = await ann.expect_gmcp("Room.Info")
    assert info["num"] == room_after
    status = await ann.expect_gmcp("Char.Status")
    assert status["posture"] == "sitting"
    await ann.command("north", "You need to stand up first.")
    await ann.close()


async def test_wrong_password_reads_like_unknown_name(server):
    c = await login(server, "Carter")
    c.send("quit")
    await c.wait_closed()

    wrong = await MudClient.connect("127.0.0.1", server.telnet_port)
    await wrong.expect("By what name")
    wrong.send("connect Carter not-the-password")
    m1 = await wrong.expect(r"(?m)^.*do not match.*$")
    wrong.send("connect Nobodyhere whatever123")
    m2 = await wrong.expect(r"(?m)^.*do not match.*$")
    assert m1.group(0).strip() == m2.group(0).strip()
    assert "Carter" not in server.game.online
    # The right password still works afterwards (the slowdown is short in tests).
    wrong.send(f"connect Carter {PASSWORD}")
    await wrong.expect("Welcome back, Carter")
    await wrong.close()


async def test_login_takes_over_a_live_session(server):
    first = await login(server, "Dexter")
    await first.command("lie", "You lie down.")
    second = await MudClient.connect("127.0.0.1", server.telnet_port)
    await second.expect("By what name")
    second.send(f"connect Dexter {PASSWORD}")
    await first.expect("Someone has connected as you from elsewhere")
    await first.wait_closed()
    await second.expect("You take over your body")
    status = await second.expect_gmcp("Char.Status")
    assert status["posture"] == "lying"  # the same body, not a fresh copy
    room = server.game.world.rooms[server.game.online["dexter"].room_id]
    assert [c.name for c in room.characters].count("Dexter") == 1
    assert len(server.game.online) == 1
    await second.command("who", "1 investigator online")
    await second.close()


async def test_shutdown_saves_every_dirty_character(start_server, db_url):
    app = await start_server(db_url, flush_interval=3600)  # only shutdown can save them
    names = ["Edith", "Frank", "Gloria"]
    clients = [await login(app, n) for n in names]
    for c in clients:
        await c.command("sit", "You sit down.")
    await clients[0].command("stand", "You stand up.")
    await clients[0].command("north", "Exits:")
    moved_to = app.game.online["edith"].room_id
    assert app.writebehind.dirty_count >= 3
    await app.stop()
    for c in clients:
        await c.expect("shutting down")
        await c.wait_closed()

    from mythos.store import Store

    store = await Store.open(db_url)
    try:
        edith = await store.get_character("Edith")
        assert edith is not None and edith.room_id == moved_to and edith.posture == "standing"
        for n in names[1:]:
            row = await store.get_character(n)
            assert row is not None and row.posture == "sitting"
    finally:
        await store.close()


async def test_unknown_command_suggests_and_prefixes_work(server):
    c = await login(server, "Hazel")
    await c.command("lokk", r"Huh\? \(Did you mean 'look'\?\)")
    await c.command("xyzzyq", r"Huh\?")
    await c.command("stat", "Lucidity")  # a unique prefix of status
    await c.command("help", "Commands")
    await c.command("help look", r"look \[thing, person or direction\]")
    await c.command("exits", "Obvious exits")
    await c.command("qui", "type 'quit' in full")
    await c.close()


async def test_player_text_is_stripped_of_escapes(server):
    a = await login(server, "Ivy")
    b = await login(server, "Jack")
    a.send("say \x1b[31mred\x1b[0m and \x07bell {R}markup")
    m = await b.expect(r"Ivy says, '(.*)'")
    heard = m.group(1)
    assert "\x1b" not in heard and "\x07" not in heard
    assert heard == "red and bell {R}markup"
    await a.close()
    await b.close()


async def test_health_and_metrics(server):
    c = await login(server, "Kate")

    status, body = await http_get(server.web_port, "/health")
    import json

    health = json.loads(body)
    assert status == 200 and health["status"] == "ok"
    assert health["players_online"] == 1 and health["database"]["reachable"] is True
    status, text = await http_get(server.web_port, "/metrics")
    assert status == 200
    for name in ("mythos_event_loop_lag_seconds", "mythos_pulse_duration_seconds",
                 "mythos_flush_duration_seconds", "mythos_players_online 1.0",
                 "mythos_commands_total"):
        assert name in text
    await c.close()
