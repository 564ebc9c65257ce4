"""How a bot reaches a server. A transport delivers two things to its bot: text (bytes, with
colour codes left in) and out-of-band messages (package, raw payload), each with the
``time.perf_counter()`` at which it arrived. The bot never sees the wire.

Two transports: telnet (what MUD clients speak) and the browser client's WebSocket (``/ws`` on
the HTTP port, JSON frames, logged in through ``POST /api/create`` or ``/api/login``). Another
is a class with the same members (``connect``, ``send_line``, ``send_oob``, ``close``) that calls
the same callbacks; register it in ``TRANSPORTS``. A transport that logs in by itself (as the
WebSocket does, before the socket opens) says so with ``logs_in``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

import orjson

IAC, DONT, DO, WONT, WILL, SB, SE, GA = 255, 254, 253, 252, 251, 250, 240, 249
GMCP = 201

TextCallback = Callable[[bytes, float], None]
OobCallback = Callable[[str, bytes, float], None]
CloseCallback = Callable[[], None]


class Transport:
    """The interface every transport implements."""

    name = "base"
    #: True: ``connect`` logs the character in itself (there is no login screen to talk to).
    logs_in = False

    def __init__(self, on_text: TextCallback, on_oob: OobCallback,
                 on_close: CloseCallback) -> None:
        self.on_text = on_text
        self.on_oob = on_oob
        self.on_close = on_close
        self.closed = False
        self.bytes_in = 0

    async def connect(self, host: str, port: int, timeout: float, *, name: str = "",
                      password: str = "") -> None:
        raise NotImplementedError

    def send_line(self, line: str) -> None:
        raise NotImplementedError

    def send_oob(self, package: str, data: Any = None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _TelnetProtocol(asyncio.Protocol):
    """A lean telnet client: it takes GMCP when offered, refuses every other option, answers
    nothing else, and splits what arrives into text and GMCP messages without copying the
    common case (a chunk with no IAC in it)."""

    def __init__(self, owner: TelnetTransport) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None
        self._rest = b""  # an IAC sequence cut in two by the network

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's are not asyncio.Transport subclasses)
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        owner = self.owner
        owner.bytes_in += len(data)
        if self._rest:
            data, self._rest = self._rest + data, b""
        if IAC not in data:
            owner.on_text(data, now)
            return
        text = bytearray()
        i, n = 0, len(data)
        while i < n:
            j = data.find(b"\xff", i)
            if j < 0:
                text += data[i:]
                break
            text += data[i:j]
            if j + 1 >= n:
                self._rest = data[j:]
                break
            cmd = data[j + 1]
            if cmd == IAC:
                text.append(IAC)
                i = j + 2
            elif cmd in (WILL, WONT, DO, DONT):
                if j + 2 >= n:
                    self._rest = data[j:]
                    break
                self._negotiate(cmd, data[j + 2])
                i = j + 3
            elif cmd == SB:
                end = data.find(b"\xff\xf0", j + 2)
                if end < 0:
                    self._rest = data[j:]
                    break
                self._subnegotiation(data[j + 2:end].replace(b"\xff\xff", b"\xff"), now)
                i = end + 2
            else:  # GA, EOR, NOP ...: nothing to do
                i = j + 2
        if text:
            owner.on_text(bytes(text), now)

    def _negotiate(self, cmd: int, option: int) -> None:
        assert self.transport is not None
        if cmd == WILL:
            if option == GMCP and self.owner.gmcp:
                self.transport.write(bytes([IAC, DO, GMCP]))
                self.owner._gmcp_on()
            else:
                self.transport.write(bytes([IAC, DONT, option]))
        elif cmd == DO:
            self.transport.write(bytes([IAC, WONT, option]))

    def _subnegotiation(self, body: bytes, now: float) -> None:
        if body[:1] == bytes([GMCP]):
            package, _, payload = body[1:].partition(b" ")
            self.owner.on_oob(package.decode("utf-8", "replace"), payload, now)


class TelnetTransport(Transport):
    name = "telnet"

    def __init__(self, on_text: TextCallback, on_oob: OobCallback, on_close: CloseCallback,
                 *, gmcp: bool = True, client: str = "mythos-bench") -> None:
        super().__init__(on_text, on_oob, on_close)
        self.gmcp = gmcp
        self.client = client
        self._proto: _TelnetProtocol | None = None

    async def connect(self, host: str, port: int, timeout: float, *, name: str = "",
                      password: str = "") -> None:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            _, proto = await loop.create_connection(lambda: _TelnetProtocol(self), host, port)
        self._proto = proto

    def _write(self, data: bytes) -> None:
        if self._proto is not None and self._proto.transport is not None and not self.closed:
            self._proto.transport.write(data)

    def _gmcp_on(self) -> None:
        self.send_oob("Core.Hello", {"client": self.client, "version": "1"})

    def send_line(self, line: str) -> None:
        self._write(line.encode("utf-8").replace(b"\xff", b"\xff\xff") + b"\r\n")

    def send_oob(self, package: str, data: Any = None) -> None:
        payload = package.encode("utf-8")
        if data is not None:
            payload += b" " + orjson.dumps(data)
        self._write(bytes([IAC, SB, GMCP]) + payload.replace(b"\xff", b"\xff\xff")
                    + bytes([IAC, SE]))

    def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self.closed = True

    def _lost(self) -> None:
        self.closed = True
        self.on_close()


class LoginRefused(Exception):
    pass


class WebSocketTransport(Transport):
    """The browser client's protocol: a token from the login API, then JSON frames on ``/ws``.
    ``port`` is the server's HTTP port."""

    name = "websocket"
    logs_in = True
    _session: Any = None  # one aiohttp ClientSession per process, made on first use

    def __init__(self, on_text: TextCallback, on_oob: OobCallback,
                 on_close: CloseCallback) -> None:
        super().__init__(on_text, on_oob, on_close)
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[Any]] = set()

    @classmethod
    def session(cls) -> Any:
        import aiohttp

        if cls._session is None or cls._session.closed:
            cls._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, force_close=True))
        return cls._session

    async def _token(self, base: str, name: str, password: str) -> str:
        """Create the character, or log in when it exists: a one-use token for /ws."""
        http = self.session()
        headers = {"Origin": base}
        async with http.post(f"{base}/api/create", json={
                "name": name, "password": password, "profession": ""},
                headers=headers) as resp:
            body = await resp.json(content_type=None)
        if resp.status == 409 and body.get("error") == "taken":
            async with http.post(f"{base}/api/login", json={
                    "name": name, "password": password}, headers=headers) as resp:
                body = await resp.json(content_type=None)
        if not body.get("ok"):
            raise LoginRefused(f"{name}: {body.get('error')}: {body.get('message')}")
        return str(body["token"])

    async def connect(self, host: str, port: int, timeout: float, *, name: str = "",
                      password: str = "") -> None:
        base = f"http://{host}:{port}"
        async with asyncio.timeout(timeout):
            token = await self._token(base, name, password)
            self._ws = await self.session().ws_connect(
                f"{base}/ws", origin=base, compress=0, autoping=True, max_msg_size=0)
            await self._ws.send_str(orjson.dumps({"type": "auth", "token": token,
                                                  "width": 100, "height": 40}).decode())
            ready = asyncio.get_running_loop().create_future()
            self._reader = asyncio.get_running_loop().create_task(self._read(ready))
            await ready

    async def _read(self, ready: asyncio.Future[None]) -> None:
        import aiohttp

        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                now = time.perf_counter()
                self.bytes_in += len(msg.data)
                data = orjson.loads(msg.data)
                for frame in data if isinstance(data, list) else [data]:  # a batch: in order
                    kind = frame.get("type")
                    if kind == "text":
                        self.on_text(frame.get("text", "").encode("utf-8"), now)
                    elif kind == "gmcp":
                        self.on_oob(str(frame.get("package", "")),
                                    orjson.dumps(frame.get("data")), now)
                    elif kind == "ready" and not ready.done():
                        ready.set_result(None)
                    elif kind == "error" and not ready.done():
                        ready.set_exception(LoginRefused(str(frame.get("message"))))
        finally:
            if not ready.done():
                ready.set_exception(ConnectionError("the socket closed before the login"))
            self.closed = True
            self.on_close()

    def _send(self, frame: dict[str, Any]) -> None:
        if self._ws is None or self.closed:
            return
        text = orjson.dumps(frame).decode()
        task = asyncio.get_running_loop().create_task(self._ws.send_str(text))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def send_line(self, line: str) -> None:
        self._send({"type": "command", "line": line})

    def send_oob(self, package: str, data: Any = None) -> None:
        self._send({"type": "gmcp", "package": package, "data": data})

    def close(self) -> None:
        self.closed = True
        if self._ws is not None:
            task = asyncio.get_running_loop().create_task(self._ws.close())
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)


#: Transports by name (``--transport``).
TRANSPORTS: dict[str, type[Transport]] = {"telnet": TelnetTransport,
                                          "websocket": WebSocketTransport}
