"""The bus between gateways (sockets) and the world (the game): one interface, two carriers.

``InProcessBus`` (``bus/local.py``) joins a gateway and the world inside one process (``mythos
serve``); ``NatsBus`` (``bus/nats.py``) joins separate processes over NATS (``mythos gateway`` and
``mythos world``). Both deliver messages in the order they were published (the in-process bus at
once, NATS a little later), and neither side counts on when a message arrives, so the gateway
and the world run the same code whichever carries them. What travels, and on which
subject, is in ``bus/wire.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

#: Called with (subject, message) for each message on a subscribed subject. It must not block;
#: it may publish.
Handler = Callable[[str, Any], None]
#: Answers one request (``Bus.request``) with a reply message.
Responder = Callable[[Any], Awaitable[Any]]


class BusUnavailable(Exception):
    """A request got no answer in time (nobody serves the subject, or it is down)."""


class Subscription(Protocol):
    async def unsubscribe(self) -> None: ...


class Bus(Protocol):
    #: "local" or "nats", for logs and /health.
    kind: str

    async def start(self) -> None: ...

    async def close(self) -> None:
        """Deliver what is published, then stop."""

    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        """Call ``handler`` for each message on ``subject`` (NATS wildcards ``*`` and ``>``)."""

    def publish(self, subject: str, message: Any) -> None:
        """Send a JSON-able message; never waits (in process, the handlers run before it
        returns). Order is kept per publisher."""

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message published so far has left (in process: been delivered);
        whether that is known (False: the carrier is away, or did not confirm in ``timeout``
        seconds)."""

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time the carrier is back after it was away (NATS
        reconnected). What was published meanwhile may be lost: NATS keeps nothing for a
        subscriber that is not back yet. In process: never."""

    async def serve(self, subject: str, responder: Responder) -> Subscription:
        """Answer requests on ``subject`` with ``responder`` (several at once)."""

    async def request(self, subject: str, message: Any, timeout: float) -> Any:
        """Ask and wait for the answer; ``BusUnavailable`` when none comes in ``timeout``."""


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest (one token or more)."""
    want = pattern.split(".")
    have = subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(have) == len(want)


__all__ = ["Bus", "BusUnavailable", "Handler", "Responder", "Subscription", "matches"]
