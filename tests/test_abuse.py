"""Floods and abuse through the real front doors: connection caps (per address and in total),
login throttling per address and per account, idle timeouts, a slow-loris HTTP client; and
security: passwords never in the log, ``password OLD NEW``, argon2 parameters from settings,
forged system messages, the static server's root, a protected ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid

import aiohttp
import pytest
import structlog

from mythos.engine import guard
from mythos.net import forwarded

from mudclient import HOST, PASSWORD, MudClient, http_get, login, wait_until
from webclient import WebClient

log = structlog.get_logger("test_abuse")


async def connect_from(port: int, local: str) -> MudClient:
    """A telnet client whose connection comes from the loopback address ``local``."""
    reader, writer = await asyncio.open_connection(HOST, port, local_addr=(local, 0))
    c = MudClient(reader, writer, gmcp=True, ttype="mythos-test", naws=(100, 40), mssp=False,
                  charset=None, eor=False, negotiate=True)
    c._task = asyncio.get_running_loop().create_task(c._read_loop())
    return c


async def close_all(*clients: MudClient) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


# -- connection caps ------------------------------------------------------------------------------

async def test_connection_cap_per_address(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'cap.db'}",
                             max_connections_per_address=3)
    first = [await MudClient.connect(HOST, app.telnet_port) for _ in range(3)]
    for c in first:
        await c.expect("By what name")
    extra = await MudClient.connect(HOST, app.telnet_port)
    await extra.expect(re.escape(guard.TOO_MANY_HERE))
    await extra.wait_closed()
    # Another address is not held back by this one.
    other = await connect_from(app.telnet_port, "127.0.0.2")
    await other.expect("By what name")
    # The three still work, and a place freed is a place for the next.
    first[0].send(f"create Capped {PASSWORD}")
    await first[0].expect("Exits:")
    await first[1].close()
    await wait_until(lambda: len(app.game.sessions) == 3, what="the freed place")
    again = await MudClient.connect(HOST, app.telnet_port)
    await again.expect("By what name")
    sample = app.metrics.registry.get_sample_value
    assert sample("mythos_connections_refused_total", {"reason": "address"}) == 1
    await close_all(*first, other, again)


async def test_behind_a_trusted_proxy_browsers_keep_their_own_addresses(start_server, tmp_path):
    """Behind a reverse proxy named in ``trusted_proxies`` (this test, on 127.0.0.1, plays the
    proxy), a browser is known by the address the proxy relayed for: the per-address cap
    counts it alone, ``metrics_loopback_only`` refuses it, and the resume cookie is Secure
    when the proxy was reached over HTTPS. A browser cannot pose as another by sending the
    header itself: the proxy's own entry, the last, is the one believed."""
    app = await start_server(f"sqlite:///{tmp_path / 'proxy.db'}", trusted_proxies=["127.0.0.1"],
                             max_connections_per_address=1, metrics_loopback_only=True)

    def browser(*chain: str, proto: str = "http") -> WebClient:
        return WebClient(app, headers={"X-Forwarded-For": ", ".join(chain),
                                       "X-Forwarded-Proto": proto})

    alice, bob = browser("203.0.113.7", proto="https"), browser("198.51.100.9")
    sly = browser("198.51.100.20", "203.0.113.7")  # its own claim, then what the proxy saw
    try:
        body = {"name": "Proxied", "password": PASSWORD, "profession": ""}
        async with alice.http.post(alice.base + "/api/create", json=body,
                                   headers={"Origin": alice.origin}) as resp:
            assert resp.status == 200, await resp.text()
            cookie = resp.headers.get("Set-Cookie", "")
            token = (await resp.json())["token"]
        assert "mythos_resume=" in cookie and "Secure" in cookie, cookie
        await alice.open()
        await alice.auth(token)
        await alice.expect("Exits:")
        assert app.game.online["proxied"].link.peer_host == "203.0.113.7"
        await bob.enter("Elsewhere")  # another address: the cap of one does not hold it back
        assert app.game.online["elsewhere"].link.peer_host == "198.51.100.9"
        token = await sly.token("Sly")
        await sly.open()
        await sly.auth(token)
        await sly.expect(re.escape(guard.TOO_MANY_HERE))  # 203.0.113.7 has its one place
        # /metrics for this machine only: not for a browser the proxy relays.
        async with bob.http.get(bob.base + "/metrics") as resp:
            assert resp.status == 403
        assert (await http_get(app.web_port, "/metrics"))[0] == 200  # no header: the machine
    finally:
        for w in (alice, bob, sly):
            await w.close()

    # A server that trusts no proxy ignores the header: anyone can send it.
    plain = await start_server(f"sqlite:///{tmp_path / 'plain.db'}")
    web = WebClient(plain, headers={"X-Forwarded-For": "203.0.113.7",
                                    "X-Forwarded-Proto": "https"})
    try:
        await web.enter("Direct")
        assert plain.game.online["direct"].link.peer_host == "127.0.0.1"
        resume = [c for c in web.http.cookie_jar if c.key == "mythos_resume"]
        assert resume and not resume[0]["secure"]  # the proxy's word on HTTPS is not taken
    finally:
        await web.close()


