"""Byte-level fuzzing over real sockets. Telnet: random IAC sequences, subnegotiations that
never end, invalid and split UTF-8, NUL bytes, 1 MiB lines, escape sequences, random GMCP;
before login and in the game. WebSocket: binary frames, huge frames, malformed JSON, frames of
unknown or wrong types and shapes; before and after the token. Meanwhile a telnet player and
a browser player keep talking to each other: the server and all other sessions stay up, and
nothing lands in the log as an error.

The cases come from a seeded ``random.Random`` (the seed is in the test id), so a failure
can be replayed. How many run is written in docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from pathlib import Path

import aiohttp
import pytest

from mudclient import HOST, PASSWORD, login
from webclient import WebClient

IAC, SB, SE, WILL, WONT, DO, DONT, GA, NOP = 255, 250, 240, 251, 252, 253, 254, 249, 241
GMCP, NAWS, TTYPE, CHARSET, MSSP = 201, 31, 24, 42, 70
OPTIONS = [GMCP, NAWS, TTYPE, CHARSET, MSSP, 1, 3, 25, 86, 0, 255]

TELNET_CASES = 120
WS_CASES = 120


def telnet_junk(rng: random.Random) -> list[bytes]:
    """One fuzz case: the chunks to write, in order."""
    kind = rng.choice(["iac", "sb_open", "utf8", "nul", "huge", "escapes", "gmcp", "mixed",
                       "random"])
    if kind == "iac":
        return [bytes([IAC, rng.choice([WILL, WONT, DO, DONT, GA, NOP, SB, SE, IAC, 0, 7]),
                       rng.choice(OPTIONS)]) * rng.randint(1, 50)]
    if kind == "sb_open":  # a subnegotiation without its end, maybe longer than allowed
        body = bytes(rng.randrange(256) for _ in range(rng.choice([10, 5000, 70_000])))
        return [bytes([IAC, SB, rng.choice(OPTIONS)]), body.replace(b"\xff", b"")]
    if kind == "utf8":  # invalid sequences, and a valid one split across writes
        bad = rng.choice([b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc0\xaf", b"\xed\xa0\x80",
                          b"\xfe\xfe", b"\x80\x80\x80"])
        return [b"say ok " + bad, b"\xe2\x82", b"\xac tail\r\n", bad + b"\r\n"]
    if kind == "nul":
        return [b"say a\x00b\x00\r\n", b"\x00" * rng.randint(1, 2000), b"\r\0look\r\n"]
    if kind == "huge":  # a 1 MiB line, with or without its end
        return [b"say " + b"y" * (1 << 20) + (b"\r\n" if rng.random() < 0.5 else b"")]
    if kind == "escapes":
        return ["say \x1b[2J\x1b[31mred\x1b]0;title\x07\x1bc\x9b1m \u202eevil\r\n".encode(),
                b"emote \x1b[?1049h\x08\x08\x07\r\n"]
    if kind == "gmcp":
        payload = rng.choice([b"Core.Hello {", b"Core.Supports.Set [1,2,{}]", b"Char.Vitals x",
                              b"A" * 300, b"Core.Ping", b"Comm.Channel.List null",
                              b'Char.Items.Contents {"id": "x"}', b"\xff\xfe", b"",
                              b"Core.Supports.Add " + b"[" * 500])
        return [bytes([IAC, SB, GMCP]) + payload.replace(b"\xff", b"\xff\xff")
                + bytes([IAC, SE])]
    if kind == "mixed":
        return [bytes([IAC, DO, GMCP, IAC, SB, NAWS, 0, 0, 0]), b"look\r\n",
                bytes([IAC, SE, IAC, SB, TTYPE, 0]) + b"x" * 100 + bytes([IAC, SE]),
                b"say mixed\r\n"]
    return [bytes(rng.randrange(256) for _ in range(rng.randint(1, 4000)))]


async def telnet_case(port: int, rng: random.Random, name: str | None) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        if name is not None:
            writer.write(f"create {name} {PASSWORD}\r\n".encode())
        for chunk in telnet_junk(rng):
            writer.write(chunk)
            await writer.drain()
            if rng.random() < 0.3:
                await asyncio.sleep(0.01)
        # Read a little of what comes back (or find it hung up), then leave.
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(0.3):
                while await reader.read(65536):
                    pass
    except ConnectionError:
        pass  # hung up on: allowed for abuse
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def ws_junk(rng: random.Random) -> list[str | bytes]:
    kind = rng.choice(["binary", "huge", "json", "types", "shapes", "commands"])
    if kind == "binary":
        return [bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))]
    if kind == "huge":
        return ['{"type": "command", "line": "say ' + "z" * (70 * 1024) + '"}']
    if kind == "json":
        return [rng.choice(['{"type":', "not json", "", "[", "{}", "null", "\x00",
                            '{"type": "command", "line": "say \\ud800"}', '"str"', "1e999",
                            "[" * 3000 + "]" * 3000])]
    if kind == "types":
        return [json.dumps({"type": rng.choice(["", "x", "AUTH", "ping", "close", "gmcp ",
                                                "command\u0000", 5, None, [], {}])})]
    if kind == "shapes":
        return [json.dumps(rng.choice([
            {"type": "command", "line": 5}, {"type": "command", "line": None},
            {"type": "command", "line": ["say", "x"]}, {"type": "command"},
            {"type": "gmcp", "package": 5}, {"type": "gmcp", "package": "x" * 500},
            {"type": "gmcp", "package": "Core.Supports.Set", "data": "nope"},
            {"type": "gmcp", "package": "Char.Items.Contents", "data": {"id": [1]}},
            {"type": "size", "width": -5, "height": 10 ** 30},
            {"type": "size", "width": "wide"}, {"type": "auth", "token": 5},
            {"type": "auth", "token": "x" * 10000}, {"type": "auth"},
            [1, 2, 3], {"type": "command", "line": "say " + "\r\n" * 200}]))]
    lines = ["say \x1b[31mred{R}", "look\r\nlook\nlook\rlook", "emote \u202e\u0000x",
             "give 99999999999999999999 coins to me", "get all.all from all"]
    return [json.dumps({"type": "command", "line": rng.choice(lines)})]


API_JUNK = [b"[" * 3000, b"\xff\xfe{", b"{" + b"x" * 70_000, b'{"name": 5, "password": []}',
            b'{"name": "\\ud800", "password": "\\udfff\\u0000"}', b"", b"null"]


async def ws_case(app, rng: random.Random, name: str | None) -> None:
    web = WebClient(app)
    try:
        if rng.random() < 0.3:  # the login API takes junk too
            path = rng.choice(["/api/login", "/api/create"])
            with contextlib.suppress(aiohttp.ClientError, ValueError):
                status, _ = await web.post(path, raw=rng.choice(API_JUNK),
                                           headers={"Content-Type": "application/json"})
                assert status < 500, (path, status)
        if name is not None:
            token = await web.token(name)
            await web.open()
            await web.auth(token)
        else:
            await web.open()
        assert web.ws is not None
        for frame in ws_junk(rng):
            if web.ws.closed:
                break
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                if isinstance(frame, bytes):
                    await web.ws.send_bytes(frame)
                else:
                    await web.ws.send_str(frame)
        await asyncio.sleep(0.05)
    finally:
        if web.ws is not None:
            await web.ws.close()
        await web.http.close()


def _errors_since(log: Path, start: int) -> list[str]:
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    return [ln for ln in text.splitlines()
            if "Traceback" in ln or "[error" in ln]


async def _bystanders_still_talk(app, tel, web, n: int) -> None:
    await tel.command(f"say tel {n}", f"You say, 'tel {n}'", timeout=10)
    await web.expect(f"Telwatch says, 'tel {n}'", timeout=10)
    await web.command(f"say web {n}", f"You say, 'web {n}'", timeout=10)
    await tel.expect(f"Webwatch says, 'web {n}'", timeout=10)


@pytest.mark.parametrize("seed", [9])
async def test_fuzzing_both_front_doors_keeps_everyone_up(start_server, tmp_path, server_log,
                                                           seed):
    app = await start_server(f"sqlite:///{tmp_path / 'fuzz.db'}",
                             commands_per_second=1000, channel_rate_limits=False,
                             login_failure_delay=0.0, max_connections_per_address=500,
                             argon2_time_cost=1, argon2_memory_kib=8192, argon2_parallelism=1)
    start = (await asyncio.to_thread(server_log.stat)).st_size
    tel = await login(app, "Telwatch")
    web = WebClient(app)
    await web.enter("Webwatch")
    rng = random.Random(seed)
    try:
        for batch in range(0, TELNET_CASES, 10):
            await asyncio.gather(*(
                telnet_case(app.telnet_port, random.Random(rng.random()),
                            f"Tfuzz{chr(97 + (batch // 10) % 26)}{chr(97 + i)}"
                            if i % 3 == 0 else None)
                for i in range(10)))
            await _bystanders_still_talk(app, tel, web, batch)
        for batch in range(0, WS_CASES, 10):
            await asyncio.gather(*(
                ws_case(app, random.Random(rng.random()),
                        f"Wfuzz{chr(97 + (batch // 10) % 26)}{chr(97 + i)}"
                        if i % 3 == 0 else None)
                for i in range(10)))
            await _bystanders_still_talk(app, tel, web, 1000 + batch)
        # Everyone who fuzzed is gone; only the two watchers remain.
        await asyncio.sleep(0.3)
        assert {c for c in app.game.online} >= {"telwatch", "webwatch"}
        assert app.metrics.registry.get_sample_value("mythos_command_errors_total") in (None, 0)
    finally:
        await tel.close()
        await web.http.close()
    errors = await asyncio.to_thread(_errors_since, server_log, start)
    assert not errors, "errors in the server log:\n" + "\n".join(errors[:20])
