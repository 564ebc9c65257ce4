"""The composition root: the world (game, rules, storage) and the gateway (sockets), joined by a
bus; one process (``mythos serve``) or several (``mythos world``, ``mythos gateway``).

- ``WorldNode``: loads the world, opens the store, runs the pulse, the write-behind and the
  game, and serves the game on the bus (``engine/service.py``).
- ``GatewayNode``: the telnet and web listeners and the gateway (``net/gateway.py``).
- ``App``: both in one process on an ``InProcessBus``; the default. ``WorldApp`` and
  ``GatewayApp`` run one node each on NATS (``docs/DEPLOYMENT.md``).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time
from typing import Any

import structlog

from mythos.bus import Bus
from mythos.bus.local import InProcessBus
from mythos.bus.nats import NatsBus, masked
from mythos.bus.wire import Subjects
from mythos.commands.table import load_table
from mythos.config import Settings
from mythos.engine.game import Game
from mythos.engine.pulse import LagMonitor, Pulse, cancel
from mythos.engine.service import WorldService
from mythos.metrics import Metrics
from mythos.net.gateway import Gateway
from mythos.net.telnet import TelnetListener, start_telnet
from mythos.net.web import WebListener, start_web
from mythos.store import Store, WriteBehind
from mythos.world import load_world

log = structlog.get_logger(__name__)

SHUTDOWN_MESSAGE = ("{Y}The fog rolls in and Arkham fades from view: the server is shutting "
                    "down. Your progress is saved.{x}")
GATEWAY_CLOSING = ("{Y}This gateway to Arkham is closing. Your progress is saved; connect "
                   "again to carry on.{x}")
RESTART_MESSAGE = ("{Y}The fog thickens for a moment: the world is restarting. Your progress "
                   "is saved; stay connected.{x}")



#: Allocations (net of deallocations) between two collections of the youngest generation;
#: Python's default is 700.
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect the youngest generation less often. A server allocates fast (every command, every
    message), and at Python's default many objects that live only a few milliseconds (a
    command's coroutine waiting for the database, a batch of output) are caught alive by a young
    collection and promoted; once the promoted ones reach a quarter of the old generation, the
    collector makes a full pass over everything alive: with thousands of players, hundreds of
    milliseconds with the loop stopped. Rarer young collections let such objects die first."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


#: Seconds a thread waiting for the GIL waits before it asks the running one to let go;
#: Python's default is 0.005.
SWITCH_INTERVAL = 0.0005


def tune_threads() -> None:
    """Let our threads (SQLite's, the password hashers') have the GIL sooner while the loop is
    busy. A thread that has waited one switch interval asks for the GIL only if it has not
    changed hands meanwhile; but a busy loop lets go of it and takes it back at every turn (to
    poll its sockets), more often than every 5 ms, so the thread went on waiting: an item move
    or a login's hash, each a few hand-overs between the loop and a thread, took hundreds of
    milliseconds, at times seconds (measured on a loop kept busy in bursts of 1 ms: an empty
    job handed to a thread took p99 1.5 s at 5 ms, 6 ms at 0.5 ms). With an interval shorter
    than the loop's turns the thread gets the GIL within about one interval. It costs nothing
    while no thread waits."""
    sys.setswitchinterval(SWITCH_INTERVAL)


def loop_name() -> str:
    """Which event loop this process runs on: "uvloop" or "asyncio" (``event_loop``)."""
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]


class WorldNode:
    """The game and its storage, serving gateways on ``bus``."""

    def __init__(self, settings: Settings, metrics: Metrics, bus: Bus, subjects: Subjects) -> None:
        self.settings = settings
        self.metrics = metrics
        self.bus = bus
        self.subjects = subjects
        self.started = False

    async def start(self) -> None:
        s = self.settings
        world = await asyncio.to_thread(load_world, s.world)
        self.store = await Store.open(s.db_url, busy_timeout=s.db_busy_timeout)
        self.pulse = Pulse(self.metrics, s.pulse_seconds)
        self.writebehind = WriteBehind(self.store, interval=s.flush_interval,
                                       batch_size=s.flush_batch, metrics=self.metrics)
        self.game = Game(s, world, self.store, load_table(), self.metrics, self.writebehind,
                         self.pulse)
        await self.game.economy.start()  # room items: seeded once from the files, then loaded
        await self.game.npcs.start(spawn=s.npcs)  # every NPC, and the corpses' decay timers
        # The world just loaded lives as long as the server: keep it out of the collector's
        # full passes, which would otherwise walk all of it and stall the loop.
        gc.freeze()
        tune_gc()
        tune_threads()
        self.pulse.start()
        self.writebehind.start()
        self.service = WorldService(self.game, self.bus, self.subjects)
        await self.service.start()
        self.started = True
        log.info("world_started", database=self.store.url, rooms=len(world.rooms),
                 epoch=self.service.epoch)

    async def stop(self, message: str, *, restarting: bool = False) -> None:
        """Tell and save everyone, final flush, close the database. ``restarting``: the
        gateways keep the players' connections for the next world."""
        service: WorldService | None = getattr(self, "service", None)
        if service is not None:
            service.going_down(restarting)
        game: Game | None = getattr(self, "game", None)
        if game is not None:
            await game.close_all(message)
        if service is not None:
            await service.stop()
        for name in ("pulse",):
            part = getattr(self, name, None)
            if part is not None:
                await part.stop()
        if game is not None:
            await game.npcs.stop()
            game.hasher.close()
        writebehind: WriteBehind | None = getattr(self, "writebehind", None)
        if writebehind is not None:
            await writebehind.stop(timeout=self.settings.shutdown_grace)
        store: Store | None = getattr(self, "store", None)
        if store is not None:
            await store.close()
        log.info("world_stopped", unsaved=writebehind.dirty_count if writebehind else 0,
                 restarting=restarting)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        db_ok = await self.store.ping()
        body = {
            "uptime": round(time.time() - self.game.started_at, 1),
            "players_online": len(self.game.online),
            "sessions": len(self.game.sessions),
            "database": {"reachable": db_ok, "flushing": self.writebehind.healthy,
                         "unsaved": self.writebehind.dirty_count},
        }
        return db_ok and self.writebehind.healthy, body


