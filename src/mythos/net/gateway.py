"""The gateway's end of the bus: sockets here, the game in the world (``engine/service.py``).

The telnet and WebSocket modules call ``Gateway.connect(conn, ...)`` for each client and feed
the ``GatewaySession`` they get lines, GMCP and terminal facts; the gateway sends them to the
world and applies the world's ops (``bus/wire.py``) to the connections. In ``mythos serve`` the
world is in the same process (an in-process bus); under ``mythos gateway`` it is across NATS.

The gateway outlives the world: while the world is down (a restart, a crash) players keep
their connections, are told what is happening, and their lines wait (up to
``MAX_QUEUED_LINES``); when a world announces itself with a new epoch, every client is taken up
again, a player who was in the game straight back into it. Lines sent that the world had not
begun when it went (a crash is noticed only after ``SILENCE``) are sent again then, before the
ones that waited (``bus/wire.py``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import Any

import structlog

from mythos.bus import Bus, BusUnavailable
from mythos.bus.wire import (
    HEARTBEAT,
    MAX_QUEUED_LINES,
    SILENCE,
    WIRE,
    Subjects,
    check_token,
)
from mythos.config import Settings
from mythos.engine.connection import Connection
from mythos.engine.pulse import cancel
from mythos.metrics import Metrics
from mythos.text import render

log = structlog.get_logger(__name__)

#: How long the browser's login API waits for the world (argon2 hashes queue in a storm).
AUTH_TIMEOUT = 60.0
#: Out-of-band messages a client sends that say what it is and takes: kept and replayed to a
#: world that restarted (``Core.Hello``, ``Core.Supports.*``).
STICKY_OOB = ("core.hello", "core.supports.")
MAX_STICKY = 20

WORLD_NOT_UP = ("{Y}The world of Arkham is not up just now. Stay connected: you will be let in "
                "as soon as it is back.{x}")
WORLD_SILENT = ("{Y}The world has gone quiet. Stay connected: your commands will wait until "
                "it answers again.{x}")
GOODBYE = "Goodbye. Come back when the world is up again."
WAITING = ("{y}(The world is not back yet; your command will run when it is. 'quit' leaves "
           "now.){x}")
TOO_MANY_WAITING = "{r}Too many commands are waiting for the world; that one was dropped.{x}"
NOT_UP_REPLY = {"ok": False, "reason": "unavailable",
                "message": "The world is restarting; try again in a moment."}
NO_ANSWER_REPLY = {"ok": False, "reason": "unavailable",
                   "message": "The archives are unreachable just now; try again shortly."}


class GatewaySession:
    """One client of this gateway, as the network side sees its session (what
    ``engine/connection.py`` documents for the network side)."""

    __slots__ = ("attached", "closed", "conn", "epoch", "gateway", "handed", "heard", "login",
                 "name", "number", "sent", "sid", "sticky", "terminal", "told", "waiting")

    def __init__(self, gateway: Gateway, sid: str, conn: Connection,
                 terminal: dict[str, Any], login: dict[str, Any] | None) -> None:
        self.gateway = gateway
        self.sid = sid
        self.conn = conn
        self.terminal = terminal
        self.login = login  # the browser's ticket: who to log in at the first connect
        self.name: str | None = None  # the character played (the world said so)
        self.epoch: str | None = None  # ...in the world of this epoch
        self.sticky: list[list[Any]] = []
        self.attached = False  # the world has this client
        self.handed: str | None = None  # ...the world of this epoch, as far as we know
        self.waiting: deque[str] = deque()
        #: Lines sent to the world that it has not said it began: (number, line), in order;
        #: ``number``: the last line's.
        self.sent: deque[tuple[int, str]] = deque()
        self.number = 0
        #: The number of the last ``s`` op of the world it was handed to (wire 5).
        self.heard = 0
        self.told = False  # told that its command waits
        self.closed = False

    def begun(self, number: Any) -> None:
        """The world began the line of this number (and so every line before it)."""
        sent = self.sent
        if type(number) is int:
            while sent and sent[0][0] <= number:
                sent.popleft()

    async def handle_line(self, line: str) -> None:
        self.gateway.line(self, line)

    def handle_oob(self, package: str, data: Any) -> None:
        if self.closed:
            return
        if package.lower().startswith(STICKY_OOB) and len(self.sticky) < MAX_STICKY:
            self.sticky.append([package, data])
        if self.attached:
            self.gateway.send(self, {"k": "oob", "p": package, "d": data})

    def update_terminal(self, **facts: Any) -> None:
        if self.closed:
            return
        self.terminal.update(facts)
        if self.attached:
            self.gateway.send(self, {"k": "term", "term": facts})

    def disconnected(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.gateway.gone(self)

    def rendered(self, markup: str) -> str:
        """A message of the gateway's own, rendered for this client."""
        return render(markup + "\n", ansi=self.terminal.get("ansi", True))

    def say(self, markup: str) -> None:
        self.conn.write_text(self.rendered(markup))


