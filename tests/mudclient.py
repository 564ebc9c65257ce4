"""A small telnet client for tests: raw asyncio streams, so a test controls every byte.

It answers the server's negotiation the way a MUD client would (GMCP, NAWS, TTYPE, optionally
MSSP and CHARSET), refuses everything else, and collects what arrives: text (ANSI kept in
``text``, stripped in ``text_plain``), GMCP messages and MSSP variables.

    c = await MudClient.connect("127.0.0.1", port)
    await c.expect("By what name")
    await c.command("create Ashley secret123", r"Independence Square")
    room = await c.expect_gmcp("Room.Info")
    await c.close()
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
import struct
from collections.abc import Callable, Sequence
from typing import Any

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
GA, EOR_CMD, NOP = 249, 239, 241
ECHO, TTYPE, EOR, NAWS, CHARSET, MSSP, GMCP = 1, 24, 25, 31, 42, 70, 201
TTYPE_IS, TTYPE_SEND = 0, 1
CHARSET_REQUEST, CHARSET_ACCEPTED, CHARSET_REJECTED = 1, 2, 3
MSSP_VAR, MSSP_VAL = 1, 2

#: ANSI escape sequences (CSI: colours, cursor moves).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: An escape sequence cut off at the end of what has arrived so far.
_ANSI_TAIL = re.compile(r"\x1b(\[[0-9;?]*[ -/]*)?$")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Awaiting:
    """What both test clients (telnet here, ``webclient.WebClient``) wait with: ``_changed`` is
    set (and replaced) whenever something arrives, ``closed`` once the connection is gone."""

    closed: bool
    _changed: asyncio.Event
    _gone = "connection closed"

    async def _wait_for(self, check: Callable[[], Any], timeout: float, what: Callable[[], str]
                        ) -> Any:
        """``check()`` once it is not None; AssertionError after ``timeout`` or a close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = check()
            if result is not None:
                return result
            left = deadline - loop.time()
            if self.closed or left <= 0:
                state = self._gone if self.closed else f"timed out after {timeout}s"
                raise AssertionError(f"{state} waiting for {what()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)


class MudClient(Awaiting):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 gmcp: bool, ttype: str | Sequence[str] | None, naws: tuple[int, int] | None,
                 mssp: bool, charset: str | None, eor: bool, negotiate: bool) -> None:
        self._reader = reader
        self._writer = writer
        self.want_gmcp = gmcp
        self.ttypes = [ttype] if isinstance(ttype, str) else list(ttype or [])
        self._ttype_index = 0
        self.naws = naws
        self.want_mssp = mssp
        self.want_charset = charset
        self.want_eor = eor
        self.negotiate = negotiate

        self._raw: list[str] = []  # text as received, ANSI codes kept (see ``text``)
        self._plain = ""  # the same without ANSI codes (see ``text_plain``)
        self._ansi_tail = ""  # an escape sequence not complete yet
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._cursor = 0  # into text_plain: where the next expect starts looking
        #: GMCP messages received, in order: (package, data). Data that is not JSON is kept as
        #: the raw string.
        self.gmcp: list[tuple[str, Any]] = []
        self._gmcp_cursor: dict[str, int] = {}
        #: MSSP variables (the last MSSP message), a value or a list of values per name.
        self.mssp: dict[str, str | list[str]] = {}
        self.mssp_count = 0
        #: Every negotiation command received: (cmd, option), e.g. (WILL, GMCP).
        self.negotiations: list[tuple[int, int]] = []
        #: Options in effect: the server's (we said DO) and ours (we said WILL).
        self.server_options: set[int] = set()
        self.our_options: set[int] = set()
        #: True while the server asked to do the echoing (WILL ECHO: a password prompt).
        self.echo_off = False
        self.charset_accepted: str | None = None
        #: IAC GA / IAC EOR received (prompt ends).
        self.prompt_ends = 0
        self.closed = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, host: str, port: int, *, gmcp: bool = True,
                      ttype: str | Sequence[str] | None = "mythos-test",
                      naws: tuple[int, int] | None = (100, 40), mssp: bool = False,
                      charset: str | None = None, eor: bool = False,
                      negotiate: bool = True) -> MudClient:
        """Connect. ``ttype`` may be a list, answered in turn (an MTTS cycle); ``None`` refuses
        TTYPE. ``mssp``: answer WILL MSSP with DO MSSP. ``charset``: accept CHARSET with that
        name. ``eor``: accept WILL EOR. ``negotiate=False``: a client that ignores telnet
        altogether (like ``nc``): it answers nothing, though it still strips what it gets."""
        reader, writer = await asyncio.open_connection(host, port)
        c = cls(reader, writer, gmcp=gmcp, ttype=ttype, naws=naws, mssp=mssp, charset=charset,
                eor=eor, negotiate=negotiate)
        c._task = asyncio.get_running_loop().create_task(c._read_loop())
        return c

    # -- sending ----------------------------------------------------------------------------
    def send(self, line: str) -> None:
        self.send_raw((line + "\r\n").encode("utf-8"))

    def send_raw(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    def send_gmcp(self, package: str, data: Any = None) -> None:
        payload = package.encode("utf-8")
        if data is not None:
            payload += b" " + json.dumps(data).encode("utf-8")
        self.send_raw(bytes([IAC, SB, GMCP]) + payload.replace(b"\xff", b"\xff\xff")
                      + bytes([IAC, SE]))

    def send_iac(self, *codes: int) -> None:
        self.send_raw(bytes([IAC, *codes]))

    async def command(self, line: str, pattern: str | re.Pattern[str],
                      timeout: float = 5.0) -> re.Match[str]:
        self.send(line)
        return await self.expect(pattern, timeout)

    # -- waiting ----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """Text received, decoded as UTF-8 (invalid bytes replaced), ANSI codes kept."""
        if len(self._raw) > 1:
            self._raw[:] = ["".join(self._raw)]
        return self._raw[0] if self._raw else ""

    @property
    def text_plain(self) -> str:
        """Text received, without ANSI codes."""
        return self._plain

    @property
    def unread(self) -> str:
        """Plain text received since the last successful ``expect``."""
        return self.text_plain[self._cursor:]

    async def expect(self, pattern: str | re.Pattern[str], timeout: float = 5.0
                     ) -> re.Match[str]:
        """Wait until the plain text received since the last expect matches ``pattern``
        (``re.search``); consume the text up to the end of the match."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern

        def check() -> re.Match[str] | None:
            plain = self.text_plain
            m = rx.search(plain, self._cursor)
            if m is not None:
                self._cursor = m.end()
            return m

        def what() -> str:
            return f"{rx.pattern!r}; received since last expect:\n{self.unread[-3000:]!r}"

        return await self._wait_for(check, timeout, what)

    async def expect_gmcp(self, package: str, timeout: float = 5.0,
                          where: Callable[[Any], bool] | None = None) -> Any:
        """The data of the next GMCP message of ``package`` (case-insensitive) received after
        the last one of that package consumed, optionally the next for which ``where(data)``
        is true."""
        key = package.lower()

        def check() -> tuple[Any] | None:
            start = self._gmcp_cursor.get(key, 0)
            for i in range(start, len(self.gmcp)):
                pkg, data = self.gmcp[i]
                if pkg.lower() == key and (where is None or where(data)):
                    self._gmcp_cursor[key] = i + 1
                    return (data,)
            return None

        def what() -> str:
            return f"GMCP {package}; received: {[p for p, _ in self.gmcp]}"

        return (await self._wait_for(check, timeout, what))[0]

    async def expect_mssp(self, timeout: float = 5.0) -> dict[str, str | list[str]]:
        await self._wait_for(lambda: self.mssp_count or None, timeout, lambda: "MSSP")
        return self.mssp

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the server hangs up."""
        if not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)  # type: ignore[arg-type]
        if not self.closed:
            raise AssertionError(f"server did not hang up within {timeout}s")

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 2)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.closed = True

    def abort(self) -> None:
        """Vanish without a goodbye (RST when possible)."""
        transport = self._writer.transport
        transport.abort()

    # -- receiving --------------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _read_loop(self) -> None:
        data_buf = bytearray()
        state = "data"
        cmd = 0
        sb = bytearray()
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    break
                for b in chunk:
                    if state == "data":
                        if b == IAC:
                            state = "iac"
                        else:
                            data_buf.append(b)
                    elif state == "iac":
                        if b == IAC:
                            data_buf.append(IAC)
                            state = "data"
                        elif b in (DO, DONT, WILL, WONT):
                            cmd, state = b, "opt"
                        elif b == SB:
                            sb.clear()
                            state = "sb"
                        else:
                            if b in (GA, EOR_CMD):
                                self.prompt_ends += 1
                            state = "data"
                    elif state == "opt":
                        self._negotiate(cmd, b)
                        state = "data"
                    elif state == "sb":
                        if b == IAC:
                            state = "sb_iac"
                        else:
                            sb.append(b)
                    elif state == "sb_iac":
                        if b == SE:
                            self._subnegotiation(bytes(sb))
                            state = "data"
                        elif b == IAC:
                            sb.append(IAC)
                            state = "sb"
                        else:  # a broken subnegotiation: drop it
                            state = "data"
                if data_buf:
                    self._add_text(self._decoder.decode(bytes(data_buf)))
                    data_buf.clear()
                self._notify()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self._notify()

    def _add_text(self, text: str) -> None:
        self._raw.append(text)
        text = self._ansi_tail + text
        m = _ANSI_TAIL.search(text)
        self._ansi_tail = m.group() if m else ""
        self._plain += strip_ansi(text[:m.start()] if m else text)

    def _negotiate(self, cmd: int, opt: int) -> None:
        self.negotiations.append((cmd, opt))
        if opt == ECHO and cmd in (WILL, WONT):
            self.echo_off = cmd == WILL
        if not self.negotiate:
            return
        if cmd == WILL:
            accept = ((opt == GMCP and self.want_gmcp) or (opt == MSSP and self.want_mssp)
                      or (opt == CHARSET and self.want_charset is not None)
                      or (opt == EOR and self.want_eor) or opt == ECHO)
            if accept and opt not in self.server_options:
                self.server_options.add(opt)
                self.send_iac(DO, opt)
            elif not accept:
                self.send_iac(DONT, opt)
        elif cmd == WONT and opt in self.server_options:
            self.server_options.discard(opt)
            self.send_iac(DONT, opt)
        elif cmd == DO:
            accept = (opt == NAWS and self.naws is not None) or (opt == TTYPE and self.ttypes)
            if accept and opt not in self.our_options:
                self.our_options.add(opt)
                self.send_iac(WILL, opt)
                if opt == NAWS:
                    self.send_naws(*self.naws)  # type: ignore[misc]
            elif not accept:
                self.send_iac(WONT, opt)
        elif cmd == DONT and opt in self.our_options:
            self.our_options.discard(opt)
            self.send_iac(WONT, opt)

    def send_naws(self, width: int, height: int) -> None:
        size = struct.pack("!HH", width, height).replace(b"\xff", b"\xff\xff")
        self.send_raw(bytes([IAC, SB, NAWS]) + size + bytes([IAC, SE]))

    def _subnegotiation(self, sb: bytes) -> None:
        if not sb:
            return
        opt, body = sb[0], sb[1:]
        if opt == GMCP:
            text = body.decode("utf-8", errors="replace")
            package, _, rest = text.partition(" ")
            data: Any = None
            if rest.strip():
                try:
                    data = json.loads(rest)
                except ValueError:
                    data = rest
            self.gmcp.append((package, data))
        elif opt == MSSP:
            self.mssp = _parse_mssp(body)
            self.mssp_count += 1
        elif not self.negotiate:
            return
        elif opt == TTYPE and body[:1] == bytes([TTYPE_SEND]) and self.ttypes:
            name = self.ttypes[min(self._ttype_index, len(self.ttypes) - 1)]
            self._ttype_index += 1
            self.send_raw(bytes([IAC, SB, TTYPE, TTYPE_IS]) + name.encode("ascii")
                          + bytes([IAC, SE]))
        elif opt == CHARSET and body[:1] == bytes([CHARSET_REQUEST]) and len(body) > 1:
            sep = body[1:2]
            offered = [c.decode("ascii", "replace") for c in body[2:].split(sep)]
            want = self.want_charset
            if want is not None and any(c.lower() == want.lower() for c in offered):
                self.charset_accepted = want
                self.send_raw(bytes([IAC, SB, CHARSET, CHARSET_ACCEPTED]) + want.encode("ascii")
                              + bytes([IAC, SE]))
            else:
                self.send_raw(bytes([IAC, SB, CHARSET, CHARSET_REJECTED, IAC, SE]))


