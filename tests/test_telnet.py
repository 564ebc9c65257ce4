"""The telnet front door: negotiation, GMCP, MSSP, colour, and clients that misbehave.

Everything here goes through a real socket to the real game (the ``server`` fixture); the pure
helpers (line splitting, the colour decision) are tested directly at the end."""

from __future__ import annotations

import asyncio
import re

import pytest

from mythos.net.telnet import LineSplitter, colour_from_ttypes

from mudclient import GMCP, HOST, MSSP, PASSWORD, WILL, MudClient
from mudclient import login as play_login

ROOM = "Independence Square"
TOO_LONG = "Your line was too long (max 4096 characters) and was ignored."


async def login(server, name: str, **options) -> MudClient:
    """In the game, with the negotiation options given and no Core.Supports.Set."""
    return await play_login(server, name, supports=None, **options)


async def still_plays(c: MudClient) -> None:
    """The session answers a command as usual."""
    await c.command("look", ROOM)
    await c.expect("Exits:")


# -- negotiation ---------------------------------------------------------------------------------

async def test_gmcp_negotiated_and_handshake_accepted(server):
    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    assert (WILL, GMCP) in c.negotiations and GMCP in c.server_options
    c.send_gmcp("Core.Hello", {"client": "mudclient", "version": "1.0"})
    # Only Room: the server must then leave out Char.* for this client.
    c.send_gmcp("Core.Supports.Set", ["Room 1"])
    c.send_gmcp("Core.Ping")
    await c.expect_gmcp("Core.Ping")

    await c.command(f"create Hella {PASSWORD}", ROOM)
    info = await c.expect_gmcp("Room.Info")
    assert info["num"] == "arkham.square" and info["name"] == ROOM
    assert "n" in info["exits"]
    await c.command("north", "Exits:")
    moved = await c.expect_gmcp("Room.Info")
    assert moved["num"] == info["exits"]["n"]
    await c.command("south", ROOM)
    assert not [p for p, _ in c.gmcp if p.lower().startswith("char.")], c.gmcp

    # A client that says nothing about what it supports gets the core set, Char included.
    d = await login(server, "Dorian")
    vitals = await d.expect_gmcp("Char.Vitals")
    assert {"hp", "maxhp", "lucidity", "maxlucidity"} <= vitals.keys()
    await asyncio.gather(c.close(), d.close())


async def test_no_gmcp_for_a_client_that_refuses_it(server):
    c = await login(server, "Plainfield", gmcp=False)
    await still_plays(c)
    assert GMCP not in c.server_options
    assert c.gmcp == []
    await c.close()


async def test_mssp_when_the_client_asks(server):
    c = await MudClient.connect(HOST, server.telnet_port, mssp=True)
    mssp = await c.expect_mssp()
    assert {"NAME", "PLAYERS", "UPTIME"} <= mssp.keys()
    assert int(mssp["PLAYERS"]) >= 0 and int(mssp["UPTIME"]) > 1_600_000_000
    await c.expect("By what name")

    # Offered to everyone, sent only to those who say DO MSSP.
    d = await MudClient.connect(HOST, server.telnet_port)
    await d.expect("By what name")
    assert (WILL, MSSP) in d.negotiations and d.mssp_count == 0
    await asyncio.gather(c.close(), d.close())


async def test_client_that_ignores_negotiation_is_greeted_at_once_and_plays(server):
    c = await MudClient.connect(HOST, server.telnet_port, negotiate=False)
    # Not held back until negotiation gives up (telnetlib3 would wait seconds for that).
    await c.expect("By what name", timeout=2.0)
    await c.command(f"create Nickel {PASSWORD}", ROOM)
    await c.expect("Exits:")
    await still_plays(c)
    await c.command("north", "Exits:")
    assert c.gmcp == [] and c.mssp_count == 0
    await c.close()