class Gateway:
    def __init__(self, settings: Settings, bus: Bus, subjects: Subjects, metrics: Metrics,
                 name: str = "gw") -> None:
        self.settings = settings
        self.bus = bus
        self.subjects = subjects
        self.metrics = metrics
        self.id = f"{check_token(name, 'gateway name')}-{secrets.token_hex(3)}"
        self.sessions: dict[str, GatewaySession] = {}
        self._next_sid = 0
        self.world_up = False
        self.world_epoch: str | None = None
        self.world_wire = 1  # the version of the messages the world speaks (bus/wire.py)
        self.world_link: Any = None  # how many times it (re)connected to NATS, as it said
        self._heard = 0.0
        self._mssp: dict[str, Any] = {}
        self._heart: asyncio.Task[None] | None = None
        self._touched: set[GatewaySession] = set()
        #: NATS came back: until the world is heard again (so it is back on NATS too), new
        #: lines wait; then what it may have missed is sent again (``_heard_again``).
        self._unsure = False

    # -- start and stop ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.bus.subscribe(self.subjects.outbound(self.id), self._on_ops)
        await self.bus.subscribe(self.subjects.world_status, self._on_world)
        self.bus.on_reconnect(self._bus_back)
        self._status("up")
        self._heart = asyncio.get_running_loop().create_task(self._heartbeat(),
                                                             name="gateway-heartbeat")
        log.info("gateway_started", gateway=self.id, bus=self.bus.kind)

    async def stop(self) -> None:
        await cancel(self._heart)
        self._heart = None
        self._status("down")
        await self.bus.flush()

    def _status(self, state: str) -> None:
        self.bus.publish(self.subjects.gateway_status, {
            "gateway": self.id, "state": state, "sessions": len(self.sessions)})

    async def _heartbeat(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(HEARTBEAT)
            try:
                self._status("up")
                now = time.monotonic()
                if now - before > HEARTBEAT + 1.0:
                    self._heard = now  # this loop stalled: silence counts only while listening
                elif self.world_up and now - self._heard > SILENCE:
                    self._world_lost(WORLD_SILENT)
            except Exception:
                log.exception("gateway_heartbeat_failed")

    def close_all(self, message: str) -> None:
        """Hang up on every client (this gateway is stopping); the world hears they left."""
        for session in list(self.sessions.values()):
            session.conn.close(session.rendered(message), reconnect=True)
            session.disconnected()

    def mssp(self) -> dict[str, Any]:
        return self._mssp

    # -- the network side calls these ----------------------------------------------------------
    def connect(self, conn: Connection, *, login: dict[str, Any] | None = None,
                oob: list[list[Any]] | None = None, **terminal: Any) -> GatewaySession:
        """A new client. ``login``: ``{"name", "new"}`` of a player the browser's login API
        let in (no login screen); ``oob``: what it takes (``[["Core.Supports.Set", [...]]]``);
        ``terminal``: what is known of the client already."""
        self._next_sid += 1
        session = GatewaySession(self, str(self._next_sid), conn, dict(terminal), login)
        for package, data in oob or ():
            session.handle_oob(package, data)
        self.sessions[session.sid] = session
        if self.world_up:
            self._attach(session)
        else:
            session.say(WORLD_NOT_UP)
        return session

    def line(self, session: GatewaySession, line: str) -> None:
        if session.closed:
            return
        if session.attached:
            if not self._unsure:
                self._send_new(session, line)
            elif len(session.waiting) < MAX_QUEUED_LINES:  # until the world is heard again
                session.waiting.append(line)
            else:
                session.say(TOO_MANY_WAITING)
            return
        if line.strip().lower() == "quit":  # no need to wait for the world to leave
            session.conn.close(session.rendered(GOODBYE))
            return
        if session.name is None and session.login is None:
            # Still on the login screen: nothing to keep for the world (a login, perhaps a
            # password); it greets the client afresh when it is back.
            session.say(WORLD_NOT_UP)
            return
        if len(session.waiting) >= MAX_QUEUED_LINES:
            session.say(TOO_MANY_WAITING)
            return
        session.waiting.append(line)
        if not session.told:
            session.told = True
            session.say(WAITING)

    def _send_new(self, session: GatewaySession, line: str) -> None:
        """A line sent for the first time: it gets the session's next number."""
        session.number += 1
        self._send_line(session, session.number, line)

    def _send_line(self, session: GatewaySession, number: int, line: str) -> None:
        if self.world_wire >= 4:  # a world that says which lines it began
            sent = session.sent
            sent.append((number, line))
            if len(sent) > MAX_QUEUED_LINES:  # the world holds no more than that waiting
                sent.popleft()
        self.send(session, {"k": "line", "t": line, "n": number})

    def send(self, session: GatewaySession, message: dict[str, Any]) -> None:
        self.bus.publish(self.subjects.inbound(self.id, session.sid), message)

    def gone(self, session: GatewaySession) -> None:
        self.sessions.pop(session.sid, None)
        self._touched.discard(session)
        if session.attached:
            session.attached = False
            self.send(session, {"k": "gone"})

    async def auth(self, op: str, name: str, password: str, host: str,
                   profession: str = "") -> dict[str, Any]:
        """The browser's login API asks the world: ``{"ok": true, "name"}`` or ``{"ok":
        false, "reason", "message"}``."""
        if not self.world_up:
            return NOT_UP_REPLY
        try:
            reply = await self.bus.request(self.subjects.auth, {
                "op": op, "name": name, "password": password, "profession": profession,
                "host": host}, AUTH_TIMEOUT)
        except BusUnavailable:
            return NO_ANSWER_REPLY
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            return NO_ANSWER_REPLY
        return reply

    # -- to the world ----------------------------------------------------------------------------
    def _attach(self, session: GatewaySession, epoch: str | None = None) -> None:
        """Hand the client to the world (of ``epoch``, if known other than by its status): a
        new one, or one taken up again after a restart."""
        login: dict[str, Any] | None = session.login
        if session.name is not None:
            login = {"name": session.name, "resume": True, "epoch": session.epoch}
        elif login is None:
            # It was on the login screen, perhaps at a hidden password prompt: a new one comes,
            # and what it typed meanwhile (a password, maybe) must not be read as a name.
            session.conn.set_echo(True)
            session.waiting.clear()
            session.sent.clear()
        conn = session.conn
        self.send(session, {"k": "connect", "kind": conn.kind, "peer": conn.peer,
                            "term": session.terminal, "oob": session.sticky, "login": login,
                            "wire": WIRE})
        session.attached = True
        session.heard = 0  # the world counts its ops to the client it takes up from 1
        session.handed = epoch or self.world_epoch
        session.told = False
        if resent := self._send_held(session):  # not begun by the world that went
            self.metrics.lines_resent.inc(resent)

    def _send_held(self, session: GatewaySession) -> int:
        """Send the lines of ``session`` the world has not said it began, in order, then those
        that waited; how many were sent again."""
        again, session.sent = session.sent, deque()
        for number, line in again:
            self._send_line(session, number, line)
        while session.waiting:
            self._send_new(session, session.waiting.popleft())
        return len(again)

    def _bus_back(self) -> None:
        """NATS is back after it was away: lines sent meanwhile may not have reached the
        world (NATS keeps nothing for a subscriber that is not back yet)."""
        if self.world_up:
            self._unsure = True

    def _heard_again(self) -> None:
        """The world is heard on NATS again, so it hears us: send each attached session's
        lines the world has not said it began (it skips those it has already), then the lines
        typed since NATS came back, and ask for its state again (what the world sent while
        one of us was off NATS may be lost: a world of wire 5 and later sends again the ops
        after the last one heard)."""
        self._unsure = False
        resent = 0
        for session in list(self.sessions.values()):
            if session.attached:
                resent += self._send_held(session)
                self.send(session, {"k": "resync", "after": session.heard}
                          if self.world_wire >= 5 else {"k": "resync"})
        if resent:
            self.metrics.lines_resent.inc(resent)
            log.info("lines_resent", gateway=self.id, lines=resent)

    def _world_lost(self, message: str | None) -> None:
        """The world went away: its sessions wait for the next one (told ``message``)."""
        self._unsure = False  # attaching again sends what waits
        self.world_up = False
        self.metrics.world_up.set(0)
        log.warning("world_lost", gateway=self.id, epoch=self.world_epoch)
        for session in list(self.sessions.values()):
            if session.attached:
                session.attached = False
                if message:
                    session.say(message)

    # -- from the world --------------------------------------------------------------------------
    def _on_world(self, subject: str, msg: Any) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("epoch"), str):
            return
        self._heard = time.monotonic()
        if isinstance(msg.get("mssp"), dict):
            self._mssp = msg["mssp"]
        wire = msg.get("wire")
        self.world_wire = wire if type(wire) is int else 1
        epoch = msg["epoch"]
        link, self.world_link = self.world_link, msg.get("link")
        if self.world_up and epoch == self.world_epoch and (
                self._unsure or link != self.world_link):  # it or we were off NATS
            self._heard_again()
        if msg.get("state") != "up":
            if self.world_up and epoch == self.world_epoch:
                # A restart or a shutdown: the world tells each session itself ("w" or "c").
                self._world_lost(None)
            return
        if self.world_up and epoch == self.world_epoch:
            return
        new = epoch != self.world_epoch
        self.world_epoch = epoch
        self._unsure = False  # each client is taken up (again) below, with what waits
        self.world_up = True
        self.metrics.world_up.set(1)
        log.info("world_up", gateway=self.id, epoch=epoch, new=new,
                 sessions=len(self.sessions))
        for session in list(self.sessions.values()):
            if session.attached and session.handed == epoch:
                continue  # taken up by this world already, at its "x"
            if new or not session.attached:
                self._attach(session)

    def _on_ops(self, subject: str, msg: Any) -> None:
        ops = msg.get("ops") if isinstance(msg, dict) else None
        if not isinstance(ops, list):
            return
        sessions = self.sessions
        touched = self._touched
        for op in ops:
            try:
                session = sessions.get(op[1])
                if session is None or session.closed:
                    continue
                code = op[0]
                if code == "s" and len(op) > 6:
                    if op[6] <= session.heard:
                        continue  # had already: sent again after NATS was away
                    session.heard = op[6]
                conn = session.conn
                if session not in touched:
                    touched.add(session)
                    conn.hold()  # all its output of this message in one write
                if code == "s" or code == "t":  # held above: text, prompt, GMCP in one write
                    conn.write_text(op[2])
                    if op[3]:
                        conn.send_prompt_end()
                    if code == "s":
                        gmcp_ops = op[4]
                        for i in range(0, len(gmcp_ops) - 1, 2):
                            json_text = gmcp_ops[i + 1]
                            conn.write_gmcp(str(gmcp_ops[i]),
                                            json_text if isinstance(json_text, str) else None)
                        if len(op) > 5:
                            session.begun(op[5])
                elif code == "n":
                    session.begun(op[2])
                elif code == "j":
                    conn.write_gmcp(str(op[2]), op[3] if isinstance(op[3], str) else None)
                elif code == "o":
                    conn.write_oob(op[2], op[3])
                elif code == "e":
                    conn.set_echo(bool(op[2]))
                elif code == "b":
                    session.name = str(op[2])
                    session.epoch = str(op[3]) if len(op) > 3 else None
                    session.login = None
                    conn.entered(session.name)
                elif code == "r":
                    conn.refuse(str(op[2]), str(op[3]))
                elif code == "c":
                    session.attached = False  # the world has let it go already
                    conn.close(op[2], reconnect=bool(op[3]))
                elif code == "w":
                    session.attached = False
                    if op[2]:
                        conn.write_text(op[2])
                elif code == "x":
                    session.attached = False
                    if self.world_up:
                        self._attach(session, op[2] if len(op) > 2 and isinstance(op[2], str)
                                     else None)
            except Exception:
                log.exception("gateway_op_failed", op=str(op)[:120])
        if touched:
            self._touched = set()
            limit = self.settings.output_limit
            for session in touched:
                session.conn.release()
                if not session.closed and session.conn.buffered() > limit:
                    self.metrics.disconnects_slow.inc()
                    log.warning("slow_client_disconnected", peer=session.conn.peer,
                                buffered=session.conn.buffered())
                    session.conn.close()
                    session.disconnected()  # the world hears it now; later ops are dropped