@pytest.mark.parametrize(("peer", "chain", "expected"), [
    ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
    ("127.0.0.1", ["203.0.113.7, 10.1.2.3"], "203.0.113.7"),  # through a second proxy of ours
    ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),  # every hop ours: the first
    ("127.0.0.1", ["bogus, 203.0.113.7:5123"], "203.0.113.7"),  # a port is dropped
    ("127.0.0.1", ["203.0.113.7, bogus"], "127.0.0.1"),  # garbled: no further than the proxy
    ("127.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
    ("::ffff:127.0.0.1", ["203.0.113.7"], "203.0.113.7"),  # a dual-stack socket's peer
    ("127.0.0.1", [], "127.0.0.1"),
    ("192.0.2.1", ["203.0.113.7"], "192.0.2.1"),  # not a proxy of ours
])
def test_the_client_behind_a_proxy_is_the_nearest_address_not_a_proxy(peer, chain, expected):
    trusted = forwarded.networks(["127.0.0.1", "10.0.0.0/8"])
    assert forwarded.client_of(peer, chain, [], "http", trusted) == (expected, "http")


async def test_connection_cap_in_total_covers_websocket_too(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'cap.db'}", max_connections=2)
    a = await login(app, "Alpha")
    b = await connect_from(app.telnet_port, "127.0.0.3")
    await b.expect("By what name")
    late = await connect_from(app.telnet_port, "127.0.0.4")
    await late.expect(re.escape(guard.TOO_MANY))
    await late.wait_closed()
    web = WebClient(app)
    try:
        token = await web.token("Webby")
        await web.open()
        await web.auth(token)
        await web.expect(re.escape(guard.TOO_MANY))
    finally:
        await web.http.close()
    await a.command("say still fine", "You say, 'still fine'")
    assert app.metrics.registry.get_sample_value(
        "mythos_connections_refused_total", {"reason": "total"}) == 2
    await close_all(a, b)


# -- login throttling -----------------------------------------------------------------------------

async def test_failed_logins_slow_down_the_address_and_the_account(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 't.db'}",
                             login_failure_delay=0.05)
    victim = await login(app, "Victim")
    await victim.close()
    throttle = app.game.throttle
    # Guesses at one account from two addresses: both addresses and the account are slowed.
    for local in ("127.0.0.5", "127.0.0.6"):
        c = await connect_from(app.telnet_port, local)
        await c.expect("By what name")
        for _ in range(2):
            await c.command("connect Victim wrongpassword", "do not match anyone", timeout=10)
        await c.close()
        assert throttle.delay(local) > 0
    assert throttle.delay("account:victim") >= 4 * 0.05  # four failures on the account
    # A third address is slowed for that account only (the account's count), not others.
    assert throttle.delay("127.0.0.7") == 0
    assert throttle.delay("account:someoneelse") == 0
    # The right password still gets in, and clears the account's count.
    ok = await connect_from(app.telnet_port, "127.0.0.7")
    await ok.expect("By what name")
    await ok.command(f"connect Victim {PASSWORD}", "Welcome back, Victim", timeout=10)
    assert throttle.delay("account:victim") == 0
    await ok.close()


# -- idle timeouts --------------------------------------------------------------------------------

