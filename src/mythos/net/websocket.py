"""The browser's game socket: ``/ws`` speaks small JSON frames and plugs into the engine as one
more ``Connection`` beside telnet (``engine/connection.py``).

Client to server::

    {"type": "auth", "token": "...", "width": 96, "height": 30}   the first frame, always
    {"type": "command", "line": "look"}                          a line typed (several: \\n)
    {"type": "gmcp", "package": "Core.Supports.Set", "data": ["Char 1", "Room 1"]}
    {"type": "size", "width": 96, "height": 30}                  columns and rows of the pane

Server to client::

    {"type": "ready", "name": "Ashley"}                  logged in; the game follows
    {"type": "text", "text": "...", "prompt": true}      game text, colour as ANSI SGR codes
                                                         (the last line is a prompt if "prompt")
    {"type": "gmcp", "package": "Room.Info", "data": {...}}   the very GMCP messages of telnet
    {"type": "error", "code": "bad_json", "message": "..."}   a frame refused; nothing happened
    {"type": "closed", "reconnect": false}               the server ends the session (quit,
                                                         takeover; reconnect true: a restart)

The token comes from the login API (``net/webauth.py``). Frames over ``MAX_FRAME`` bytes end the
connection (close code 1009); a command line over ``max_line`` characters is refused like on
telnet. Per-message compression is off, so an idle socket costs little; a heartbeat ping finds
dead peers. What the gateway hands over at once (``hold``/``release``: one client's part of one
batch of the world's output) goes to the socket at once, as one message; other frames, and
everything while the socket's buffer is full, are queued and written by one small task per
socket. A client that stops reading is cut off at ``output_limit`` bytes, as on telnet.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import struct
import time
from collections import deque
from typing import Any

import orjson
import structlog
from aiohttp import WSMsgType, web

from mythos.engine import gmcp
from mythos.net.gateway import Gateway, GatewaySession
from mythos.net.webauth import GATEWAY_KEY, TICKETS_KEY, TicketBook, client_host, same_origin

log = structlog.get_logger(__name__)

#: Largest frame a client may send, in bytes (aiohttp closes the socket with 1009 beyond it).
MAX_FRAME = 64 * 1024
#: A socket that has not logged in after this many seconds is closed.
AUTH_TIMEOUT = 20.0
#: Seconds between pings; a peer that does not answer within half of it is gone.
HEARTBEAT = 20.0
#: After the server closes a socket, a client that does not take its last frames is cut off.
CLOSE_TIMEOUT = 5.0
#: Refused frames allowed in a burst, and per second after it, before the socket is closed.
BAD_FRAME_BURST = 20
BAD_FRAME_RATE = 2.0
#: The GMCP packages a browser is sent (it may change them with Core.Supports.*).
BROWSER_SUPPORTS = ["Char 1", "Room 1", "Comm.Channel 1", "Mythos 1"]
#: Close codes of our own (4000-4999 are free for applications).
CLOSE_BAD_TOKEN = 4001
CLOSE_AUTH_TIMEOUT = 4008

_EOL = re.compile("\r\n|\r|\n")

SOCKETS_KEY = web.AppKey("mythos_sockets", set)


#: Frames queued together go out as one message (a JSON array of them), up to about this size.
BATCH_BYTES = 64 * 1024
#: Output is written at once only while the socket holds fewer bytes than this unsent;
#: beyond it, frames wait for the writer task, which waits for the client to take them.
DIRECT_LIMIT = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    """A whole unmasked WebSocket text frame (RFC 6455 5.2): what a server sends."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


@functools.lru_cache(maxsize=256)
def _gmcp_body(package: str, json_text: str | None) -> str:
    """One GMCP message as a frame's JSON text, kept a while: a room's or a zone channel's
    listeners are sent the very same one, one after the other."""
    return (f'{{"type":"gmcp","package":{orjson.dumps(package).decode()},'
            f'"data":{"null" if json_text is None else json_text}}}')