class GatewayNode:
    """The sockets: telnet, the browser's page, its login API and ``/ws``."""

    def __init__(self, settings: Settings, metrics: Metrics, bus: Bus, subjects: Subjects,
                 name: str = "gw") -> None:
        self.settings = settings
        self.gateway = Gateway(settings, bus, subjects, metrics, name)
        self.telnet: TelnetListener | None = None

    async def start(self) -> None:
        tune_gc()
        tune_threads()
        await self.gateway.start()
        s = self.settings
        self.telnet = await start_telnet(self.gateway, s.host, s.telnet_port)

    def stop_accepting(self) -> None:
        if self.telnet is not None:
            self.telnet.close()

    async def stop(self) -> None:
        self.stop_accepting()
        if self.telnet is not None:
            await self.telnet.wait_closed()
        await self.gateway.stop()

    async def health(self) -> tuple[bool, dict[str, Any]]:
        g = self.gateway
        return g.world_up, {"gateway": g.id, "world_up": g.world_up,
                            "connections": len(g.sessions)}


class _Process:
    """What every kind of process does: the loop-lag monitor, ``/health`` and ``/metrics``,
    signals, and a clean stop."""

    bus: Bus

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.stopped = asyncio.Event()
        self.web: WebListener | None = None
        self.lag = LagMonitor(self.metrics)
        self._stopping = False
        self._stop_watch: asyncio.Task[None] | None = None

    @property
    def web_port(self) -> int:
        assert self.web is not None
        return self.web.port

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self, message: str | None = None) -> None:
        """Stop cleanly: the process's own parts (``message``: what players are told), then
        the web listener, the lag monitor and the bus. A second call waits for the first."""
        if self._stopping:
            await self.stopped.wait()
            return
        self._stopping = True
        await self._unwatch()
        try:
            await self._stop_parts(message)
            if self.web is not None:
                await self.web.close()
            await self.lag.stop()
            await self.bus.close()
        finally:
            self.stopped.set()

    async def _stop_parts(self, message: str | None) -> None:
        raise NotImplementedError

    async def health(self) -> tuple[bool, dict[str, Any]]:
        raise NotImplementedError

    async def _start_web(self, gateway: Gateway | None) -> None:
        s = self.settings
        self.web = await start_web(s, self.metrics, self._health, s.host, s.web_port,
                                   gateway=gateway)

    async def _health(self) -> tuple[bool, dict[str, Any]]:
        ok, body = await self.health()
        loop_lag = self.lag.last_lag
        ok = ok and loop_lag < 1.0
        return ok, {"status": "ok" if ok else "degraded", **body,
                    "loop_lag_seconds": round(loop_lag, 4), "event_loop": loop_name()}

    def _watch(self, game: Game) -> None:
        """Stop when the game asks (the staff's ``shutdown``), as a signal would; restart the
        world when it asks for that (``reload``)."""
        async def watch() -> None:
            await game.stop_requested.wait()
            if game.restart_requested:
                await self.restart_world()
            else:
                await self.stop()
        self._stop_watch = asyncio.get_running_loop().create_task(watch(), name="stop-watch")

    async def restart_world(self) -> None:
        raise NotImplementedError

    async def _unwatch(self) -> None:
        watch, self._stop_watch = self._stop_watch, None
        if watch is not None and watch is not asyncio.current_task():
            await cancel(watch)

    async def run(self) -> None:
        """Serve until SIGINT or SIGTERM (or the staff's ``shutdown``), then stop cleanly."""
        try:
            await self.start()
        except BaseException:
            await self._close_partial_start()
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(self.banner(), flush=True)
        waits = {loop.create_task(stop.wait()), loop.create_task(self.stopped.wait())}
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            await cancel(task)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await self.stop()

    def banner(self) -> str:
        return ""

    async def _close_partial_start(self) -> None:
        await self.stop()


