"""What the engine needs of a client connection; the network layer implements it.

The network layer (telnet, websocket) owns the socket and its protocol. It hands the engine a
``Connection`` and calls the ``Session`` it gets back; the engine never touches a socket.

Network side, for each new client::

    session = game.connect(conn, **terminal)  # engine greets the player; terminal: what is
                                           # known already (width, ttype, ansi ...)
    ...for each complete input line:  await session.handle_line(line)
    ...for each out-of-band message:  session.handle_oob(package, data)
    ...terminal facts as they arrive: session.update_terminal(width=.., ttype=.., ansi=..)
    ...when the socket is gone:      session.disconnected()

Engine side: the session writes rendered text and out-of-band messages to ``conn`` once per
pulse (and at once after its own command), and calls ``conn.close()`` to hang up.
"""

from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    #: "telnet" or "websocket"
    kind: str
    #: The client's address, "host:port".
    peer: str

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

    def close(self, message: str | None = None) -> None:
        """Write ``message`` (rendered text) if given, then hang up. Safe to call twice."""