async def test_idle_clients_are_hung_up_login_screen_sooner(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'idle.db'}",
                             login_idle_timeout=0.5, idle_timeout=2.0)
    lurker = await MudClient.connect(HOST, app.telnet_port)
    await lurker.expect("By what name")
    sleeper = await login(app, "Sleeper")
    busy = await login(app, "Busybody")
    await lurker.expect(re.escape(guard.IDLE_LOGIN), timeout=5)
    await lurker.wait_closed()
    assert "sleeper" in app.game.online  # the game's idle limit is longer
    n = 0
    while "sleeper" in app.game.online:
        n += 1
        assert n < 100, "the idle player was never hung up"
        await busy.command("look", "Exits:")
        await asyncio.sleep(0.1)
    await sleeper.expect("You have been idle too long", timeout=5)
    await sleeper.wait_closed()
    assert "busybody" in app.game.online  # who types stays
    await busy.command("look", "Exits:")
    await busy.close()


# -- slow loris -----------------------------------------------------------------------------------

async def test_slow_loris_on_the_http_port_is_cut_off(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'sl.db'}", http_idle_timeout=1.0)
    reader, writer = await asyncio.open_connection(HOST, app.web_port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for i in range(60):  # one header line every 0.1 s, never the blank line
        writer.write(f"X-Slow-{i}: yes\r\n".encode())
        try:
            data = await asyncio.wait_for(reader.read(1024), 0.1)
        except TimeoutError:
            continue
        except ConnectionError:
            closed = True
            break
        if data == b"":
            closed = True
            break
    writer.close()
    assert closed, "the slow-loris connection was kept open"
    status, _ = await http_get(app.web_port, "/health")
    assert status == 200


# -- passwords ------------------------------------------------------------------------------------

async def _log_text(server_log) -> str:
    marker = f"log-marker-{uuid.uuid4().hex}"
    log.info(marker)
    text = ""
    for _ in range(200):
        text = await asyncio.to_thread(server_log.read_text, encoding="utf-8", errors="replace")
        if marker in text:
            return text
        await asyncio.sleep(0.02)
    raise AssertionError("the log marker never arrived")


async def test_passwords_never_reach_the_log(start_server, tmp_path, server_log):
    app = await start_server(f"sqlite:///{tmp_path / 'pw.db'}")
    secrets = {k: f"{k}-{uuid.uuid4().hex[:10]}" for k in
               ("created", "wrong", "guided", "newpw", "apiwrong", "oddname")}
    c = await login(app, "Secretive", password=secrets["created"])
    await c.command(f"password {secrets['wrong']} {secrets['newpw']}", "not your current")
    await c.command(f"password {secrets['created']} {secrets['newpw']}",
                    "Your password is changed")
    await c.close()
    other = await MudClient.connect(HOST, app.telnet_port)
    await other.expect("By what name")
    await other.command(f"connect Secretive {secrets['wrong']}", "do not match", timeout=10)
    await other.command(f"connect {secrets['oddname']} {secrets['wrong']}", "do not match|name",
                        timeout=10)
    await other.command("Secretive", "Password:")
    await other.command(secrets["guided"], "do not match", timeout=10)
    await other.command("Secretive", "Password:")
    await other.command(secrets["newpw"], "Welcome back, Secretive", timeout=10)
    await other.close()
    web = WebClient(app)
    try:
        status, reply = await web.post("/api/login", {"name": "Secretive",
                                                      "password": secrets["apiwrong"]})
        assert status != 200 and secrets["apiwrong"] not in json.dumps(reply)
    finally:
        await web.http.close()
    text = await _log_text(server_log)
    assert "login_failed" in text and "password_changed" in text  # the events are logged...
    for key, secret in secrets.items():
        if key == "oddname":
            continue  # a name typed at the login screen may be logged (cut to 20 letters)
        assert secret not in text, f"the {key} password is in the log"


async def test_password_change_needs_the_old_one(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'pc.db'}")
    c = await login(app, "Changer")
    await c.command("password", "Usage: password")
    await c.command("password short", "Usage: password")
    await c.command(f"password {PASSWORD} short", "at least 8 characters. Nothing changed.")
    await c.command("password notmypassword newsecret99", "not your current password")
    await c.command(f"password {PASSWORD} newsecret99", "Your password is changed")
    await c.close()
    old = await MudClient.connect(HOST, app.telnet_port)
    await old.expect("By what name")
    await old.command(f"connect Changer {PASSWORD}", "do not match", timeout=10)
    await old.command("connect Changer newsecret99", "Welcome back, Changer", timeout=10)
    await old.close()


async def test_argon2_parameters_come_from_settings(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'a2.db'}", argon2_time_cost=1,
                             argon2_memory_kib=8192, argon2_parallelism=1)
    c = await login(app, "Hashed")
    account = await app.store.get_account("Hashed")
    assert account is not None and account.password_hash.startswith(
        "$argon2id$v=19$m=8192,t=1,p=1$")
    await c.command("password miskatonic1928 anothersecret", "Your password is changed")
    account = await app.store.get_account("Hashed")
    assert account is not None and "$m=8192,t=1,p=1$" in account.password_hash
    await c.close()


