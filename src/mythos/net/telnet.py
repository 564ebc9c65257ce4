"""The telnet listener: telnetlib3 does the IAC protocol, this module does the rest.

One connection is one ``_MythosTelnet`` protocol (telnetlib3's ``TelnetServer`` in bytes mode)
plus one ``TelnetConnection`` (what the engine writes to) plus one reader task (what feeds the
engine's ``Session``). telnetlib3 parses IAC sequences and keeps the option state; everything a
player sees is decided here:

- Offers at connect, all at once: ``DO TTYPE``, ``DO NAWS``, ``WILL GMCP``, ``WILL MSSP``,
  ``WILL CHARSET`` (UTF-8 only). No ``WILL ECHO``/``WILL SGA``: clients keep their line editing.
- ``gateway.connect`` is called after at most ``NEGOTIATION_GRACE`` seconds, whether or not the
  client answered: a client that ignores telnet (``nc``) is greeted at once. What the client tells
  later (terminal type, window size, charset) reaches the session with ``update_terminal``.
- Input bytes are decoded here (UTF-8, or the charset the client negotiated; invalid bytes become
  U+FFFD) and split into lines on CR LF, LF, CR or CR NUL. Lines go to the session one at a time.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import re
from collections import deque
from typing import Any

import structlog
from telnetlib3.mud import mssp_encode
from telnetlib3.server import TelnetServer
from telnetlib3.stream_reader import TelnetReader
from telnetlib3.stream_writer import TelnetWriter
from telnetlib3.telopt import (
    CHARSET,
    CMD_EOR,
    DO,
    ECHO,
    EOR,
    GA,
    GMCP,
    IAC,
    MSSP,
    NAWS,
    SB,
    SE,
    SGA,
    TTYPE,
    WILL,
    WONT,
)

from mythos.engine import gmcp
from mythos.net.gateway import Gateway

log = structlog.get_logger(__name__)

#: Longest wait for the client's first answers (terminal type) before the greeting goes out.
NEGOTIATION_GRACE = 0.05
#: Bytes taken from the socket per read.
READ_CHUNK = 4096
#: After ``close()``, a client that does not take its last output is cut off after this long.
CLOSE_TIMEOUT = 5.0
#: ``wait_closed`` gives open connections this long to end before cutting them off.
SHUTDOWN_GRACE = 5.0
#: telnetlib3 reads telnet commands a byte at a time in Python, which is slow; a client can
#: therefore send at most this many bytes of one subnegotiation (GMCP from a client is small)...
MAX_SUBNEGOTIATION = 64 * 1024
#: ...and IAC bytes at this rate (a burst, then per second) before it is hung up on.
IAC_BURST = 8192
IAC_RATE = 2048.0
#: Connections the kernel may queue before we accept them (a crowd arriving at once).
BACKLOG = 1024
#: Received data is handed to telnetlib3 in slices of this size, checking the limits between.
_SLICE = 4096

_EOL = re.compile("\r\n|\r\0|\r|\n")
_MTTS = re.compile(r"MTTS (\d+)$", re.IGNORECASE)
_MTTS_ANSI = 1
#: Terminal types that cannot show colour.
_NO_COLOUR = ("dumb",)


def _codec(name: str) -> str | None:
    """The Python codec for a charset name a client sent, or None if we have none."""
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# terminal facts


@functools.lru_cache(maxsize=256)
def _gmcp_frame(package: str, json_text: str | None) -> bytes:
    """One GMCP message as it goes on the wire (``IAC SB GMCP package json IAC SE``), kept a
    while: a room's or a zone channel's listeners are sent the very same one, one after the
    other."""
    payload = package.encode("utf-8")
    if json_text is not None:
        payload += b" " + json_text.encode("utf-8")
    return IAC + SB + GMCP + payload.replace(IAC, IAC + IAC) + IAC + SE


def colour_from_ttypes(ttypes: list[str]) -> bool:
    """Whether a client that reported these terminal types (in order) shows ANSI colour.

    An MTTS bit vector ("MTTS 2825") decides when given; otherwise a ``dumb`` terminal gets no
    colour and everything else does (MUD clients, xterm, and plain telnet clients that say
    nothing)."""
    for t in ttypes:
        m = _MTTS.match(t.strip())
        if m:
            return bool(int(m.group(1)) & _MTTS_ANSI)
    return not any(t.strip().lower().startswith(_NO_COLOUR) for t in ttypes if t.strip())


class LineSplitter:
    """Turns decoded text into lines: CR LF, LF, CR and CR NUL all end a line.

    A line longer than ``max_line`` characters is dropped (up to its end), and ``TOO_LONG`` is
    emitted once in its place, when the limit is first passed."""

    TOO_LONG = object()

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._parts: list[str] = []
        self._size = 0
        self._discarding = False
        self._after_cr = False

    def feed(self, text: str) -> list[Any]:
        out: list[Any] = []
        i, n = 0, len(text)
        if self._after_cr and n:
            self._after_cr = False
            if text[0] in "\n\0":
                i = 1
        while i < n:
            m = _EOL.search(text, i)
            end = n if m is None else m.start()
            self._add(text[i:end], out)
            if m is None:
                break
            if self._discarding:
                self._discarding = False
            else:
                out.append("".join(self._parts))
            self._parts, self._size = [], 0
            if m.group() == "\r" and m.end() == n:
                self._after_cr = True  # a LF or NUL may follow in the next chunk
            i = m.end()
        return out

    def _add(self, piece: str, out: list[Any]) -> None:
        if not piece or self._discarding:
            return
        if self._size + len(piece) > self.max_line:
            self._discarding = True
            self._parts, self._size = [], 0
            out.append(self.TOO_LONG)
            return
        self._parts.append(piece)
        self._size += len(piece)


# --------------------------------------------------------------------------------------------
# telnetlib3 protocol and writer


class _MythosWriter(TelnetWriter):
    """telnetlib3's IAC interpreter, with the hooks we need and no line-discipline tricks."""

    # No special-line-character snooping: every data byte is plain data for the reader.
    slc_simulated = False

    def handle_do(self, opt: bytes) -> bool:
        agreed = super().handle_do(opt)
        proto = self._protocol
        if agreed and isinstance(proto, _MythosTelnet):
            proto.on_do(opt)
        return agreed

    def handle_subnegotiation(self, buf: deque[bytes]) -> None:
        """A client's broken subnegotiation is its own problem: note it and carry on."""
        option = buf[0][0] if buf else None
        try:
            super().handle_subnegotiation(buf)
        except Exception as exc:
            log.debug("telnet_bad_subnegotiation", option=option, error=repr(exc)[:200])

    def _handle_sb_gmcp(self, buf: deque[bytes]) -> None:
        buf.popleft()
        proto = self._protocol
        if isinstance(proto, _MythosTelnet):
            proto.on_gmcp(b"".join(buf))

    def handle_send_client_charset(self, charsets: list[str]) -> str | None:  # type: ignore[override]
        """The client asked us to pick one of its charsets: UTF-8 or nothing."""
        for name in charsets:
            if _codec(name) == "utf-8":
                proto = self._protocol
                if isinstance(proto, _MythosTelnet):
                    proto.on_charset(name)
                return name
        return None