def _dump(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


class WebSocketConnection:
    """What the engine writes to: one browser. Frames are queued and sent in order by a writer
    task, so the engine's synchronous writes never wait for the network."""

    kind = "websocket"

    def __init__(self, ws: web.WebSocketResponse, peer: str,
                 transport: asyncio.Transport | None) -> None:
        self.ws = ws
        self.peer = peer
        self._transport = transport
        self._frames: deque[tuple[str | dict[str, Any], int]] = deque()
        self._queued = 0
        self._loop = asyncio.get_running_loop()
        #: What the writer awaits when nothing is queued; ``_push`` wakes it. (A future of
        #: our own loop: an ``asyncio.Event`` asks for the running loop at every wait, which
        #: on Python 3.11 is a system call.)
        self._idle: asyncio.Future[None] | None = None
        #: No more frames are taken (the server closed, or the client went away).
        self.closed = False
        #: The engine hung up (quit, takeover, slow client, shutdown)...
        self.closed_by_server = False
        #: ...saying that it is going away and the client may come back soon.
        self.reconnect = False
        #: The character played, once in the game.
        self.playing: str | None = None
        self._close_code: int | None = None
        self._close_reason = ""
        self._last_text: dict[str, Any] | None = None
        #: Between ``hold`` and ``release``: frames wait for ``release``, not for the writer.
        self._holding = False
        self._writer = self._loop.create_task(self._write_loop(), name=f"ws-writer-{peer}")

    # -- the Connection protocol --------------------------------------------------------------
    def write_text(self, text: str) -> None:
        if self.closed or not text:
            return
        frame: dict[str, Any] = {"type": "text", "text": text}
        self._push(frame, len(text) + 32)
        self._last_text = frame

    def write_oob(self, package: str, data: Any) -> None:
        self.write_gmcp(package, gmcp.as_json(data))

    def write_gmcp(self, package: str, json_text: str | None) -> None:
        if self.closed:
            return
        body = _gmcp_body(package, json_text)
        self._push(body, len(body))

    def hold(self) -> None:
        """Keep what is written from now on for ``release``."""
        self._holding = True

    def release(self) -> None:
        """Send what was written since ``hold`` as one message, at once when the socket takes
        it (no turn of the writer task: one system call, as on telnet), else by the writer."""
        self._holding = False
        if not self._frames:
            return
        t = self._transport
        if (self._idle is None or self.closed or self.ws.closed or t is None or t.is_closing()
                or t.get_write_buffer_size() >= DIRECT_LIMIT):
            self._wake()
            return
        t.write(text_frame(self._batch().encode()))
        if self._frames:  # more than one message's worth
            self._wake()

    def send_prompt_end(self) -> None:
        # The text just queued ends with a prompt: the page shows its last line as one.
        if self._last_text is not None and self._frames and self._frames[-1][0] is self._last_text:
            self._last_text["prompt"] = True

    @property
    def oob_enabled(self) -> bool:
        return True

    def buffered(self) -> int:
        t = self._transport
        in_transport = t.get_write_buffer_size() if t is not None and not t.is_closing() else 0
        return self._queued + in_transport

    def set_echo(self, on: bool) -> None:
        """Passwords are never typed into the game socket (the login API takes them)."""

    def entered(self, name: str) -> None:
        self.playing = name
        log.info("ws_logged_in", name=name, peer=self.peer)
        self.send({"type": "ready", "name": name})

    def refuse(self, code: str, message: str) -> None:
        self.error(code, message)

    def close(self, message: str | None = None, reconnect: bool = False) -> None:
        """The engine hangs up: send what is queued, then ``closed``, then close the socket."""
        if self.closed:
            return
        if message:
            self.write_text(message)
        self.closed_by_server = True
        self.reconnect = reconnect
        self.send({"type": "closed", "reconnect": reconnect})
        self.end(1012 if reconnect else 1000, "server restarting" if reconnect else "goodbye")

    # -- for the handler ----------------------------------------------------------------------
    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame of the socket's own (ready, error, closed)."""
        if self.closed:
            return
        body = _dump(frame)
        self._push(body, len(body))

    def error(self, code: str, message: str) -> None:
        self.send({"type": "error", "code": code, "message": message})

    def end(self, code: int, reason: str) -> None:
        """Send what is queued, then close the socket with ``code``. A client that does not take
        it within ``CLOSE_TIMEOUT`` seconds is cut off."""
        if self.closed:
            return
        self.closed = True
        self._close_code = code
        self._close_reason = reason
        self._wake()
        self._loop.call_later(CLOSE_TIMEOUT, self.abort)

    def detach(self) -> None:
        """The client went away: drop what is queued, stop the writer (unless we are closing
        on our own terms: then the writer sends the last frames and closes)."""
        if self._close_code is not None:
            return
        self.closed = True
        self._frames.clear()
        self._queued = 0
        self._wake()

    def abort(self) -> None:
        if not self._writer.done():
            self._writer.cancel()
        t = self._transport
        if t is not None and not t.is_closing():
            t.abort()

    async def wait_written(self, timeout: float = CLOSE_TIMEOUT) -> None:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        if not self._writer.done():
            self.abort()

    def _push(self, item: str | dict[str, Any], size: int) -> None:
        self._frames.append((item, size))
        self._queued += size
        if not self._holding:
            self._wake()

    def _batch(self) -> str:
        """What is queued, up to ``BATCH_BYTES``, as the text of one message."""
        frames = self._frames
        batch: list[str] = []
        size = 0
        while frames and size < BATCH_BYTES:
            item, n = frames.popleft()
            self._queued -= n
            size += n
            batch.append(item if isinstance(item, str) else _dump(item))
        return batch[0] if len(batch) == 1 else f"[{','.join(batch)}]"

    def _wake(self) -> None:
        idle = self._idle
        if idle is not None:
            self._idle = None
            if not idle.done():
                idle.set_result(None)

    async def _write_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                while self._frames:
                    await ws.send_str(self._batch())  # what is queued: one message
                if self.closed:
                    break
                self._idle = self._loop.create_future()
                await self._idle
            if self._close_code is not None and not ws.closed:
                await ws.close(code=self._close_code, message=self._close_reason.encode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer is gone mid-write: nothing more to say to it
            log.debug("ws_write_ended", peer=self.peer, error=repr(exc)[:200])


class _Client:
    """One /ws connection: the login frame, then frames into the session."""

    def __init__(self, gateway: Gateway, book: TicketBook, conn: WebSocketConnection,
                 host: str) -> None:
        self.gateway = gateway
        self.book = book
        self.conn = conn
        self.host = host
        self.session: GatewaySession | None = None
        self.resume = ""
        self._tokens = float(BAD_FRAME_BURST)
        self._tokens_at = time.monotonic()

    async def run(self) -> None:
        ws = self.conn.ws
        timer = asyncio.get_running_loop().call_later(AUTH_TIMEOUT, self._auth_timeout)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.frame(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.bad("bad_frame", "Frames are JSON text, not binary.")
                if self.conn.closed:
                    break
        finally:
            timer.cancel()

    def _auth_timeout(self) -> None:
        if self.session is None and not self.conn.closed:
            self.conn.error("auth_timeout", "No login arrived in time. Log in again.")
            self.conn.end(CLOSE_AUTH_TIMEOUT, "no login")

    def bad(self, code: str, message: str) -> None:
        """Refuse a frame, with a clear error; a flood of bad frames ends the connection."""
        now = time.monotonic()
        self._tokens = min(BAD_FRAME_BURST, self._tokens + (now - self._tokens_at)
                           * BAD_FRAME_RATE)
        self._tokens_at = now
        self._tokens -= 1
        if self._tokens < 0:
            self.conn.error("too_many_errors", "Too many refused frames; goodbye.")
            self.conn.end(1008, "too many refused frames")
            return
        self.conn.error(code, message)

    async def frame(self, data: str) -> None:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):  # "[[[[..." nested past the recursion limit
            return self.bad("bad_json", "That frame was not JSON.")
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            return self.bad("bad_frame", 'A frame is a JSON object with a "type".')
        kind = obj["type"]
        session = self.session
        if session is None:
            if kind == "auth":
                return await self.auth(obj)
            return self.bad("not_logged_in",
                            'Log in first: the first frame is {"type": "auth", "token": ...}.')
        if kind == "command":
            return await self.command(session, obj.get("line"))
        if kind == "gmcp":
            return self.gmcp(session, obj.get("package"), obj.get("data"))
        if kind == "size":
            return self.size(session, obj)
        if kind == "auth":
            return self.bad("already_logged_in", "This connection is logged in already.")
        return self.bad("unknown_type", 'Frame types are "command", "gmcp" and "size".')

    # -- logging in ---------------------------------------------------------------------------
    async def auth(self, obj: dict[str, Any]) -> None:
        token = obj.get("token")
        ticket = self.book.take(token, self.host) if isinstance(token, str) else None
        if ticket is None:
            log.info("ws_bad_token", peer=self.conn.peer)
            self.conn.error("bad_token", "That login token is not good: it has expired, was used "
                                         "already, or was never given. Log in again.")
            self.conn.end(CLOSE_BAD_TOKEN, "bad token")
            return
        # The world loads the character and puts it in the game; the socket hears "ready"
        # (``entered``) or an error and a close (``refuse``).
        self.resume = ticket.resume
        self.session = self.gateway.connect(
            self.conn, login={"name": ticket.name, "new": ticket.new},
            oob=[["Core.Supports.Set", BROWSER_SUPPORTS]], ansi=True, **_terminal(obj))

    # -- playing ------------------------------------------------------------------------------
    async def command(self, session: GatewaySession, line: Any) -> None:
        if not isinstance(line, str):
            return self.bad("bad_frame", 'A command frame has a "line" of text.')
        pieces = _EOL.split(line)
        if len(pieces) > 1 and pieces[-1] == "":
            pieces.pop()
        max_line = self.gateway.settings.max_line
        for piece in pieces:
            if session.closed:
                return None
            if len(piece) > max_line:
                self.bad("too_long", f"Your line was too long (max {max_line} characters) and "
                                     "was ignored.")
                continue
            await session.handle_line(piece)
        return None

    def gmcp(self, session: GatewaySession, package: Any, data: Any) -> None:
        if not isinstance(package, str) or not 0 < len(package) <= 128:
            return self.bad("bad_frame", 'A gmcp frame has a "package" name.')
        try:
            session.handle_oob(package, data)
        except Exception:
            log.exception("handle_oob_failed", peer=self.conn.peer, package=package[:64])
        return None

    def size(self, session: GatewaySession, obj: dict[str, Any]) -> None:
        terminal = _terminal(obj)
        if not terminal:
            return self.bad("bad_frame", 'A size frame has a "width" and a "height".')
        session.update_terminal(**terminal)
        return None

    # -- the end ------------------------------------------------------------------------------
    def finish(self) -> None:
        conn = self.conn
        if conn.closed_by_server and conn.playing and not conn.reconnect:
            # quit, or taken over from elsewhere: this browser must log in again.
            self.book.revoke(self.resume)
        conn.detach()
        if self.session is not None:
            try:
                self.session.disconnected()
            except Exception:
                log.exception("disconnected_failed", peer=conn.peer)


def _terminal(obj: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in ("width", "height"):
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[key] = value
    return out


async def ws_handler(request: web.Request) -> web.StreamResponse:
    if not same_origin(request):
        return web.json_response({"ok": False, "error": "bad_origin",
                                  "message": "Connections must come from this server's page."},
                                 status=403)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, compress=False, max_msg_size=MAX_FRAME,
                               timeout=CLOSE_TIMEOUT)
    if not ws.can_prepare(request).ok:
        return web.json_response({"ok": False, "error": "not_websocket",
                                  "message": "This address speaks WebSocket only."}, status=400)
    await ws.prepare(request)
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    # The client's address (behind a trusted proxy, the one it relayed for: net/forwarded.py).
    peer = f"{client_host(request)}:{peername[1] if peername else 0}"
    gateway = request.app[GATEWAY_KEY]
    conn = WebSocketConnection(ws, peer, transport)  # type: ignore[arg-type]
    sockets: set[WebSocketConnection] = request.app[SOCKETS_KEY]
    sockets.add(conn)
    client = _Client(gateway, request.app[TICKETS_KEY], conn, client_host(request))
    log.debug("ws_connected", peer=peer)
    try:
        await client.run()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ws_connection_failed", peer=peer)
    finally:
        client.finish()
        await conn.wait_written()
        sockets.discard(conn)
        log.debug("ws_disconnected", peer=peer)
    return ws


async def close_sockets(sockets: set[WebSocketConnection]) -> None:
    """At shutdown: close every socket still open (those not in the game yet; the game has
    closed its own), and wait a little for them to go."""
    for conn in list(sockets):
        if not conn.closed:
            conn.error("shutdown", "The server is shutting down.")
            conn.end(1001, "server shutting down")
    if sockets:
        await asyncio.gather(*(conn.wait_written() for conn in list(sockets)))


def add_routes(webapp: web.Application) -> set[WebSocketConnection]:
    sockets: set[WebSocketConnection] = set()
    webapp[SOCKETS_KEY] = sockets
    webapp.router.add_get("/ws", ws_handler)
    return sockets