# -- forged messages ------------------------------------------------------------------------------

async def test_player_text_cannot_forge_system_lines_or_colour(server):
    app = server
    bob = await login(app, "Bobbin")  # ANSI on: a forged colour would show as an escape
    web = WebClient(app)
    try:
        await web.enter("Forger")
        await bob.expect("Forger has entered the game.")
        # A new line ends a command: what follows it is a command of its own, never words.
        await web.send({"type": "command", "line": "say hi\r\nThe staff announce: reboot"})
        await bob.expect(r"Forger says, 'hi'")
        forged = ("{R}The staff announce: the server reboots, type your password"
                  "\x1b[1;31m!\x1b]0;owned\x07\x00\x0b\x85")
        await web.send({"type": "command", "line": f"say {forged}"})
        await web.send({"type": "command", "line": f"emote {forged}"})
        said = await bob.expect(r"Forger says, '[^\n]*'")
        emoted = await bob.expect(r"Forger \{R\}The staff[^\n]*")
        for m in (said, emoted):
            assert "{R}The staff announce: the server reboots, type your password!" in m[0]
        raw = bob.text
        assert "\x1b[1;31mThe staff" not in raw and "\x1b]0;" not in raw
        assert "\x00" not in raw and "\x0b" not in raw and "\x85" not in raw
        # The forged announcement never begins a line of its own.
        assert not re.search(r"(?m)^The staff announce", bob.text_plain)
    finally:
        await web.http.close()
    await bob.close()


# -- the static files and /metrics ----------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/client/../pyproject.toml", "/client/..%2f..%2fpyproject.toml", "/client/%2e%2e/app.py",
    "/client/....//config.py", "/client/app.js%00.html", "/../../etc/passwd",
    "/client/%2fetc%2fpasswd", "/client/..\\..\\app.py", "/client/.", "/client/"])
async def test_static_server_refuses_paths_outside_its_root(server, path):
    status, body = await http_get(server.web_port, path)
    assert status in (400, 403, 404), (path, status)
    assert "root:" not in body and "import " not in body and "[project]" not in body


async def test_metrics_token(start_server, tmp_path):
    app = await start_server(f"sqlite:///{tmp_path / 'm.db'}", metrics_token="s3cr3t")
    url = f"http://{HOST}:{app.web_port}/metrics"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 401 and "mythos_" not in await resp.text()
        async with http.get(url, headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with http.get(url, headers={"Authorization": "Bearer s3cr3t"}) as resp:
            assert resp.status == 200 and "mythos_sessions" in await resp.text()
    status, _ = await http_get(app.web_port, "/health")  # health stays open
    assert status == 200


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


async def test_metrics_for_loopback_only(start_server, tmp_path):
    outside = await asyncio.to_thread(_outside_address)
    if outside is None:
        pytest.skip("this machine has no address but loopback")
    app = await start_server(f"sqlite:///{tmp_path / 'm.db'}", host="0.0.0.0",
                             metrics_loopback_only=True)
    status, body = await http_get(app.web_port, "/metrics")
    assert status == 200 and "mythos_sessions" in body
    reader, writer = await asyncio.open_connection(outside, app.web_port)
    writer.write(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert data.split()[1] == b"403" and b"mythos_sessions" not in data