class _GatewayProcess(_Process):
    """A process with a gateway: ``mythos serve`` and ``mythos gateway``."""

    gateway_node: GatewayNode

    @property
    def gateway(self) -> Gateway:
        return self.gateway_node.gateway

    @property
    def telnet_port(self) -> int:
        assert self.gateway_node.telnet is not None
        return self.gateway_node.telnet.port


class App(_GatewayProcess):
    """One process: world and gateway on an in-process bus (``mythos serve``).
    ``await start()``, then ``await stop()`` (or ``run()`` for both)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bus = InProcessBus()
        subjects = Subjects(settings.bus_prefix)
        self.world = WorldNode(settings, self.metrics, self.bus, subjects)
        self.gateway_node = GatewayNode(settings, self.metrics, self.bus, subjects)

    # The parts tests and the web pages reach for.
    @property
    def game(self) -> Game:
        return self.world.game

    @property
    def store(self) -> Store:
        return self.world.store

    @property
    def writebehind(self) -> WriteBehind:
        return self.world.writebehind

    @property
    def pulse(self) -> Pulse:
        return self.world.pulse

    async def start(self) -> None:
        await self.bus.start()
        await self.world.start()
        self.lag.start()
        await self.gateway_node.start()
        await self._start_web(self.gateway)
        self._watch(self.game)
        s = self.settings
        log.info("server_started", telnet=f"{s.host}:{self.telnet_port}",
                 web=f"http://{s.host}:{self.web_port}/", database=self.store.url,
                 rooms=len(self.game.world.rooms), event_loop=loop_name())

    async def _stop_parts(self, message: str | None) -> None:
        """Stop listening, tell and save everyone, final flush, close the database."""
        log.info("server_stopping")
        self.gateway_node.stop_accepting()
        await self.world.stop((message or SHUTDOWN_MESSAGE) if self.world.started else "")
        await self.bus.flush()
        await self.gateway_node.stop()
        log.info("server_stopped")

    async def restart_world(self) -> None:
        """The staff's ``reload``: a new world (the world files read again) while every
        connection stays open; players carry on where they were."""
        log.info("world_restarting")
        self._stop_watch = None  # this very task
        old = self.world
        await old.stop(RESTART_MESSAGE, restarting=True)
        self.world = WorldNode(self.settings, self.metrics, self.bus, old.subjects)
        await self.world.start()
        self._watch(self.game)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        return await self.world.health()

    def banner(self) -> str:
        s = self.settings
        return (f"Mythos is listening.\n  telnet {s.host} {self.telnet_port}   (Mudlet, "
                f"TinTin++, telnet)\n  http://{s.host}:{self.web_port}/   (play in the "
                f"browser)\n  http://{s.host}:{self.web_port}/health  and  /metrics\n"
                f"Press Ctrl-C to stop.")


def nats_bus(settings: Settings, metrics: Metrics, name: str) -> NatsBus:
    return NatsBus(settings.nats_url, token=settings.bus_token, name=name,
                   on_reject=lambda reason: metrics.bus_dropped.labels(reason).inc())


class WorldApp(_Process):
    """The world alone, serving gateways over NATS (``mythos world``): ``/health`` and
    ``/metrics`` on its web port. SIGTERM and ``reload`` restart it (gateways keep the
    players); the staff's ``shutdown`` closes the game for everyone."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bus = nats_bus(settings, self.metrics, "mythos-world")
        self.world = WorldNode(settings, self.metrics, self.bus, Subjects(settings.bus_prefix))
        #: Set when the process should start again in place (``reload``).
        self.reexec = False

    @property
    def game(self) -> Game:
        return self.world.game

    async def start(self) -> None:
        await self.bus.start()
        await self.world.start()
        self.lag.start()
        await self._start_web(None)
        self._watch(self.game)
        log.info("world_process_started", web=f"http://{self.settings.host}:{self.web_port}/",
                 nats=masked(self.bus.url), prefix=self.settings.bus_prefix,
                 event_loop=loop_name())

    async def restart_world(self) -> None:
        self.reexec = True
        await self.stop()

    async def _stop_parts(self, message: str | None) -> None:
        game = getattr(self.world, "game", None)
        shutdown = game is not None and game.stop_requested.is_set() and not self.reexec
        if self.world.started:
            await self.world.stop(message or (SHUTDOWN_MESSAGE if shutdown else RESTART_MESSAGE),
                                  restarting=not shutdown)
        else:
            await self.world.stop("")

    async def health(self) -> tuple[bool, dict[str, Any]]:
        if not self.world.started:
            return False, {}
        ok, body = await self.world.health()
        return ok and self.bus.connected, {**body, "bus": self.bus.connected}

    def banner(self) -> str:
        s = self.settings
        return (f"Mythos world is up on {masked(s.nats_url)} (prefix {s.bus_prefix}).\n"
                f"  http://{s.host}:{self.web_port}/health  and  /metrics\n"
                f"Gateways: mythos gateway. Ctrl-C or SIGTERM restarts it without dropping "
                f"players (start it again).")


