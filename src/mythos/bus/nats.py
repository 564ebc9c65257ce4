"""The bus over NATS: gateways and the world in separate processes (``mythos gateway``,
``mythos world``).

Messages are JSON (orjson). Every message carries the shared token of the deployment in a
``Mythos-Token`` header when one is set (``bus_token``); a message without the right token, or
larger than ``max_message`` bytes, is dropped unread and counted, so a stranger on the NATS
server cannot speak for a gateway or for the world. NATS's own credentials (user and password,
or a token, in the URL) keep strangers off the server in the first place.

``publish`` never waits: messages queue and one task hands them to the client in order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import orjson
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from mythos.bus import BusUnavailable, Handler, Responder, Subscription

log = structlog.get_logger(__name__)

TOKEN_HEADER = "Mythos-Token"
#: How long a process tries to reach NATS at start before it gives up.
START_TIMEOUT = 10.0
#: Largest message taken or sent, in bytes (NATS's own default limit is 1 MiB).
MAX_MESSAGE = 1024 * 1024
#: How long nats-py itself waits for the answer to a ping of ``flush`` (far longer than any
#: flush of ours waits: see there).
PING_GRACE = 60.0


def masked(url: str) -> str:
    """``nats://user:secret@host`` -> ``nats://user:***@host``, for logs and banners."""
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and "@" in parts.netloc
                                       and ":" not in parts.netloc.split("@")[0]):
        return url
    user = parts.username or ""
    secret = "***" if parts.password is not None else ""
    host = parts.netloc.rsplit("@", 1)[1]
    login = f"{user}:{secret}" if secret else "***"  # a lone token in the user part
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def encode(message: Any) -> bytes:
    try:
        return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # a lone surrogate in some text: the stdlib escapes it
        return json.dumps(message, ensure_ascii=True, default=str).encode()