async def test_password_prompt_hides_the_typing(server):
    c = await MudClient.connect(HOST, server.telnet_port)
    await c.expect("By what name")
    await c.command("Wilbur", r"\(yes/no\)")
    await c.command("yes", "password")
    await asyncio.sleep(0)  # the IAC WILL ECHO came with the prompt
    assert c.echo_off
    await c.command(PASSWORD, "Repeat")
    assert c.echo_off
    c.send(PASSWORD)
    await c.expect("profession")
    assert not c.echo_off
    await c.close()


async def test_colour_follows_the_terminal(server):
    colour = await login(server, "Xterm", ttype=["MUDLET", "XTERM-256COLOR", "MTTS 2825"])
    dumb = await login(server, "Dumbo", ttype="dumb")
    mtts_plain = await login(server, "Monochrome", ttype=["MUDLET", "VT100", "MTTS 2824"])
    silent = await login(server, "Silent", ttype=None, naws=None)  # plain telnet: colour on
    for c in (colour, dumb, mtts_plain, silent):
        await still_plays(c)
    assert "\x1b[" in colour.text and "\x1b[" in silent.text
    # Everything, the greeting included, is rendered for the terminal the client reported.
    assert "\x1b[" not in dumb.text
    assert "\x1b[" not in mtts_plain.text
    await asyncio.gather(*(c.close() for c in (colour, dumb, mtts_plain, silent)))


async def test_terminal_facts_reach_the_session(server):
    c = await login(server, "Mudlet", naws=(132, 43),
                    ttype=["MUDLET", "XTERM-256COLOR", "MTTS 2825"], charset="UTF-8")
    await c.command("say caf\u00e9", "You say, 'caf\u00e9'")
    assert c.charset_accepted == "UTF-8"
    session = next(s for s in server.game.sessions if s.char and s.char.name == "Mudlet")
    assert (session.width, session.height) == (132, 43)
    assert session.ttype == "MUDLET" and session.ansi is True
    assert session.conn.kind == "telnet" and session.conn.peer.startswith("127.0.0.1:")
    c.send_naws(90, 30)  # the window changed
    await still_plays(c)
    assert (session.width, session.height) == (90, 30)
    await c.close()


# -- input that is not what it should be --------------------------------------------------------

async def test_overlong_line_is_refused_once_and_the_session_goes_on(server):
    c = await login(server, "Longfellow")
    c.send_raw(b"say " + b"x" * (1 << 20) + b"\r\n")
    await c.expect(re.escape(TOO_LONG), timeout=10)
    await still_plays(c)
    await c.command("say still here", "You say, 'still here'")
    assert c.text_plain.count(TOO_LONG) == 1
    # A line at the limit is a line.
    c.send("say " + "y" * (4096 - 4))
    await c.expect("You say, 'yyy")
    assert c.text_plain.count(TOO_LONG) == 1
    await c.close()


async def test_invalid_utf8_and_nul_bytes_do_not_break_the_session(server):
    c = await login(server, "Garbled")
    c.send_raw(b"say caf\xc3\xa9 \xc3\x28 \x80\xfe \xff\xff end\r\n")  # \xff\xff: one 0xFF byte
    await c.expect("You say, 'caf\u00e9")
    c.send_raw(b"say nul\x00byte\x01\x1b[31mred\r\n")
    await c.expect("You say, 'nul")
    c.send_raw(b"look\r\0")  # CR NUL ends a line too
    await c.expect(ROOM)
    c.send_raw(b"say d\xc3")  # half a character, then the rest
    await asyncio.sleep(0.05)
    c.send_raw(b"\xa9j\xc3\xa0 vu\n")
    await c.expect("You say, 'd\u00e9j\u00e0 vu'")
    await still_plays(c)
    await c.close()


GARBAGE = [
    bytes([255, 251, 1]),                           # WILL ECHO, which a client may not send
    bytes([255, 0, 255, 7]),                        # no such commands
    bytes([255, 250, 255, 240]),                    # SB with no option
    bytes([255, 250, 31, 1, 255, 240]),             # NAWS too short
    bytes([255, 250, 24, 0]) + b"\xc3\x28" + bytes([255, 240]),  # TTYPE IS not ASCII
    bytes([255, 250, 42, 9, 255, 240]),             # CHARSET nonsense
    bytes([255, 250, 201]) + b"Core.Hello {not json" + bytes([255, 240]),
    bytes([255, 250, 201]) + b"\xff\xff\xfe" + bytes([255, 240]),
    bytes([255, 250, 99]) + b"x" * 100 + bytes([255, 240]),  # unknown option
    bytes([255, 253, 24, 255, 251, 24, 255, 254, 201, 255, 252, 31]),
]


