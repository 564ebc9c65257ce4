"""The world's end of the bus: clients on gateways become sessions of the game.

Each client a gateway announces (``bus/wire.py``: ``connect``) becomes a ``Session`` on a
``RemoteConnection``, which turns what the engine writes into ops for that gateway; the ops of
one turn of the loop go out as one message per gateway. Lines typed are queued per session and
handled in order, one session's slow command (a password hash, a database commit) never
holding up another's. A gateway not heard from for ``SILENCE`` seconds is taken for dead and
its players leave the world, as if they had dropped their connection.

The world announces itself every ``HEARTBEAT`` with an ``epoch`` new at each start: a gateway
that sees a new epoch takes its clients up again (a player who was in the game comes back into
it without a password: the gateway vouches for it, and only trusted gateways are heard).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog

from mythos.bus import Bus, Subscription
from mythos.bus.wire import (
    BATCH_BYTES,
    BEGUN_TIMEOUT,
    HEARTBEAT,
    MAX_QUEUED_LINES,
    REPLAY_OPS,
    REPLAY_SECONDS,
    SILENCE,
    WIRE,
    Subjects,
)
from mythos.engine import gmcp
from mythos.engine.connection import before_commit
from mythos.engine.login import (
    UNREACHABLE,
    ArchivesUnreachable,
    LoginRefused,
    authenticate,
    create_account,
    enter_game,
    store_call,
    welcome_back,
    welcome_new,
)
from mythos.engine.pulse import cancel
from mythos.rules.character import DEFAULT_PROFESSION
from mythos.text import strip_markup

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.session import Session

log = structlog.get_logger(__name__)

#: The terminal facts a gateway may report, and their types.
TERMINAL_FACTS = {"width": int, "height": int, "ttype": str, "ansi": bool, "charset": str}


def welcome_resumed(name: str) -> str:
    return f"{{Y}}The world steadies around you again, {name}. You are where you were.{{x}}"


def terminal_facts(raw: Any) -> dict[str, Any]:
    """The well-formed terminal facts of a message; anything else is left out."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, kind in TERMINAL_FACTS.items():
        value = raw.get(key)
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            out[key] = value[:64] if isinstance(value, str) else value
    return out


def _size(op: list[Any]) -> int:
    """About how many bytes ``op`` takes in a message: its text and JSON, the rest counted
    roughly."""
    code = op[0]
    if code == "s":
        return len(op[2]) + sum(len(part) + 8 for part in op[4] if part is not None)
    if code == "t":
        return len(op[2])
    if code == "j" and op[3] is not None:
        return len(op[3]) + 40
    return 200


