"""The browser's side of the wire, without a browser: the login API over aiohttp's HTTP client
(with its own cookie jar, like one browser profile) and the /ws JSON frames.

    w = WebClient(app)
    await w.enter("Ashley")                   # POST /api/create, then /ws and the auth frame
    await w.command("look", "Independence Square")
    info = await w.expect_gmcp("Room.Info")
    await w.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp

from mudclient import HOST, PASSWORD, Awaiting, strip_ansi


class WebClient(Awaiting):
    _gone = "socket closed"

    def __init__(self, app: Any, *, origin: str | None = None,
                 local_addr: tuple[str, int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        """``headers``: sent with every request (a proxy's X-Forwarded-For, say)."""
        self.base = f"http://{HOST}:{app.web_port}"
        self.origin = self.base if origin is None else origin
        connector = aiohttp.TCPConnector(local_addr=local_addr) if local_addr else None
        self.http = aiohttp.ClientSession(connector=connector, headers=headers,
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        #: Every frame received, decoded.
        self.frames: list[dict[str, Any]] = []
        #: The frames of each WebSocket message (several when the server sent them at once).
        self.messages: list[list[dict[str, Any]]] = []
        self._cursor: dict[str, int] = {}
        self._text = ""
        self._text_cursor = 0
        self.closed = False
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- HTTP -------------------------------------------------------------------------------
    async def post(self, path: str, body: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        h = {"Origin": self.origin} if self.origin else {}
        h.update(headers or {})
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.post(self.base + path, headers=h, **kwargs) as resp:
            return resp.status, await resp.json()

    async def token(self, name: str, *, create: bool = True, password: str = PASSWORD,
                    profession: str = "") -> str:
        """Log in (or create) through the API; the one-use token."""
        body = {"name": name, "password": password}
        if create:
            body["profession"] = profession
        status, reply = await self.post("/api/create" if create else "/api/login", body)
        assert status == 200 and reply["ok"], (status, reply)
        return reply["token"]

    # -- the socket -------------------------------------------------------------------------
    async def open(self, *, origin: str | None = None) -> None:
        origin = self.origin if origin is None else origin
        headers = {"Origin": origin} if origin else {}
        self.ws = await self.http.ws_connect(self.base + "/ws", headers=headers,
                                             autoping=True, max_msg_size=0)
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def auth(self, token: str, **extra: Any) -> None:
        await self.send({"type": "auth", "token": token, **extra})

    async def enter(self, name: str, *, create: bool = True, password: str = PASSWORD,
                    width: int = 100) -> dict[str, Any]:
        """Log in through the API, open /ws, send the token; the ``ready`` frame."""
        token = await self.token(name, create=create, password=password)
        await self.open()
        await self.auth(token, width=width, height=40)
        ready = await self.expect_frame("ready")
        await self.expect("Exits:")
        return ready

    async def send(self, frame: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def command(self, line: str, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        await self.send({"type": "command", "line": line})
        return await self.expect(pattern, timeout)

    # -- waiting ----------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """Every text frame so far, ANSI codes stripped."""
        return self._text

    async def expect(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        """The next match of ``pattern`` in the text received since the last expect."""
        rx = re.compile(pattern)

        def check() -> re.Match[str] | None:
            m = rx.search(self._text, self._text_cursor)
            if m is not None:
                self._text_cursor = m.end()
            return m

        return await self._wait_for(check, timeout, lambda: f"{pattern!r} in "
                                    f"{self._text[self._text_cursor:][-2000:]!r}")

    async def expect_frame(self, kind: str, where: Callable[[dict[str, Any]], bool] | None
                           = None, timeout: float = 5.0, *, cursor: str = "") -> dict[str, Any]:
        """The next frame of type ``kind`` (after the last one taken), optionally matching."""
        key = cursor or kind

        def check() -> tuple[dict[str, Any]] | None:
            for i in range(self._cursor.get(key, 0), len(self.frames)):
                f = self.frames[i]
                if f.get("type") == kind and (where is None or where(f)):
                    self._cursor[key] = i + 1
                    return (f,)
            return None

        return (await self._wait_for(check, timeout, lambda: f"a {kind!r} frame; got "
                                     f"{[f.get('type') for f in self.frames][-30:]}"))[0]

    async def expect_gmcp(self, package: str, where: Callable[[Any], bool] | None = None,
                          timeout: float = 5.0) -> Any:
        frame = await self.expect_frame(
            "gmcp", lambda f: f["package"].lower() == package.lower()
            and (where is None or where(f["data"])), timeout, cursor="gmcp:" + package.lower())
        return frame["data"]

    async def expect_error(self, code: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.expect_frame("error", lambda f: f["code"] == code, timeout,
                                       cursor="error:" + code)

    def cookie(self, name: str = "mythos_resume") -> str | None:
        for c in self.http.cookie_jar:
            if c.key == name:
                return c.value
        return None

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
        if not self.closed:
            raise AssertionError(f"the server did not close the socket within {timeout}s")
        return self.close_code

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 3)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.http.close()
        self.closed = True

    async def _read_loop(self) -> None:
        ws = self.ws
        assert ws is not None
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    self.messages.append(data if isinstance(data, list) else [data])
                    for frame in self.messages[-1]:
                        self.frames.append(frame)
                        if frame.get("type") == "text":
                            self._text += strip_ansi(frame["text"])
                        elif frame.get("type") == "error":
                            self._text += f"[error {frame['code']}] {frame['message']}\n"
                self._notify()
        finally:
            self.close_code = ws.close_code
            self.closed = True
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