class _MythosTelnet(TelnetServer):
    """One telnet client. Bytes mode: we decode and split lines ourselves."""

    def __init__(self, gateway: Gateway, listener: TelnetListener) -> None:
        super().__init__(
            encoding=False,  # bytes in and out; decoding is ours
            line_mode=True,  # never WILL ECHO / WILL SGA on our own: clients edit their lines
            connect_maxwait=1.0,
            compression=False,
            timeout=0,  # idle players are the engine's business
            writer_factory=_MythosWriter,
            reader_factory=TelnetReader,
        )
        self.gateway = gateway
        self.listener = listener
        self.conn: TelnetConnection | None = None
        self.session: Any = None
        self.task: asyncio.Task[None] | None = None
        self.ttypes: list[str] = []
        self.terminal_known = asyncio.Event()
        self._pending_oob: list[tuple[str, Any]] = []
        self._pending_terminal: dict[str, Any] = {}
        self._sent_terminal: dict[str, Any] = {}
        self.charset = "utf-8"
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._iac_tokens = float(IAC_BURST)
        self._iac_at = 0.0
        self._hung_up = False

    # -- connection lifecycle ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.reader is not None
        self.reader.set_transport(transport)  # pause reading a client that floods us
        self.conn = TelnetConnection(self)
        self.task = asyncio.get_running_loop().create_task(self._run())
        self.listener._connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._hung_up:
            return
        iacs = data.count(IAC)
        if iacs:
            now = asyncio.get_running_loop().time()
            self._iac_tokens = min(IAC_BURST, self._iac_tokens + (now - self._iac_at) * IAC_RATE)
            self._iac_at = now
            self._iac_tokens -= iacs
            if self._iac_tokens < 0:
                return self._hang_up("telnet_command_flood")
        for start in range(0, len(data), _SLICE):
            super().data_received(data[start:start + _SLICE])
            w = self.writer
            if w is None or self._transport is None:
                return None
            if w.cmd_received == SB and len(w._sb_buffer) > MAX_SUBNEGOTIATION:
                return self._hang_up("telnet_subnegotiation_too_long")
        return None

    def _hang_up(self, reason: str) -> None:
        """Cut off a client that abuses the protocol."""
        self._hung_up = True
        log.warning(reason, peer=self.peer)
        if self.conn is not None:
            self.conn.close()
        elif self._transport is not None:
            self._transport.close()

    def begin_negotiation(self) -> None:
        super().begin_negotiation()  # sends DO TTYPE
        w = self.writer
        assert w is not None
        w.iac(DO, NAWS)
        w.iac(WILL, GMCP)
        w.iac(WILL, MSSP)
        w.iac(WILL, CHARSET)

    def begin_advanced_negotiation(self) -> None:
        """Everything was offered up front (no BINARY, SGA or ECHO games)."""

    def _negotiate_environ(self) -> None:
        """We do not ask for the client's environment variables."""
        self._environ_requested = True

    def check_negotiation(self, final: bool = False) -> bool:
        w = self.writer
        if w is not None and w.remote_option.get(TTYPE) is False:
            self.terminal_known.set()  # the client refused TTYPE: nothing more to wait for
        return super().check_negotiation(final)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self.terminal_known.set()

    # -- what the client tells us -----------------------------------------------------------
    def on_do(self, opt: bytes) -> None:
        """The client agreed to (or asked for) one of our options."""
        w = self.writer
        if w is None:
            return
        if opt == MSSP:
            self.send_mssp()
        elif opt == CHARSET and not w.pending_option.enabled(SB + CHARSET):
            # We offered WILL CHARSET and the client said DO: ask for UTF-8 (after this byte
            # has been processed, so the option counts as enabled).
            asyncio.get_running_loop().call_soon(self._request_charset)

    def _request_charset(self) -> None:
        w = self.writer
        if w is not None and not w.is_closing():
            w.local_option[CHARSET] = True
            w.request_charset()

    def on_request_charset(self) -> list[str]:
        return ["UTF-8"]

    def send_mssp(self) -> None:
        w = self.writer
        if w is None or w.is_closing():
            return
        try:
            payload = mssp_encode({
                str(k): [str(x) for x in v] if isinstance(v, list | tuple) else str(v)
                for k, v in self.gateway.mssp().items()})
        except Exception:
            log.exception("mssp_failed", peer=self.peer)
            return
        w.send_iac(IAC + SB + MSSP + payload.replace(IAC, IAC + IAC) + IAC + SE)

    def on_gmcp(self, payload: bytes) -> None:
        text = payload.decode(self.charset, errors="replace")
        package, _, rest = text.strip().partition(" ")
        if not package:
            return
        rest = rest.strip()
        data: Any = None
        if rest:
            try:
                data = json.loads(rest)
            except (ValueError, RecursionError):  # "[[[[..." nested past the recursion limit
                log.debug("gmcp_malformed", peer=self.peer, package=package[:64],
                          data=rest[:200])
                return
        if self.session is None:
            if len(self._pending_oob) < 100:
                self._pending_oob.append((package, data))
            return
        self._deliver_oob(package, data)

    def _deliver_oob(self, package: str, data: Any) -> None:
        try:
            self.session.handle_oob(package, data)
        except Exception:
            log.exception("handle_oob_failed", peer=self.peer, package=package[:64])

    def on_naws(self, rows: int, cols: int) -> None:
        super().on_naws(rows, cols)
        self._terminal(width=cols or None, height=rows or None)

    def on_ttype(self, ttype: str) -> None:
        super().on_ttype(ttype)  # asks again while the client cycles through its names
        if len(self.ttypes) >= 10:
            return
        self.ttypes.append(ttype)
        name = next((t for t in self.ttypes if t and not _MTTS.match(t)), "")
        self._terminal(ttype=name or None, ansi=colour_from_ttypes(self.ttypes))
        w = self.writer
        if w is None or not w.pending_option.enabled(SB + TTYPE):
            self.terminal_known.set()

    def on_charset(self, charset: str) -> None:
        super().on_charset(charset)
        codec = _codec(charset)
        if codec is None:
            log.debug("charset_unknown", peer=self.peer, charset=charset[:40])
            return
        if codec != self.charset:
            self.charset = codec
            self.decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self._terminal(charset=charset)

    def _terminal(self, **facts: Any) -> None:
        facts = {k: v for k, v in facts.items() if v is not None}
        if self.conn is not None:
            self.conn.terminal.update(facts)
        if self.session is None:
            self._pending_terminal.update(facts)
            return
        changed = {k: v for k, v in facts.items() if self._sent_terminal.get(k) != v}
        if not changed:
            return
        self._sent_terminal.update(changed)
        try:
            self.session.update_terminal(**changed)
        except Exception:
            log.exception("update_terminal_failed", peer=self.peer)

    @property
    def peer(self) -> str:
        return self.conn.peer if self.conn is not None else "?"

    # -- the reader task --------------------------------------------------------------------
    async def _run(self) -> None:
        conn = self.conn
        reader = self.reader
        assert conn is not None and reader is not None
        session = None
        try:
            try:
                await asyncio.wait_for(self.terminal_known.wait(), NEGOTIATION_GRACE)
            except TimeoutError:
                pass
            if conn.closed or self._closing:
                return
            terminal, self._pending_terminal = self._pending_terminal, {}
            session = self.session = self.gateway.connect(conn, **terminal)
            log.debug("telnet_connected", peer=conn.peer)
            oob, self._pending_oob = self._pending_oob, []
            for package, data in oob:
                self._deliver_oob(package, data)
            lines = LineSplitter(self.gateway.settings.max_line)
            while not session.closed:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                for item in lines.feed(self.decoder.decode(data)):
                    if session.closed:
                        break
                    if item is LineSplitter.TOO_LONG:
                        conn.write_text(f"Your line was too long (max {lines.max_line} "
                                        "characters) and was ignored.\n")
                    else:
                        await session.handle_line(item)
        except (OSError, EOFError) as exc:
            log.debug("telnet_read_ended", peer=conn.peer, error=repr(exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telnet_connection_failed", peer=conn.peer)
        finally:
            conn.close()
            if session is not None:
                try:
                    session.disconnected()
                except Exception:
                    log.exception("disconnected_failed", peer=conn.peer)
            self.listener._connections.discard(self)
            log.debug("telnet_disconnected", peer=conn.peer)


# --------------------------------------------------------------------------------------------
# the engine's view


class TelnetConnection:
    """What the engine writes to (``mythos.engine.connection.Connection``): one telnet client."""

    kind = "telnet"

    def __init__(self, proto: _MythosTelnet) -> None:
        self._proto = proto
        self._writer = proto.writer
        self._transport: asyncio.Transport = proto._transport
        peer = self._transport.get_extra_info("peername") or ("?", 0)
        self.peer = f"{peer[0]}:{peer[1]}"
        #: What the client told about its terminal so far (width, height, ttype, ansi, charset).
        self.terminal: dict[str, Any] = {}
        self.closed = False
        self._echo_off = False
        #: Bytes held back by ``hold()`` until ``release()``; None: each write goes at once.
        self._held: list[bytes] | None = None

    def _alive(self) -> bool:
        return not self.closed and not self._transport.is_closing()

    def _send(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self._transport.write(data)

    def hold(self) -> None:
        """Keep what is written from now on until ``release()``: one write (one system call)
        for a whole answer, instead of one for its text, one for its prompt's end and one for
        each GMCP message."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(b"".join(held))

    def write_text(self, text: str) -> None:
        if not self._alive() or not text:
            return
        wire = text.replace("\r\n", "\n").replace("\n", "\r\n")
        data = wire.encode(self._proto.charset, errors="replace")
        self._send(data.replace(IAC, IAC + IAC))

    def write_oob(self, package: str, data: Any) -> None:
        self.write_gmcp(package, gmcp.as_json(data))

    def write_gmcp(self, package: str, json_text: str | None) -> None:
        if not self._alive() or not self.oob_enabled:
            return
        self._send(_gmcp_frame(package, json_text))

    def send_prompt_end(self) -> None:
        if not self._alive():
            return
        w = self._writer
        if w.local_option.enabled(EOR):
            self._send(IAC + CMD_EOR)
        elif not w.local_option.enabled(SGA):
            self._send(IAC + GA)

    @property
    def oob_enabled(self) -> bool:
        w = self._writer
        return w.local_option.enabled(GMCP) or w.remote_option.enabled(GMCP)

    def buffered(self) -> int:
        if self._transport.is_closing():
            return 0
        return self._transport.get_write_buffer_size()

    def set_echo(self, on: bool) -> None:
        if not self._alive():
            return
        if on == (not self._echo_off):
            return
        self._echo_off = not on
        w = self._writer
        if on:
            w.pending_option[WILL + ECHO] = False
            w.local_option[ECHO] = False
            self._send(IAC + WONT + ECHO)
        else:
            # Pending, so the client's DO ECHO is taken as the answer, not re-acknowledged.
            w.pending_option[WILL + ECHO] = True
            self._send(IAC + WILL + ECHO)

    def entered(self, name: str) -> None:
        """Nothing to do: the player reads the game's own welcome."""

    def refuse(self, code: str, message: str) -> None:
        self.write_text(message + "\n")

    def close(self, message: str | None = None, reconnect: bool = False) -> None:
        if self.closed:
            return
        if message:
            self.write_text(message)
        self.release()
        self.closed = True
        reader = self._proto.reader
        if reader is not None:
            reader.feed_eof()  # the reader task ends now, not when the socket is done
        transport = self._transport
        if transport.is_closing():
            return
        transport.close()  # flushes what is buffered, then closes
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)


# --------------------------------------------------------------------------------------------
# the listener


class TelnetListener:
    """The listening socket. ``close()`` stops accepting; connected players stay until the
    engine hangs up on them or they leave. ``wait_closed()`` waits for the socket and for the
    connections (cutting off any still open after ``SHUTDOWN_GRACE`` seconds)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_MythosTelnet] = set()

    @property
    def connections(self) -> int:
        return len(self._connections)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()
        tasks = [p.task for p in self._connections if p.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
            if pending:
                for p in list(self._connections):
                    if p._transport is not None:
                        p._transport.abort()
                await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)


async def start_telnet(gateway: Gateway, host: str, port: int) -> TelnetListener:
    """Listen for telnet clients on ``host:port`` (port 0: any free port)."""
    listener = TelnetListener(gateway)
    loop = asyncio.get_running_loop()
    listener._server = await loop.create_server(
        lambda: _MythosTelnet(gateway, listener), host, port, backlog=BACKLOG)
    listener.port = listener._server.sockets[0].getsockname()[1]
    log.info("telnet_listening", host=host, port=listener.port)
    return listener