class RemoteConnection:
    """A client on a gateway, as the engine sees it (``engine/connection.py``)."""

    def __init__(self, service: WorldService, gateway: str, sid: str, kind: str,
                 peer: str, wire: int = 1) -> None:
        self.service = service
        self.wire = wire  # what the gateway understands (bus/wire.py: WIRE)
        self.gateway = gateway
        self.sid = sid
        self.kind = kind if kind in ("telnet", "websocket") else "telnet"
        self.peer = peer[:80]
        self.closed = False
        #: The number of the last line of this session begun here, and the last the gateway
        #: was told of (``bus/wire.py``).
        self.begun = 0
        self.told = 0
        #: The number of the last ``s`` op, and the last ops kept to send again (on NATS, to a
        #: gateway of wire 5 and later: ``replay``); ``marks``: ``out`` at each of the last
        #: heartbeats, to let go of those older than ``REPLAY_SECONDS`` (``forget_old``)
        #: without a clock read for every op.
        self.out = 0
        self.recent: deque[list[Any]] | None = (
            deque(maxlen=REPLAY_OPS) if wire >= 5 and service.keeps_output else None)
        self.marks: deque[int] | None = (
            deque(maxlen=max(1, int(REPLAY_SECONDS // HEARTBEAT)))
            if self.recent is not None else None)

    def write_output(self, text: str, prompt: bool, oob: list[tuple[str, Any] | None]) -> None:
        if self.closed:
            return
        emit, gateway, sid = self.service.emit, self.gateway, self.sid
        if self.wire >= 3:  # all of it in one op: one write on the gateway
            gmcp_ops: list[str | None] = []
            for message in oob:
                if message is not None:
                    gmcp_ops.append(message[0])
                    gmcp_ops.append(gmcp.as_json(message[1]))  # an Encoded is JSON already
            if self.wire >= 4:
                self.told = self.begun
                op = ["s", sid, text, prompt, gmcp_ops, self.begun]
                if self.wire >= 5:
                    self.out += 1
                    op.append(self.out)
                    if self.recent is not None:
                        self.recent.append(op)  # never changed once emitted
                emit(gateway, op)
            else:
                emit(gateway, ["s", sid, text, prompt, gmcp_ops])
            return
        if text:
            emit(gateway, ["t", sid, text, prompt])
        for message in oob:
            if message is None:
                continue
            package, data = message
            if self.wire == 2:
                emit(gateway, ["j", sid, package, gmcp.as_json(data)])
            else:
                emit(gateway, ["o", sid, package,
                               data.data if isinstance(data, gmcp.Encoded) else data])

    def replay(self, after: int) -> bool:
        """Send again the ``s`` ops after number ``after`` (the last the gateway got); whether
        they were all still kept."""
        if self.closed or self.recent is None or not 0 <= after <= self.out:
            return False
        ops = [op for op in self.recent if op[6] > after]
        for op in ops:
            self.service.emit(self.gateway, op)
        return after == self.out or ops[0][6] == after + 1

    def forget_old(self) -> None:
        """Each heartbeat: let go of the kept ops sent before the oldest mark (about
        ``REPLAY_SECONDS`` ago)."""
        recent, marks = self.recent, self.marks
        if recent is None or marks is None:
            return
        if len(marks) == marks.maxlen:
            oldest = marks[0]
            while recent and recent[0][6] <= oldest:
                recent.popleft()
        marks.append(self.out)

    async def line_begun(self) -> bool:
        """Make sure the gateway knows which line began before it changes the database
        (``connection.before_commit``): told, and flushed to the bus; False if NATS did not
        confirm it within ``BEGUN_TIMEOUT``."""
        if self.closed or self.wire < 4 or self.told >= self.begun:
            return True
        self.told = self.begun
        self.service.emit(self.gateway, ["n", self.sid, self.begun])
        self.service.flush_outbox()
        return await self.service.bus.flush(BEGUN_TIMEOUT)

    def set_echo(self, on: bool) -> None:
        if not self.closed:
            self.service.emit(self.gateway, ["e", self.sid, on])

    def entered(self, name: str) -> None:
        if not self.closed:
            self.service.emit(self.gateway, ["b", self.sid, name, self.service.epoch])

    def refuse(self, code: str, message: str) -> None:
        if not self.closed:
            self.service.emit(self.gateway, ["r", self.sid, code, message])

    def close(self, message: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        service = self.service
        if service.restarting:
            service.emit(self.gateway, ["w", self.sid, message])
        else:
            service.emit(self.gateway, ["c", self.sid, message, service.game.shutting_down])
        service.forget(self.gateway, self.sid, self)


class _Client:
    """One remote session and the lines it typed that are not handled yet."""

    __slots__ = ("conn", "lines", "session", "warned", "worker")

    def __init__(self, conn: RemoteConnection, session: Session) -> None:
        self.conn = conn
        self.session = session
        self.lines: deque[tuple[int, str]] = deque()  # (its number, 0: none; the line)
        self.worker: asyncio.Task[None] | None = None
        self.warned = False


class WorldService:
    def __init__(self, game: Game, bus: Bus, subjects: Subjects) -> None:
        self.game = game
        self.bus = bus
        self.subjects = subjects
        self.epoch = secrets.token_hex(6)
        self.clients: dict[tuple[str, str], _Client] = {}
        self.gateways: dict[str, float] = {}  # gateway -> monotonic time last heard
        #: Going down to come back (``reload``, SIGTERM of ``mythos world``): gateways keep
        #: their players' connections.
        self.restarting = False
        self._outbox: dict[str, list[list[Any]]] = {}
        self._flush_scheduled = False
        #: The loop the world runs on, from ``start`` (asking for it on every op costs a
        #: system call on Python 3.11: ``get_running_loop`` checks the process id).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heart: asyncio.Task[None] | None = None
        self._subs: list[Subscription] = []
        self._up = False
        #: How many times the world (re)connected to the bus: a gateway that sees it change
        #: sends again the lines that may have found nobody listening (``bus/wire.py``).
        self._link = 1
        #: Whether the world keeps each client's last output to send again (``replay``): on
        #: NATS, where a gateway may miss it; in one process nothing is ever missed.
        self.keeps_output = bus.kind != "local"

    # -- start and stop ----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._subs = [
            await self.bus.subscribe(self.subjects.inbound_all, self._on_input),
            await self.bus.subscribe(self.subjects.gateway_status, self._on_gateway),
            await self.bus.serve(self.subjects.auth, self._on_auth)]
        self._up = True
        self.game.metrics.world_up.set(1)
        self.bus.on_reconnect(self._bus_back)
        self._announce()
        self._heart = asyncio.get_running_loop().create_task(self._heartbeat(),
                                                             name="world-heartbeat")
        log.info("world_service_started", bus=self.bus.kind, epoch=self.epoch)

    def going_down(self, restarting: bool) -> None:
        """Tell the gateways, before the sessions are closed: from now on a ``close`` of a
        session, when ``restarting``, keeps its connection open on the gateway."""
        self.restarting = restarting
        self._up = False
        self.game.metrics.world_up.set(0)
        self._announce()

    async def stop(self) -> None:
        await cancel(self._heart)
        self._heart = None
        self.flush_outbox()
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs = []
        await self.bus.flush()

    def _announce(self) -> None:
        self.bus.publish(self.subjects.world_status, {
            "state": "up" if self._up else "down", "epoch": self.epoch, "wire": WIRE,
            "link": self._link,
            "restarting": self.restarting, "mssp": self.game.mssp()})

    def _bus_back(self) -> None:
        """Back on NATS after it was away: what gateways sent meanwhile found nobody."""
        self._link += 1
        if self._up:
            self._announce()

    async def _heartbeat(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(HEARTBEAT)
            try:
                self._announce()
                if time.monotonic() - before > HEARTBEAT + 1.0:
                    # This loop itself stalled: the gateways' heartbeats may be waiting to be
                    # read. Silence counts only while the world was listening.
                    self._heard_all()
                else:
                    self._reap_gateways()
                if self.keeps_output:
                    for client in self.clients.values():
                        client.conn.forget_old()
            except Exception:
                log.exception("world_heartbeat_failed")

    def _heard_all(self) -> None:
        now = time.monotonic()
        for gateway in self.gateways:
            self.gateways[gateway] = now

    # -- gateways ------------------------------------------------------------------------------
    def _on_gateway(self, subject: str, msg: Any) -> None:
        if not isinstance(msg, dict) or not isinstance(msg.get("gateway"), str):
            return
        gateway = msg["gateway"]
        if msg.get("state") == "down":
            self.gateways.pop(gateway, None)
            self._drop_gateway(gateway, "gateway_stopped")
        else:
            if gateway not in self.gateways and self._up:
                self._announce()  # a new gateway: it need not wait for the next heartbeat
            self.gateways[gateway] = time.monotonic()

    def _reap_gateways(self) -> None:
        now = time.monotonic()
        for gateway, seen in list(self.gateways.items()):
            if now - seen > SILENCE:
                del self.gateways[gateway]
                self._drop_gateway(gateway, "gateway_silent")

    def _drop_gateway(self, gateway: str, reason: str) -> None:
        gone = [key for key in self.clients if key[0] == gateway]
        if gone:
            log.warning(reason, gateway=gateway, sessions=len(gone))
        for key in gone:
            client = self.clients.pop(key, None)
            if client is not None:
                client.conn.closed = True
                self._disconnected(client)

    # -- output --------------------------------------------------------------------------------
    def emit(self, gateway: str, op: list[Any]) -> None:
        box = self._outbox.get(gateway)
        if box is None:
            box = self._outbox[gateway] = []
        box.append(op)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            (self._loop or asyncio.get_running_loop()).call_soon(self.flush_outbox)

    def flush_outbox(self) -> None:
        self._flush_scheduled = False
        boxes, self._outbox = self._outbox, {}
        whole = self.bus.kind == "local"  # handed over as it is: no message size to keep to
        for gateway, ops in boxes.items():
            subject = self.subjects.outbound(gateway)
            if whole:
                self.bus.publish(subject, {"ops": ops})
                continue
            start, size = 0, 0
            for i, op in enumerate(ops):
                size += _size(op)
                if size > BATCH_BYTES:
                    self.bus.publish(subject, {"ops": ops[start:i + 1]})
                    start, size = i + 1, 0
            if start < len(ops):
                self.bus.publish(subject, {"ops": ops[start:] if start else ops})

    def forget(self, gateway: str, sid: str, conn: RemoteConnection) -> None:
        client = self.clients.get((gateway, sid))
        if client is not None and client.conn is conn:
            del self.clients[(gateway, sid)]

    # -- input ---------------------------------------------------------------------------------
    def _on_input(self, subject: str, msg: Any) -> None:
        where = self.subjects.split_inbound(subject)
        if where is None or not isinstance(msg, dict):
            return
        gateway, sid = where
        kind = msg.get("k")
        self.gateways.setdefault(gateway, time.monotonic())
        if kind == "connect":
            return self._connect(gateway, sid, msg)
        client = self.clients.get((gateway, sid))
        if client is None:
            if kind != "gone":
                # unknown here (a restart): take it up again, here
                self.emit(gateway, ["x", sid, self.epoch])
            return None
        session = client.session
        if kind == "line":
            line, number = msg.get("t"), msg.get("n")
            if isinstance(line, str) and len(line) <= self.game.settings.max_line:
                self._queue_line(client, line, number if type(number) is int else 0)
        elif kind == "oob":
            package, data = msg.get("p"), msg.get("d")
            if isinstance(package, str) and 0 < len(package) <= 128:
                session.handle_oob(package, data)
        elif kind == "resync":
            after = msg.get("after")
            if type(after) is int and client.conn.replay(after):
                log.info("output_replayed", gateway=gateway, sid=sid,
                         ops=client.conn.out - after)
            else:  # some of it is lost: its state, at least, is sent again
                session.resync()
        elif kind == "term":
            facts = terminal_facts(msg.get("term"))
            if facts:
                session.update_terminal(**facts)
        elif kind == "gone":
            del self.clients[(gateway, sid)]
            client.conn.closed = True
            self._disconnected(client)
        return None

    def _disconnected(self, client: _Client) -> None:
        # A command under way finishes (its worker stops after it, the session being closed):
        # never cut an item move or a login in the middle.
        try:
            client.session.disconnected()
        except Exception:
            log.exception("disconnected_failed", peer=client.conn.peer)

    def _connect(self, gateway: str, sid: str, msg: dict[str, Any]) -> None:
        old = self.clients.pop((gateway, sid), None)
        if old is not None:  # the gateway takes this client up again: the old one is gone
            old.conn.closed = True
            self._disconnected(old)
        peer, wire = msg.get("peer"), msg.get("wire")
        conn = RemoteConnection(self, gateway, sid, str(msg.get("kind", "telnet")),
                                peer if isinstance(peer, str) else "?:0",
                                wire if isinstance(wire, int) and not isinstance(wire, bool)
                                else 1)
        session = self.game.connect(conn, greet=False, **terminal_facts(msg.get("term")))
        if session.closed:  # refused (a cap, a shutdown): it said why
            return
        client = self.clients[(gateway, sid)] = _Client(conn, session)
        if old is not None:  # the lines it began are not run again when the gateway resends
            conn.begun = old.conn.begun
        oob = msg.get("oob")
        for item in (oob if isinstance(oob, list) else [])[:20]:
            if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
                session.handle_oob(item[0], item[1])
        login = msg.get("login")
        if isinstance(login, dict) and isinstance(login.get("name"), str):
            client.worker = asyncio.get_running_loop().create_task(
                self._enter(client, login), name=f"enter-{login['name'][:20]}")
        else:
            session.login.greet()
            session.flush()

    def _queue_line(self, client: _Client, line: str, number: int) -> None:
        if number and (number <= client.conn.begun or any(n == number for n, _ in client.lines)):
            return  # begun or waiting here already: the gateway sent it again (bus/wire.py)
        if len(client.lines) >= MAX_QUEUED_LINES:
            if not client.warned:
                client.warned = True
                client.session.write("You are typing faster than Arkham can follow; slow down.")
                client.session.flush()
            return
        client.lines.append((number, line))
        if client.worker is None:
            loop = self._loop or asyncio.get_running_loop()
            client.worker = loop.create_task(self._work(client))

    async def _work(self, client: _Client) -> None:
        try:
            await self._drain(client)
        finally:
            client.worker = None

    async def _drain(self, client: _Client) -> None:
        session, conn = client.session, client.conn
        lines = client.lines
        if self.bus.kind != "local":  # in one process a crash takes the gateway along too
            before_commit.set(conn.line_begun)  # this task's, and the tasks it starts
        while lines and not session.closed:
            number, line = lines.popleft()
            if number:
                conn.begun = number
            await session.handle_line(line)
            self.flush_outbox()  # the answer goes now, not after the loop's next turn
        client.warned = False

    async def _enter(self, client: _Client, login: dict[str, Any]) -> None:
        """A player the gateway vouches for (the browser's login API, or one who was in the game
        when the world restarted) goes straight into the game; then the lines it typed."""
        try:
            resume = bool(login.get("resume"))
            if await self._login(client, str(login["name"])[:20], bool(login.get("new")),
                                 resume, quiet=resume and login.get("epoch") != self.epoch):
                await self._drain(client)
        finally:
            client.worker = None

    async def _login(self, client: _Client, name: str, new: bool, resume: bool,
                     quiet: bool = False) -> bool:
        """``resume``: it was in the game when the world went away (welcomed back where it
        was, no message of the day); ``quiet``: in another world, which stopped or died
        (nobody sees it arrive, nobody saw it go)."""
        game, session, conn = self.game, client.session, client.conn
        try:
            account = await store_call(game.store.get_account(name))
            if session.closed:
                return False
            if account is None or account.banned:
                conn.refuse("refused", "That character can no longer log in.")
                session.close()
                return False
            welcome = welcome_resumed if resume else welcome_new if new else welcome_back
            entered = await enter_game(game, session, account.name, account.role, welcome,
                                       motd=not resume, announce=not quiet)
        except LoginRefused as refused:
            conn.refuse(refused.reason, strip_markup(refused.message))
            session.close()
            return False
        except ArchivesUnreachable:
            game.metrics.logins.labels("unavailable").inc()
            conn.refuse("unavailable", strip_markup(UNREACHABLE))
            session.close()
            return False
        if entered:
            session.flush()
        return entered

    # -- the browser's login API ---------------------------------------------------------------
    async def _on_auth(self, msg: Any) -> dict[str, Any]:
        """``{"op": "login"|"create", "name", "password", "profession", "host"}`` ->
        ``{"ok": true, "name"}`` or ``{"ok": false, "reason", "message"}``."""
        if not isinstance(msg, dict):
            return {"ok": False, "reason": "invalid", "message": "Bad request."}
        fields = {k: msg.get(k) for k in ("op", "name", "password", "profession", "host")}
        if not all(isinstance(v, str) for v in fields.values()):
            return {"ok": False, "reason": "invalid", "message": "Bad request."}
        game, name, password, host = self.game, fields["name"], fields["password"], fields["host"]
        try:
            if fields["op"] == "login":
                account = await authenticate(game, name, password, host, f"{host} (web)")
                return {"ok": True, "name": account.name}
            if fields["op"] == "create":
                _, row = await create_account(game, name, password,
                                              fields["profession"] or DEFAULT_PROFESSION)
                return {"ok": True, "name": row.name}
        except LoginRefused as refused:
            return {"ok": False, "reason": refused.reason,
                    "message": strip_markup(refused.message)}
        except ArchivesUnreachable as exc:
            game.metrics.logins.labels("unavailable").inc()
            log.warning("login_database_unreachable", peer=host, error=str(exc))
            return {"ok": False, "reason": "unavailable", "message": strip_markup(UNREACHABLE)}
        return {"ok": False, "reason": "invalid", "message": "Bad request."}
