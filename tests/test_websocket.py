"""The browser's wire without a browser: the login API and /ws frames, against the real server,
side by side with real telnet players."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

import aiohttp
import pytest

from mythos.engine.login import BAD_LOGIN
from mythos.net.websocket import MAX_FRAME

from mudclient import HOST, PASSWORD, MudClient, http_get, login, wait_until
from webclient import WebClient


def open_exit(app, room_id: str) -> tuple[str, str]:
    """(direction, target) of the first exit of ``room_id`` one can walk through."""
    room = app.game.world.rooms[room_id]
    ex = next(e for e in room.visible_exits() if e.passable)
    return ex.direction, ex.to


async def close_all(*clients) -> None:
    await asyncio.gather(*(c.close() for c in clients))


# -- playing --------------------------------------------------------------------------------------

async def test_a_browser_player_plays_beside_a_telnet_player(server):
    start = server.game.world.start_room
    web = WebClient(server)
    ready = await web.enter("Ashley")
    assert ready == {"type": "ready", "name": "Ashley"}
    assert "Welcome to Arkham, Ashley" in web.text
    info = await web.expect_gmcp("Room.Info")
    assert info["num"] == start and info["coords"] == {"x": 0, "y": 0, "z": 0}
    vitals = await web.expect_gmcp("Char.Vitals")
    assert vitals["hp"] == vitals["maxhp"] > 0
    assert [p["name"] for p in await web.expect_gmcp("Room.Players")] == ["Ashley"]
    # Text keeps our colours (as ANSI SGR codes, for the page to paint) and marks its prompt.
    texts = [f for f in web.frames if f["type"] == "text"]
    assert any("\x1b[1;33m" in f["text"] for f in texts)  # {Y}: the room's name
    assert texts[-1].get("prompt") is True and texts[-1]["text"].endswith("> ")
    assert server.game.online["ashley"].link.conn.kind == "websocket"

    # A telnet player arrives; each sees the other, in text and in GMCP.
    bob = await login(server, "Bobby")
    await web.expect("Bobby has entered the game.")
    added = await web.expect_gmcp("Room.AddPlayer")
    assert added["name"] == "Bobby"
    await web.command("look", "Bobby the journalist is standing here.")
    await web.command("say Is anyone there?", "You say, 'Is anyone there\\?'")
    await bob.expect("Ashley says, 'Is anyone there\\?'")
    heard = await bob.expect_gmcp("Comm.Channel.Text", where=lambda d: d["talker"] == "Ashley")
    assert heard["text"] == "Ashley says, 'Is anyone there?'"
    bob.send("say Only the wind.")
    await web.expect("Bobby says, 'Only the wind.'")
    msg = await web.expect_gmcp("Comm.Channel.Text", where=lambda d: d["talker"] == "Bobby")
    assert msg == {"channel": "say", "talker": "Bobby", "text": "Bobby says, 'Only the wind.'"}

    # Walking: the room changes for both.
    direction, target = open_exit(server, start)
    await web.command(direction, "Exits:")
    info = await web.expect_gmcp("Room.Info", where=lambda d: d["num"] == target)
    assert info["name"] == server.game.world.rooms[target].name
    # The answer to one command arrives as one message: its text and its GMCP together.
    together = next(m for m in web.messages if any(
        f["type"] == "gmcp" and f["package"] == "Room.Info" and f["data"]["num"] == target
        for f in m))
    assert any(f["type"] == "text" and "Exits:" in f["text"] for f in together)
    packages = {f.get("package") for f in together}
    assert {"Char.Status", "Room.Players", "Room.Npcs"} <= packages
    # What a step does not change is not sent again (vitals, inventory): GMCP.md.
    assert "Char.Vitals" not in packages
    assert not [f for f in together if f.get("package") == "Char.Items.List"
                and f["data"]["location"] == "inv"]
    await bob.expect(f"Ashley leaves {direction}.")
    assert await bob.expect_gmcp("Room.RemovePlayer") == "Ashley"
    assert server.game.online["ashley"].room_id == target

    # GMCP goes up too: Core.Ping is answered, a state request answered with the state.
    await web.send({"type": "gmcp", "package": "Core.Ping"})
    await web.expect_gmcp("Core.Ping")
    await web.send({"type": "gmcp", "package": "Char.Vitals"})
    await web.expect_gmcp("Char.Vitals")
    # Several lines in one frame are several commands, as typed.
    await web.send({"type": "command", "line": "say one\nsay two\n"})
    await web.expect("You say, 'one'")
    await web.expect("You say, 'two'")

    # Quit: the page is told not to come back by itself, and its resume cookie is dead.
    await web.send({"type": "command", "line": "quit"})
    await web.expect("You step out of the fog")
    assert (await web.expect_frame("closed"))["reconnect"] is False
    assert await web.wait_closed() == 1000
    await wait_until(lambda: "ashley" not in server.game.online, what="Ashley to leave")
    assert (await web.post("/api/resume"))[0] == 401
    # The same account plays over telnet.
    again = await login(server, "Ashley", create=False)
    assert server.game.online["ashley"].room_id == target
    await close_all(web, bob, again)


async def test_takeover_goes_both_ways_between_telnet_and_the_browser(server):
    tel = await login(server, "Carter")
    web = WebClient(server)
    await web.enter("Carter", create=False)
    assert "You take over your body, which was already here." in web.text
    await tel.expect("Someone has connected as you from elsewhere. Goodbye.")
    await tel.wait_closed()
    assert server.game.online["carter"].link.conn.kind == "websocket"
    assert len([s for s in server.game.sessions if s.char is not None]) == 1

    tel2 = await MudClient.connect(HOST, server.telnet_port)
    await tel2.expect("By what name")
    await tel2.command(f"connect Carter {PASSWORD}", "You take over your body")
    await web.expect("Someone has connected as you from elsewhere. Goodbye.")
    assert (await web.expect_frame("closed"))["reconnect"] is False
    assert await web.wait_closed() == 1000
    assert server.game.online["carter"].link.conn.kind == "telnet"
    # Taken over: that browser must give the password again.
    assert (await web.post("/api/resume"))[0] == 401
    await close_all(web, tel2)


async def test_resume_reconnects_without_the_password_until_logout(server):
    web = WebClient(server)
    await web.enter("Dexter")
    first_secret = web.cookie()
    assert first_secret
    # The page reconnects (after a drop or a reload) with its HttpOnly cookie, which is
    # replaced by a new one each time.
    status, reply = await web.post("/api/resume")
    assert status == 200 and reply["name"] == "Dexter" and reply["token"]
    assert web.cookie() not in (None, first_secret)
    tab = WebClient(server)  # the same browser, another tab: the same cookie
    tab.http.cookie_jar.update_cookies({"mythos_resume": web.cookie()})
    await tab.open()
    await tab.auth(reply["token"])
    await tab.expect_frame("ready")
    assert "Welcome back, Dexter" in (await tab.expect("Welcome back, Dexter")).string
    assert await web.wait_closed() == 1000  # the older socket was taken over
    # A used secret is spent: only the newest works.
    stale = WebClient(server)
    stale.http.cookie_jar.update_cookies({"mythos_resume": first_secret})
    assert (await stale.post("/api/resume"))[0] == 401
    assert (await tab.post("/api/logout"))[0] == 200
    assert (await tab.post("/api/resume"))[0] == 401
    assert (await web.post("/api/resume"))[0] == 401
    assert "dexter" in server.game.online  # logging out of the API leaves the game to quit
    await close_all(web, tab, stale)


async def test_shutdown_tells_the_page_to_reconnect(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'down.db'}")
    web = WebClient(app)
    await web.enter("Eliza")
    idle = WebClient(app)
    await idle.open()  # never logs in
    await app.stop()
    await web.expect("The fog rolls in")
    assert (await web.expect_frame("closed"))["reconnect"] is True
    assert await web.wait_closed() == 1012
    assert await idle.wait_closed() == 1001
    await close_all(web, idle)


# -- the login API: the telnet rules and messages -------------------------------------------------

async def test_the_login_api_applies_the_telnet_rules(server):
    web = WebClient(server)
    store = server.game.store
    cases = [
        ({"name": "Ab", "password": PASSWORD}, 400, "A name has 3 to 20 letters and nothing else."),
        ({"name": "north", "password": PASSWORD}, 400,
         "That name is a word of the game; choose another."),
        ({"name": "Valid", "password": "short"}, 400, "A password needs at least 8 characters."),
        ({"name": "Valid", "password": PASSWORD, "profession": "astrologer"}, 400,
         "No such profession."),
        ({"name": "Valid", "password": 12345678}, 400, "'password' must be text."),
    ]
    for body, status, message in cases:
        got = await web.post("/api/create", body)
        assert got == (status, {"ok": False, "error": got[1]["error"], "message": message}), body
    assert await store.get_account("Valid") is None and await store.get_account("Ab") is None
    assert (await web.post("/api/create", raw=b"{not json"))[0] == 400

    status, reply = await web.post("/api/create", {"name": "Wilbur", "password": PASSWORD,
                                                   "profession": "doctor"})
    assert status == 200 and reply["name"] == "Wilbur"
    assert (await store.get_character("Wilbur")).profession == "doctor"
    assert await web.post("/api/create", {"name": "wilbur", "password": PASSWORD}) == (
        409, {"ok": False, "error": "taken", "message": "That name is already taken."})

    # Wrong password and unknown name read the same, and slow the address down for telnet too.
    throttle = server.game.throttle
    assert throttle.delay(HOST) == 0
    for body in ({"name": "Wilbur", "password": "wrong-password"},
                 {"name": "Nobodyhere", "password": PASSWORD}):
        assert await web.post("/api/login", body) == (
            401, {"ok": False, "error": "failed", "message": BAD_LOGIN})
    assert throttle.delay(HOST) > 0
    tel = await MudClient.connect(HOST, server.telnet_port)
    await tel.expect("By what name")
    await tel.command("connect Wilbur bad-password", "do not match anyone")
    assert throttle.delay(HOST) > 0
    status, reply = await web.post("/api/login", {"name": "wilbur", "password": PASSWORD})
    assert status == 200 and reply["name"] == "Wilbur"
    assert throttle.delay(HOST) == 0

    status, body = await http_get(server.web_port, "/api/info")
    info = json.loads(body)
    assert status == 200 and {"id": "doctor", "name": "doctor of medicine"} in info["professions"]
    await close_all(web, tel)


async def test_the_login_api_answers_only_our_own_page(server):
    for origin in ("http://evil.example", "", f"http://{HOST}:1"):
        web = WebClient(server, origin=origin)
        status, reply = await web.post("/api/create", {"name": "Mallory", "password": PASSWORD})
        assert status == 403 and reply["error"] == "bad_origin", origin
        await web.close()
    assert await server.game.store.get_account("Mallory") is None
    # The page itself, and its files.
    status, page = await http_get(server.web_port, "/")
    assert status == 200 and "<title>" in page


# -- /ws refuses what it must, and nothing changes ------------------------------------------------

async def test_bad_frames_get_clear_errors_and_change_nothing(server):
    web = WebClient(server)
    token = await web.token("Gideon")
    await web.open()
    await web.send("this is not json")
    await web.expect_error("bad_json")
    await web.send("[1, 2, 3]")
    await web.expect_error("bad_frame")
    await web.send({"type": "command", "line": "say I am not logged in"})
    err = await web.expect_error("not_logged_in")
    assert "auth" in err["message"]
    assert web.ws is not None
    await web.ws.send_bytes(b"\x00\x01")
    await web.expect_error("bad_frame")
    assert server.game.online == {} and not web.closed

    await web.auth(token, width=90)
    await web.expect_frame("ready")
    await web.expect("Exits:")
    room = server.game.online["gideon"].room_id
    await web.send("{broken")
    await web.expect_error("bad_json")
    await web.send({"type": "command", "line": "north" + "h" * server.settings.max_line})
    err = await web.expect_error("too_long")
    assert f"max {server.settings.max_line} characters" in err["message"]
    await web.send({"type": "command", "line": 42})
    await web.expect_error("bad_frame")
    await web.send({"type": "teleport", "to": "limbo.void"})
    await web.expect_error("unknown_type")
    await web.send({"type": "gmcp", "data": {}})
    await web.expect_error("bad_frame")
    await web.send({"type": "auth", "token": token})
    await web.expect_error("already_logged_in")
    assert server.game.online["gideon"].room_id == room
    await web.command("say still here", "You say, 'still here'")

    # A frame over the cap ends the connection (1009), and the character leaves as on a drop.
    await web.send({"type": "command", "line": "x" * MAX_FRAME})
    assert await web.wait_closed() == 1009
    await wait_until(lambda: "gideon" not in server.game.online, what="Gideon to leave")
    await web.close()


async def test_a_flood_of_bad_frames_ends_the_connection(server):
    web = WebClient(server)
    await web.enter("Henrietta")
    for _ in range(40):
        await web.send("nonsense")
    await web.expect_error("too_many_errors")
    assert await web.wait_closed() == 1008
    await web.close()


async def test_stolen_forged_and_expired_tokens_are_refused(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'tok.db'}",
                             web_ticket_seconds=0.5)
    owner = WebClient(app)
    token = await owner.token("Isaac")

    # The token works once, for its owner.
    await owner.open()
    await owner.auth(token)
    await owner.expect_frame("ready")
    thief = WebClient(app)
    await thief.open()
    await thief.auth(token)
    err = await thief.expect_error("bad_token")
    assert "Log in again" in err["message"]
    assert await thief.wait_closed() == 4001
    await owner.command("say mine", "You say, 'mine'")  # the owner plays on
    assert app.game.online["isaac"].link.conn is not None and not owner.closed

    # A token from another address is refused, and stays good for the address it was given to.
    fresh = await owner.token("Jessamine")
    elsewhere = WebClient(app, local_addr=("127.0.0.2", 0))
    await elsewhere.open()
    await elsewhere.auth(fresh)
    await elsewhere.expect_error("bad_token")
    assert "jessamine" not in app.game.online
    rightful = WebClient(app)
    await rightful.open()
    await rightful.auth(fresh)
    await rightful.expect_frame("ready")

    # Made up, or too old.
    forger = WebClient(app)
    await forger.open()
    await forger.auth("A" * 43)
    await forger.expect_error("bad_token")
    late = WebClient(app)
    old = await late.token("Keziah")
    await asyncio.sleep(0.7)  # past web_ticket_seconds
    await late.open()
    await late.auth(old)
    await late.expect_error("bad_token")
    assert await late.wait_closed() == 4001
    assert set(app.game.online) == {"isaac", "jessamine"}
    await close_all(owner, thief, elsewhere, rightful, forger, late)


async def test_the_socket_checks_the_origin(server):
    for headers in ({"Origin": "http://evil.example"}, {}):
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(f"http://{HOST}:{server.web_port}/ws", headers=headers)
            assert info.value.status == 403


# -- a browser that stops reading -----------------------------------------------------------------

async def raw_ws_login(app, token: str) -> socket.socket:
    """A bare WebSocket with a tiny receive buffer, logged in; the caller then stops reading."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.setblocking(False)
    await loop.sock_connect(sock, (HOST, app.web_port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET /ws HTTP/1.1\r\nHost: {HOST}:{app.web_port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://{HOST}:{app.web_port}\r\n\r\n").encode())
    seen = b""
    async with asyncio.timeout(5):
        while b"\r\n\r\n" not in seen:
            chunk = await loop.sock_recv(sock, 4096)
            assert chunk, "closed"
            seen += chunk
    assert b" 101 " in seen.split(b"\r\n", 1)[0]
    await loop.sock_sendall(sock, ws_frame({"type": "auth", "token": token}))
    async with asyncio.timeout(5):
        while b'"ready"' not in seen:
            chunk = await loop.sock_recv(sock, 4096)
            assert chunk, "closed"
            seen += chunk
    return sock


def ws_frame(obj: object) -> bytes:
    """One masked text frame, as a client sends it."""
    payload = json.dumps(obj).encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126])
                            + struct.pack("!H", n))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_a_browser_that_never_reads_is_cut_off_and_others_play_on(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'slow.db'}", output_limit=8192,
                             commands_per_second=1000)
    loop = asyncio.get_running_loop()
    sleepy_web = WebClient(app)
    sleepy = await raw_ws_login(app, await sleepy_web.token("Sleepy"))
    listener = await login(app, "Listener")
    try:
        # It asks for pages of help and never reads them.
        n = 0
        while "sleepy" in app.game.online:
            n += 1
            assert n < 20000, "the silent browser was never disconnected"
            await loop.sock_sendall(sleepy, ws_frame({"type": "command", "line": "help"}))
            await asyncio.sleep(0.001)
        assert app.metrics.registry.get_sample_value(
            "mythos_slow_client_disconnects_total") == 1
        await listener.expect("Sleepy has left the game.", timeout=10)
        await listener.command("look", "Exits:")
    finally:
        sleepy.close()
    await close_all(listener, sleepy_web)
