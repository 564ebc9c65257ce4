"""One connected client, from the login screen to quit.

A session buffers what it is told (text in colour markup, out-of-band messages) and writes it to
its connection once per pulse, or at once after its own command. It renders colour for the
client it has and coalesces repeated vitals.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog

from mythos.engine import gmcp
from mythos.engine.connection import Connection
from mythos.text import Shared, render, rendered_line
from mythos.world.model import Character

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.login import LoginDialogue

log = structlog.get_logger(__name__)

#: Out-of-band packages of which only the newest in one pulse matters.
COALESCED = frozenset({"Char.Vitals", "Char.Status", "Room.Players", "Room.Npcs",
                       "Char.Combat"})


class Session:
    def __init__(self, game: Game, conn: Connection, login: LoginDialogue) -> None:
        self.game = game
        self.conn = conn
        self.state = "login"  # login -> playing -> closed
        self.char: Character | None = None
        self.login = login
        self.ansi = True
        self.width = 80
        self.height = 24
        self.ttype = ""
        self.client = ""  # from Core.Hello
        self._supports: set[str] | None = None
        self._wants: dict[str, bool] = {}  # package -> wanted, for the supports above
        self.connected_at = time.monotonic()
        self.last_input = self.connected_at
        self._out: list[str | Shared] = []
        #: Out-of-band messages queued, in order; None where a newer one of a coalesced
        #: package took the place (``_coalesced``: package -> its index here).
        self._oob: list[tuple[str, Any] | None] = []
        self._coalesced: dict[str, int] = {}
        #: When its output was last written (``time.monotonic``): the output pulse writes
        #: others' news to it again only ``output_interval`` later (``Game.flush_output``).
        self.flushed_at = 0.0
        #: The prompt last rendered, and what it showed (hp, max hp, lucidity, colour).
        self._prompt: tuple[tuple[int, int, int, bool], str] | None = None
        self._tokens = game.settings.commands_per_second * 2
        self._tokens_at = self.connected_at
        self._warned_flood = False

    # -- state ------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @property
    def playing(self) -> bool:
        return self.state == "playing" and self.char is not None

    @property
    def peer_host(self) -> str:
        return self.conn.peer.rsplit(":", 1)[0]

    # -- output -----------------------------------------------------------------------------
    def write(self, text: str | Shared) -> None:
        """Queue one or more lines of markup text for this client (a ``Shared`` when many are
        sent the same)."""
        if self.closed:
            return
        self._out.append(text)  # rendered (and ended with a new line) at the flush
        self.game.pending_output.add(self)

    def oob(self, package: str, data: Any = None) -> None:
        """Queue an out-of-band message, if the client takes that package."""
        if self.closed or not self.wants(package):
            return
        if package in COALESCED:
            before = self._coalesced.get(package)
            if before is not None:
                self._oob[before] = None  # only the newest counts; it goes last
            self._coalesced[package] = len(self._oob)
        self._oob.append((package, data))
        self.game.pending_output.add(self)

    @property
    def supports(self) -> set[str] | None:
        """The GMCP packages the client named (Core.Supports.*); None: it never said, it gets
        ``gmcp.DEFAULT_SUPPORTS``."""
        return self._supports

    @supports.setter
    def supports(self, value: set[str] | None) -> None:
        self._supports = value
        self._wants = {}

    def wants(self, package: str) -> bool:
        wanted = self._wants.get(package)
        if wanted is None:
            supported = gmcp.DEFAULT_SUPPORTS if self._supports is None else self._supports
            wanted = self._wants[package] = gmcp.supported(package, supported)
        return wanted

    def flush(self) -> bool:
        """Write what is queued to the connection (the gateway hangs up on a client that
        stopped reading); whether there was anything."""
        self.game.pending_output.discard(self)
        out, oob = self._out, self._oob
        if self.closed or not (out or oob):
            return False
        self.flushed_at = time.monotonic()
        self._out, self._oob = [], []
        if self._coalesced:
            self._coalesced = {}
        text = ""
        if out:
            text = self._rendered(out)
            if self.playing:
                text += self._rendered_prompt()
        self.conn.write_output(text, bool(out), oob)  # text, GMCP: one write
        return True

    def _rendered(self, texts: list[str | Shared]) -> str:
        """Queued markup as this client shows it, each text ending in a new line."""
        ansi = self.ansi
        return "".join([rendered_line(t, ansi) for t in texts])

    def prompt(self) -> str:
        c = self.char
        assert c is not None
        return f"{{c}}[HP {c.hp}/{c.max_hp} LCD {c.lucidity}]{{x}} > "

    def _rendered_prompt(self) -> str:
        """The prompt as this client shows it, rendered again only when it changed."""
        c = self.char
        assert c is not None
        shows = (c.hp, c.max_hp, c.lucidity, self.ansi)
        if self._prompt is None or self._prompt[0] != shows:
            self._prompt = (shows, render(self.prompt(), ansi=self.ansi))
        return self._prompt[1]

    # -- input ------------------------------------------------------------------------------
    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = self.game.settings.commands_per_second
        self._tokens = min(rate * 2, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._warned_flood = False
            return True
        return False

    async def handle_line(self, line: str) -> None:
        """One line typed by the player."""
        if self.closed:
            return
        if not line.isascii():  # lone surrogates (JSON "\ud800") cannot be sent to anyone
            line = line.encode("utf-8", "replace").decode("utf-8")
        self.last_input = time.monotonic()
        if not self._take_token():
            if not self._warned_flood:
                self._warned_flood = True
                self.write("You are typing faster than Arkham can follow; slow down.")
                self.flush()
            return
        try:
            if self.state == "login":
                await self.login.handle(line)
            elif self.playing:
                await self.game.commands.dispatch(self, line)
        except Exception:
            self.game.metrics.command_errors.inc()
            # On the login screen a line may hold a password: never log it.
            log.exception("command_failed", peer=self.conn.peer,
                          line=line[:200] if self.playing else "<login input>")
            self.write("{r}Something went wrong with that; nothing happened.{x}")
        finally:
            self.flush()

    def handle_oob(self, package: str, data: Any) -> None:
        """One out-of-band message from the client (GMCP or a websocket frame)."""
        p = package.lower()
        if p == "core.hello" and isinstance(data, dict):
            self.client = str(data.get("client", ""))[:64]
        elif p == "core.supports.set" and isinstance(data, list):
            self.supports = {"core"} | _supports(data)
        elif p == "core.supports.add" and isinstance(data, list):
            self.supports = (self.supports or set(gmcp.DEFAULT_SUPPORTS)) | _supports(data)
        elif p == "core.supports.remove" and isinstance(data, list):
            self.supports = (self.supports or set(gmcp.DEFAULT_SUPPORTS)) - _supports(data)
        elif p == "core.ping":
            self.oob("Core.Ping")
            self.flush()
        elif p in ("char.vitals", "room.info", "char.status"):
            self.resync()  # a client asking again (after a reconnect of its UI)
        elif self.playing and p == "comm.channel.list":
            self.game.social.send_channel_list(self)
            self.flush()
        elif self.playing and p in ("char.items.inv", "char.items.room", "char.items.contents"):
            self.game.economy.on_request(self, p, data)
            self.flush()

    def resync(self) -> None:
        """Send the current state again (GMCP: vitals, status, room, inventory): the client
        asked, or its gateway may have lost what it was sent (NATS was away)."""
        if self.playing:
            self.game.send_state(self)
            self.flush()

    def update_terminal(self, width: int | None = None, height: int | None = None,
                        ttype: str | None = None, ansi: bool | None = None,
                        charset: str | None = None) -> None:
        if width:
            self.width = max(20, min(int(width), 500))
        if height:
            self.height = max(5, min(int(height), 500))
        if ttype:
            self.ttype = ttype[:64]
        if ansi is not None:
            self.ansi = ansi

    def disconnected(self) -> None:
        """The socket is gone (client quit, network dropped, or we hung up)."""
        if self.state == "closed" and self.char is None:
            return
        self.state = "closed"
        self.game.session_gone(self)

    def close(self, message: str | None = None) -> None:
        """Hang up on the client, with a last message in markup."""
        if self.closed:
            return
        if message:
            self._out.append(message)
        text = self._rendered(self._out) if self._out else None
        self._out, self._oob, self._coalesced = [], [], {}
        self.state = "closed"
        self.game.pending_output.discard(self)
        self.conn.close(text)
        self.game.session_gone(self)


def _supports(items: list[Any]) -> set[str]:
    """["Char 1", "Room 1", "Char.Items 1"] -> {"char", "room", "char.items"}"""
    out: set[str] = set()
    for item in items:
        if isinstance(item, str) and item.strip():
            name, _, version = item.strip().partition(" ")
            if version.strip() != "0":
                out.add(name.lower())
    return out
