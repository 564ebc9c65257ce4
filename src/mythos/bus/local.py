"""The in-process bus: a gateway and the world in one process (``mythos serve``).

Messages are handed over as they are (no encoding), and at once: a command's answer reaches the
socket in the same turn of the loop as the command, with no extra wait behind everything else
the loop has to do (which under load is what an answer's latency is made of). A message
published by a handler waits until the one being delivered is done, so the order is the order
of publishing, as on NATS. Publishers give up their message: neither side changes it after
``publish``. Code on either side must not count on when a message arrives, only on its order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from mythos.bus import BusUnavailable, Handler, Responder, matches

log = structlog.get_logger(__name__)


class _Subscription:
    def __init__(self, remove: Callable[[], object]) -> None:
        self._remove = remove

    async def unsubscribe(self) -> None:
        self._remove()


class InProcessBus:
    kind = "local"

    def __init__(self) -> None:
        self._subs: list[tuple[str, Handler]] = []
        self._exact: dict[str, list[Handler]] = {}
        self._queue: deque[tuple[str, Any]] = deque()
        self._delivering = False
        self._responders: dict[str, Responder] = {}

    async def start(self) -> None:
        return None

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        return None  # never away

    async def close(self) -> None:
        await self.flush()

    async def subscribe(self, subject: str, handler: Handler) -> _Subscription:
        entry = (subject, handler)
        self._subs.append(entry)
        self._exact.clear()  # the cache of who gets which subject
        return _Subscription(lambda: self._remove(entry))

    def _remove(self, entry: tuple[str, Handler]) -> None:
        if entry in self._subs:
            self._subs.remove(entry)
            self._exact.clear()

    def publish(self, subject: str, message: Any) -> None:
        queue = self._queue
        queue.append((subject, message))
        if self._delivering:  # published by a handler: after the message being delivered
            return
        self._delivering = True
        try:
            while queue:
                subject, message = queue.popleft()
                for handler in self._handlers(subject):
                    try:
                        handler(subject, message)
                    except Exception:
                        log.exception("bus_handler_failed", subject=subject)
        finally:
            self._delivering = False

    def _handlers(self, subject: str) -> list[Handler]:
        found = self._exact.get(subject)
        if found is None:
            found = [h for pattern, h in self._subs if matches(pattern, subject)]
            if len(self._exact) < 10_000:
                self._exact[subject] = found
        return found

    async def flush(self, timeout: float = 5.0) -> bool:
        return True  # delivered as published

    async def serve(self, subject: str, responder: Responder) -> _Subscription:
        self._responders[subject] = responder
        return _Subscription(lambda: self._responders.pop(subject, None))

    async def request(self, subject: str, message: Any, timeout: float) -> Any:
        responder = self._responders.get(subject)
        if responder is None:
            raise BusUnavailable(subject)
        try:
            return await asyncio.wait_for(responder(message), timeout)
        except TimeoutError as exc:
            raise BusUnavailable(subject) from exc
