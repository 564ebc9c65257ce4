"""The composition root: build the world, store, engine and listeners; start and stop them."""

from __future__ import annotations

import asyncio
import gc
import signal

import structlog

from mythos.commands.table import load_table
from mythos.config import Settings
from mythos.engine.game import Game
from mythos.engine.pulse import LagMonitor, Pulse, cancel
from mythos.metrics import Metrics
from mythos.net.telnet import TelnetListener, start_telnet
from mythos.net.web import WebListener, start_web
from mythos.store import Store, WriteBehind
from mythos.world import load_world

log = structlog.get_logger(__name__)

SHUTDOWN_MESSAGE = ("{Y}The fog rolls in and Arkham fades from view: the server is shutting "
                    "down. Your progress is saved.{x}")


class App:
    """One running server. ``await start()``, then ``await stop()`` (or ``run()`` for both)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.stopped = asyncio.Event()
        self.telnet: TelnetListener | None = None
        self.web: WebListener | None = None
        self._stopping = False
        self._stop_watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        s = self.settings
        world = await asyncio.to_thread(load_world, s.world)
        self.store = await Store.open(s.db_url, busy_timeout=s.db_busy_timeout)
        self.pulse = Pulse(self.metrics, s.pulse_seconds)
        self.lag = LagMonitor(self.metrics)
        self.writebehind = WriteBehind(self.store, interval=s.flush_interval,
                                       batch_size=s.flush_batch, metrics=self.metrics)
        self.game = Game(s, world, self.store, load_table(), self.metrics, self.writebehind,
                         self.pulse)
        await self.game.economy.start()  # room items: seeded once from the files, then loaded
        await self.game.npcs.start(spawn=s.npcs)  # every NPC, and the corpses' decay timers
        # The world just loaded lives as long as the server: keep it out of the collector's
        # full passes, which would otherwise walk all of it and stall the loop.
        gc.freeze()
        self.pulse.start()
        self.lag.start()
        self.writebehind.start()
        self.telnet = await start_telnet(self.game, s.host, s.telnet_port)
        self.web = await start_web(self, s.host, s.web_port)
        self._stop_watch = asyncio.get_running_loop().create_task(
            self._stop_when_asked(), name="stop-watch")
        log.info("server_started", telnet=f"{s.host}:{self.telnet.port}",
                 web=f"http://{s.host}:{self.web.port}/", database=self.store.url,
                 rooms=len(world.rooms))

    @property
    def telnet_port(self) -> int:
        assert self.telnet is not None
        return self.telnet.port

    @property
    def web_port(self) -> int:
        assert self.web is not None
        return self.web.port

    async def _stop_when_asked(self) -> None:
        """Stop when the game asks (the staff's ``shutdown``), as a signal would."""
        await self.game.stop_requested.wait()
        await self.stop()

    async def stop(self, message: str = SHUTDOWN_MESSAGE) -> None:
        """Close listeners, tell and save everyone, final flush, close the database.
        A second call waits for the first to finish."""
        if self._stopping:
            await self.stopped.wait()
            return
        self._stopping = True
        watch, self._stop_watch = self._stop_watch, None
        if watch is not None and watch is not asyncio.current_task():
            await cancel(watch)
        log.info("server_stopping")
        if self.telnet is not None:
            self.telnet.close()
        await self.game.close_all(message)
        if self.telnet is not None:
            await self.telnet.wait_closed()
        if self.web is not None:
            await self.web.close()
        await self.pulse.stop()
        await self.game.npcs.stop()
        await self.lag.stop()
        await self.writebehind.stop(timeout=self.settings.shutdown_grace)
        await self.store.close()
        log.info("server_stopped", unsaved=self.writebehind.dirty_count)
        self.stopped.set()

    async def run(self) -> None:
        """Serve until SIGINT or SIGTERM (or the staff's ``shutdown``), then shut down
        cleanly."""
        try:
            await self.start()
        except BaseException:
            await self._close_partial_start()
            raise
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        s = self.settings
        print(f"Mythos is listening.\n  telnet {s.host} {self.telnet_port}   (Mudlet, TinTin++, "
              f"telnet)\n  http://{s.host}:{self.web_port}/   (play in the browser)\n"
              f"  http://{s.host}:{self.web_port}/health  and  /metrics\n"
              f"Press Ctrl-C to stop.", flush=True)
        waits = {loop.create_task(stop.wait()), loop.create_task(self.stopped.wait())}
        _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            await cancel(task)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await self.stop()

    async def _close_partial_start(self) -> None:
        """After a failed ``start()`` (a port in use, say): close what it had opened, the
        database above all, so the process exits as cleanly as after ``stop()``."""
        if self.telnet is not None:
            self.telnet.close()
            await self.telnet.wait_closed()
        for name in ("pulse", "lag", "writebehind"):
            part = getattr(self, name, None)
            if part is not None:
                await part.stop()
        store: Store | None = getattr(self, "store", None)
        if store is not None:
            await store.close()