async def test_garbage_iac_and_unterminated_subnegotiation_leave_others_alone(server):
    alice = await login(server, "Alice")
    bob = await login(server, "Bob")
    for junk in GARBAGE:
        bob.send_raw(junk)
    bob.send("")  # ends whatever stray bytes the garbage left as a line
    bob.send("look")
    await bob.expect(ROOM)  # Bob survived his own garbage
    # Then an IAC SB that never ends, and he is gone.
    bob.send_raw(bytes([255, 250, 201]) + b"Char.Vitals {" + b"x" * 1000)
    await asyncio.sleep(0.05)
    bob.abort()
    await still_plays(alice)
    # A subnegotiation far longer than any client needs: the server hangs up on it.
    dan = await login(server, "Dan")
    dan.send_raw(bytes([255, 250, 201]) + b"Char.Vitals " + b"{" * 200_000)
    await dan.wait_closed()
    await still_plays(alice)
    carol = await login(server, "Carol")
    await still_plays(carol)
    await asyncio.gather(alice.close(), carol.close(), dan.close())


async def test_client_vanishing_mid_command_does_not_disturb_others(server):
    alice = await login(server, "Abigail")
    # Gone while the password is being hashed.
    ghost = await MudClient.connect(HOST, server.telnet_port)
    await ghost.expect("By what name")
    ghost.send(f"create Ghost {PASSWORD}")
    ghost.abort()
    # Gone with commands still queued.
    bob = await login(server, "Barnabas")
    bob.send_raw(b"look\r\nnorth\r\nsouth\r\nlook\r\nsay bye\r\n" * 4)
    await bob.close()
    await still_plays(alice)
    await alice.command("say still here", "You say, 'still here'")
    # His session ended properly: he can come back.
    again = await MudClient.connect(HOST, server.telnet_port)
    await again.expect("By what name")
    await again.command(f"connect Barnabas {PASSWORD}", "Exits:", timeout=10)
    await asyncio.gather(alice.close(), again.close())


async def test_server_hangs_up_on_quit(server):
    c = await login(server, "Quentin")
    c.send("quit")
    await c.wait_closed()
    assert c.closed


# -- the pure parts ------------------------------------------------------------------------------

@pytest.mark.parametrize("chunks, lines", [
    (["look\r\n"], ["look"]),
    (["a\nb\rc\r\nd\r\0e"], ["a", "b", "c", "d"]),
    (["a\r", "\nb\r", "\0c\r", "d\n"], ["a", "b", "c", "d"]),
    (["\r\n\n"], ["", ""]),
    (["nul\0inside\x01\r\n"], ["nul\0inside\x01"]),
])
def test_line_splitter(chunks, lines):
    s = LineSplitter(4096)
    got = [x for chunk in chunks for x in s.feed(chunk)]
    assert got == lines


def test_line_splitter_drops_overlong_lines_once():
    s = LineSplitter(10)
    got = s.feed("0123456789\r\n" + "x" * 8)
    got += s.feed("y" * 50)
    got += s.feed("z" * 50 + "\r\nok\r\n")
    assert got == ["0123456789", LineSplitter.TOO_LONG, "ok"]


@pytest.mark.parametrize("ttypes, ansi", [
    ([], True),
    (["xterm"], True),
    (["dumb"], False),
    (["DUMB"], False),
    (["TINTIN++", "XTERM-256COLOR", "MTTS 2825"], True),
    (["MUDLET", "VT100", "MTTS 2824"], False),
    (["MTTS 0"], False),
])
def test_colour_decision(ttypes, ansi):
    assert colour_from_ttypes(ttypes) is ansi
