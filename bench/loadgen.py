"""One load-generator process: many bots on one asyncio loop, steered over stdin/stdout.

The harness starts a few of these (``python -m bench.loadgen HOST PORT PROFILE TRANSPORT
WEB_PORT``; TRANSPORT telnet, websocket or mixed: every other bot on each), each
separate from the server and from the harness. Each request is one JSON line on stdin; each
reply one JSON line on stdout:

- ``{"op": "grow", "group": "main", "names": [...], "mix": "spread", "pace": 2.0,
  "available": [...], "concurrency": 20}``: log in these bots (the group's mix and pace apply
  to them); reply ``{"ok": n, "failed": n}`` when all are in or have failed.
- ``{"op": "play", "group": "main", "on": true}``: the group's bots start (or pause) playing.
- ``{"op": "reset"}``: statistics start again from now.
- ``{"op": "report"}``: the statistics since the last reset (``Stats.as_dict``), and
  ``connected`` per group.
- ``{"op": "quit"}``: every bot types ``quit`` and hangs up; the process exits.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from collections import Counter
from typing import Any

from bench.bots import PROFILES, Bot, LoginFailed, Stats, login_failure, usable
from bench.transport import WebSocketTransport

LAG_INTERVAL = 0.05


class Group:
    def __init__(self, mix: str, pace: float, available: set[str] | None) -> None:
        self.actions = usable(mix, available)
        self.pace = pace
        self.running = asyncio.Event()
        self.bots: list[Bot] = []


class LoadGen:
    def __init__(self, host: str, port: int, profile: str, transport: str = "telnet",
                 web_port: int | None = None) -> None:
        self.host = host
        self.port = port
        self.web_port = web_port
        self.profile = PROFILES[profile]
        self.transports = ["telnet", "websocket"] if transport == "mixed" else [transport]
        self._made = 0
        if "websocket" in self.transports:
            import aiohttp  # noqa: F401  (now, not on the loop in the middle of a measurement)
        self.groups: dict[str, Group] = {}
        self.stats = Stats()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def grow(self, req: dict[str, Any]) -> dict[str, Any]:
        name = req.get("group", "main")
        available = set(req["available"]) if req.get("available") is not None else None
        group = self.groups.get(name)
        if group is None:
            group = self.groups[name] = Group(req.get("mix", "spread"), float(req.get("pace", 2)),
                                              available)
        if req.get("play"):
            group.running.set()  # each bot plays as soon as it is in
        sem = asyncio.Semaphore(int(req.get("concurrency", 20)))
        ok = failed = 0
        reasons: Counter[str] = Counter()

        async def one(bot_name: str) -> None:
            nonlocal ok, failed
            transport = self.transports[self._made % len(self.transports)]
            self._made += 1
            bot = Bot(bot_name, self.profile, group=name, transport=transport)
            async with sem:
                try:
                    seconds = await bot.login(self.host, self.port, web_port=self.web_port)
                except (LoginFailed, TimeoutError, ConnectionError, OSError) as exc:
                    failed += 1
                    kind = "login_timeout" if isinstance(exc, TimeoutError) else "login_failed"
                    self.stats.error(name, kind)
                    reasons[login_failure(bot, exc)] += 1
                    bot.quit()
                    return
            ok += 1
            self.stats.logins.setdefault(name, []).append(int(seconds * 1e6))
            group.bots.append(bot)
            bot.task = self._spawn(bot.play(group.actions, group.pace, group.running,
                                            lambda: self.stats,
                                            scatter=bool(req.get("scatter"))))

        await asyncio.gather(*(one(n) for n in req["names"]))
        return {"ok": ok, "failed": failed, "reasons": dict(reasons)}

    def report(self) -> dict[str, Any]:
        out = self.stats.as_dict()
        out["connected"] = {n: sum(1 for b in g.bots if not b.closed)
                            for n, g in self.groups.items()}
        lost = {n: sum(1 for b in g.bots if b.closed) for n, g in self.groups.items()}
        out["disconnected"] = {n: v for n, v in lost.items() if v}
        return out

    async def quit(self) -> None:
        for group in self.groups.values():
            group.running.clear()
            for bot in group.bots:
                bot.quit()
        await asyncio.sleep(0.2)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        session = WebSocketTransport._session
        if session is not None:
            await session.close()

    async def lag_monitor(self) -> None:
        """This process's own event-loop lag: when it is high, the bots are the bottleneck."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(LAG_INTERVAL)
            self.stats.loop_lag.append(int(max(0.0, loop.time() - t0 - LAG_INTERVAL) * 1e6))

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 24)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        lag = loop.create_task(self.lag_monitor())
        while line := await reader.readline():
            req = json.loads(line)
            op = req["op"]
            reply: dict[str, Any] = {"op": op}
            if op == "grow":
                reply.update(await self.grow(req))
            elif op == "play":
                group = self.groups.get(req.get("group", "main"))
                if group is not None:
                    (group.running.set if req.get("on", True) else group.running.clear)()
            elif op == "reset":
                self.stats = Stats()
            elif op == "report":
                reply.update(self.report())
            elif op == "quit":
                await self.quit()
                _reply(reply)
                break
            _reply(reply)
        lag.cancel()


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def raise_file_limit() -> None:
    """Thousands of sockets need thousands of file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str]) -> None:
    host, port, profile = argv[0], int(argv[1]), argv[2]
    transport = argv[3] if len(argv) > 3 else "telnet"
    web_port = int(argv[4]) if len(argv) > 4 and argv[4] != "-" else None
    raise_file_limit()
    # The bots share the server's cores: the cheaper their loop, the more is left for it.
    try:
        import uvloop
    except ImportError:
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(LoadGen(host, port, profile, transport, web_port).serve())


if __name__ == "__main__":
    main(sys.argv[1:])
