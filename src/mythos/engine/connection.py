"""What the engine needs of a client connection; the network layer implements it.

The network layer (telnet, websocket) owns the socket and its protocol. It hands the gateway
(``net/gateway.py``) a ``Connection`` and calls the session it gets back; the gateway carries
everything over the bus to the world, where the engine's ``Session`` writes to a
``RemoteConnection`` (``engine/service.py``) with this same interface. The engine never touches
a socket, and the game runs the same whether the world is in this process or across NATS.

Network side, for each new client::

    session = gateway.connect(conn, **terminal)  # the world greets the player; terminal: what
                                                 # is known already (width, ttype, ansi ...)
    ...for each complete input line:  await session.handle_line(line)
    ...for each out-of-band message:  session.handle_oob(package, data)
    ...terminal facts as they arrive: session.update_terminal(width=.., ttype=.., ansi=..)
    ...when the socket is gone:      session.disconnected()

Engine side: the session writes what it has queued, rendered text and out-of-band messages
together, with one ``conn.write_output(...)`` once per pulse (and at once after its own
command), and calls ``conn.close()`` to hang up. The gateway writes its own messages with
``write_text``, and holds a client's writes of one message from the world for one system call
(``hold``/``release``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

#: Set by the world's bus service (``engine/service.py``) in the task that handles a player's
#: line: awaited before an economy action changes the database, it makes sure the player's
#: gateway has heard that the line began, so that a line whose change was made is never sent to
#: the world again after a crash (``bus/wire.py``). False: that could not be made sure (NATS is
#: away), and the action must not go ahead.
before_commit: ContextVar[Callable[[], Awaitable[bool]] | None] = ContextVar(
    "before_commit", default=None)


class Connection(Protocol):
    #: "telnet" or "websocket"
    kind: str
    #: The client's address, "host:port".
    peer: str

    def write_output(self, text: str, prompt: bool,
                     oob: Sequence[tuple[str, Any] | None]) -> None:
        """Queue a session's output of one flush in one go: rendered ``text`` ("" for none,
        else as ``write_text``), ``prompt``: it ends with a prompt (``send_prompt_end``), then
        the out-of-band messages ``(package, data)`` (None: a place left empty, skipped)."""

    def write_text(self, text: str) -> None:
        """Queue text for the client. ``text`` is rendered already (ANSI or plain) and uses
        ``\\n`` for new lines; the connection converts to its wire form (``\\r\\n`` for telnet)."""

    def write_oob(self, package: str, data: Any) -> None:
        """Queue one out-of-band message (GMCP ``Package.Name`` and JSON-able data)."""

    def send_prompt_end(self) -> None:
        """Mark the end of a prompt (telnet GA/EOR), so clients show a line without newline."""

    @property
    def oob_enabled(self) -> bool:
        """True once the client agreed to out-of-band messages (GMCP negotiated, or websocket)."""

    def buffered(self) -> int:
        """Bytes queued in the transport and not yet taken by the client."""

    def set_echo(self, on: bool) -> None:
        """Ask the client to stop (off) or resume (on) echoing input: hides typed passwords."""

    def entered(self, name: str) -> None:
        """The session now plays the character ``name`` (the browser is told it is ready)."""

    def refuse(self, code: str, message: str) -> None:
        """A login of the browser's was refused (``code`` as the login API's errors)."""

    def close(self, message: str | None = None, reconnect: bool = False) -> None:
        """Write ``message`` (rendered text) if given, then hang up. ``reconnect``: the server
        is going away and the client may come back soon. Safe to call twice."""