def _parse_mssp(body: bytes) -> dict[str, str | list[str]]:
    """MSSP payload: (VAR name (VAL value)+)* -> {name: value or [values]}."""
    out: dict[str, list[str]] = {}
    name: str | None = None
    kind = b""
    for part in re.split(rb"([\x01\x02])", body):
        if part in (b"\x01", b"\x02"):
            kind = part
            continue
        text = part.decode("utf-8", errors="replace")
        if kind == b"\x01":
            name = text
            out.setdefault(name, [])
        elif kind == b"\x02" and name is not None:
            out[name].append(text)
        kind = b""
    return {k: (v[0] if len(v) == 1 else v) for k, v in out.items()}


# -- helpers the test modules share ---------------------------------------------------------------

HOST = "127.0.0.1"
PASSWORD = "miskatonic1928"
#: What a modern MUD client says it supports.
SUPPORTS = ["Char 1", "Room 1", "Comm.Channel 1"]


async def login(app: Any, name: str, *, create: bool = True, password: str = PASSWORD,
                supports: list[str] | None = SUPPORTS, **options: Any) -> MudClient:
    """A client connected to ``app`` (a running server) and in the game as ``name``."""
    c = await MudClient.connect(HOST, app.telnet_port, **options)
    await c.expect("By what name")
    if supports is not None:
        c.send_gmcp("Core.Supports.Set", supports)
    c.send(f"{'create' if create else 'connect'} {name} {password}")
    await c.expect("Exits:")
    return c


async def staff(app: Any, name: str, role: str = "admin", **options: Any) -> MudClient:
    """A client logged in as ``name`` with ``role`` (made a player, given the role, back in);
    ``options`` as for ``login``."""
    c = await login(app, name)
    c.send("quit")
    await c.wait_closed()
    assert await app.store.set_role(name, role)
    return await login(app, name, create=False, **options)


async def http_get(port: int, path: str) -> tuple[int, str]:
    """A plain HTTP/1.0 GET: (status, body)."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


async def wait_until(check: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.02)