def decode(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _retrieved(task: asyncio.Task[None]) -> None:
    """Take a finished ping's outcome (a late one's error is not news: the flush that waited
    for it has said so already)."""
    if not task.cancelled():
        task.exception()


class NatsBus:
    kind = "nats"

    def __init__(self, url: str, *, token: str = "", name: str = "mythos",
                 max_message: int = MAX_MESSAGE, on_reject: Any = None) -> None:
        self.url = url
        self.token = token
        self.name = name
        self.max_message = max_message
        self._on_reject = on_reject  # called with the reason of each message dropped
        self._nc = Client()
        self._headers = {TOKEN_HEADER: token} if token else None
        self._out: deque[tuple[str, bytes]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._warned: set[str] = set()
        self._on_reconnect: list[Callable[[], None]] = []

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self._on_reconnect.append(callback)

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    async def start(self) -> None:
        async def error_cb(exc: Exception) -> None:
            log.warning("nats_error", error=repr(exc)[:200])

        async def disconnected_cb() -> None:
            log.warning("nats_disconnected", url=masked(self.url))

        async def reconnected_cb() -> None:
            log.info("nats_reconnected", url=masked(self.url))
            for callback in self._on_reconnect:
                try:
                    callback()
                except Exception:
                    log.exception("bus_reconnect_callback_failed")

        try:  # once up, it reconnects for ever; but a first connect that fails says so
            await asyncio.wait_for(self._nc.connect(
                self.url, name=self.name, error_cb=error_cb, disconnected_cb=disconnected_cb,
                reconnected_cb=reconnected_cb, max_reconnect_attempts=-1,
                reconnect_time_wait=0.5, connect_timeout=3), START_TIMEOUT)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await self._nc.close()
            raise OSError(f"cannot reach NATS at {masked(self.url)} (wrong address or "
                          f"credentials?): {exc!r}") from exc
        log.info("nats_connected", url=masked(self.url), name=self.name)

    async def close(self) -> None:
        """Deliver what is published (if NATS is there to take it), then disconnect."""
        try:
            await self.flush()
        finally:
            if not self._nc.is_closed:
                try:
                    await self._nc.close()
                except OSError as exc:  # the server went first: nothing left to close cleanly
                    log.warning("nats_close_failed", error=repr(exc)[:200])

    # -- trust -------------------------------------------------------------------------------
    def _accept(self, msg: Msg) -> Any:
        """The message's content, or None (dropped) when it is too big or not from one of us."""
        reason = None
        if len(msg.data) > self.max_message:
            reason = "too_big"
        elif self.token:
            got = (msg.headers or {}).get(TOKEN_HEADER, "")
            if not hmac.compare_digest(got.encode(), self.token.encode()):
                reason = "untrusted"
        if reason is None:
            try:
                return decode(msg.data)
            except ValueError:
                reason = "bad_json"
        if reason not in self._warned:  # once per reason: a flood must not flood the log too
            self._warned.add(reason)
            log.warning("bus_message_dropped", reason=reason, subject=msg.subject[:120],
                        size=len(msg.data))
        if self._on_reject is not None:
            self._on_reject(reason)
        return None

    # -- publish and subscribe -----------------------------------------------------------------
    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        async def cb(msg: Msg) -> None:
            message = self._accept(msg)
            if message is None:
                return
            try:
                handler(msg.subject, message)
            except Exception:
                log.exception("bus_handler_failed", subject=msg.subject[:120])

        return await self._nc.subscribe(subject, cb=cb)

    def publish(self, subject: str, message: Any) -> None:
        data = encode(message)
        if len(data) > self.max_message:
            log.error("bus_message_too_big", subject=subject[:120], size=len(data))
            return
        self._out.append((subject, data))
        if self._sender is None:
            self._idle.clear()
            self._sender = asyncio.get_running_loop().create_task(self._send(), name="bus-send")

    async def _send(self) -> None:
        try:
            while self._out:
                subject, data = self._out.popleft()
                try:
                    await self._nc.publish(subject, data, headers=self._headers)
                except Exception as exc:  # closed or reconnecting past its buffer: lost
                    log.warning("bus_publish_failed", subject=subject[:120],
                                error=repr(exc)[:200])
        finally:
            self._sender = None
            self._idle.set()

    async def flush(self, timeout: float = 5.0) -> bool:
        """Every message published so far handed to NATS, and the server's answer to a ping
        written after them (so it has them all), within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        nc = self._nc
        try:
            async with asyncio.timeout_at(deadline):
                await self._idle.wait()  # our sender handed everything to the client...
                spins = 0
                while nc.is_connected and nc.pending_data_size:
                    spins += 1  # ...whose own task writes it to the socket (a ping does not
                    await asyncio.sleep(0 if spins < 4 else 0.001)  # wait for that: see below)
        except TimeoutError:
            log.warning("bus_flush_failed", error="timeout before the ping")
            return False
        if not nc.is_connected:
            return False
        # nats-py writes its ping at once, ahead of what it has not written yet (hence the wait
        # above), and when its flush times out it cancels the ping's future and then fails on
        # the late answer (InvalidStateError in its reader, which drops the connection). So
        # its own timeout is long and ours is waited for apart, the ping left to finish.
        ping = loop.create_task(nc.flush(timeout=PING_GRACE))
        ping.add_done_callback(_retrieved)
        try:
            await asyncio.wait_for(asyncio.shield(ping), max(deadline - loop.time(), 0.001))
        except Exception as exc:
            log.warning("bus_flush_failed", error=repr(exc)[:200])
            return False
        return True

    # -- requests ----------------------------------------------------------------------------
    async def serve(self, subject: str, responder: Responder) -> Subscription:
        tasks: set[asyncio.Task[None]] = set()

        async def answer(msg: Msg, message: Any) -> None:
            try:
                reply = await responder(message)
            except Exception:
                log.exception("bus_responder_failed", subject=subject)
                return
            if msg.reply:
                await self._nc.publish(msg.reply, encode(reply), headers=self._headers)

        async def cb(msg: Msg) -> None:
            message = self._accept(msg)
            if message is None:
                return
            task = asyncio.get_running_loop().create_task(answer(msg, message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        return await self._nc.subscribe(subject, cb=cb)

    async def request(self, subject: str, message: Any, timeout: float) -> Any:
        try:
            msg = await self._nc.request(subject, encode(message), timeout=timeout,
                                         headers=self._headers)
        except (NatsTimeout, NoRespondersError, nats.errors.ConnectionClosedError) as exc:
            raise BusUnavailable(subject) from exc
        reply = self._accept(msg)
        if reply is None:
            raise BusUnavailable(subject)
        return reply