class GatewayApp(_GatewayProcess):
    """Sockets alone, the world across NATS (``mythos gateway``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.bus = nats_bus(settings, self.metrics, f"mythos-{settings.gateway_name}")
        self.gateway_node = GatewayNode(settings, self.metrics, self.bus,
                                        Subjects(settings.bus_prefix), settings.gateway_name)

    async def start(self) -> None:
        await self.bus.start()
        self.lag.start()
        await self.gateway_node.start()
        await self._start_web(self.gateway)
        log.info("gateway_process_started", gateway=self.gateway.id,
                 telnet=f"{self.settings.host}:{self.telnet_port}",
                 web=f"http://{self.settings.host}:{self.web_port}/", nats=masked(self.bus.url),
                 event_loop=loop_name())

    async def _stop_parts(self, message: str | None) -> None:
        self.gateway_node.stop_accepting()
        self.gateway.close_all(message or GATEWAY_CLOSING)
        await self.gateway_node.stop()

    async def health(self) -> tuple[bool, dict[str, Any]]:
        ok, body = await self.gateway_node.health()
        return ok and self.bus.connected, {**body, "bus": self.bus.connected}

    def banner(self) -> str:
        s = self.settings
        return (f"Mythos gateway {self.gateway.id} is listening, the world on "
                f"{masked(s.nats_url)}.\n"
                f"  telnet {s.host} {self.telnet_port}\n  http://{s.host}:{self.web_port}/\n"
                f"Press Ctrl-C to stop.")
