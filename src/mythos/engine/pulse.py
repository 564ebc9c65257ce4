"""The pulse: a fixed-rate heartbeat that runs subsystems and timers on the event loop.

The n-th pulse is due at ``start + n * period``; work done in a pulse never pushes the schedule
back. When the loop falls so far behind that pulses are overdue, the missed ones are skipped and
counted rather than run in a burst. Each subsystem runs every ``every`` pulses in isolation: an
exception is logged and counted, and the pulse goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from mythos.metrics import Metrics

log = structlog.get_logger(__name__)


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has stopped."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


@dataclass(order=True)
class Timer:
    due: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class TimerHeap:
    """One heap for every per-entity timer (respawns, wanders, decay, cooldowns)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()
        self.clock = clock

    def __len__(self) -> int:
        return len(self._heap)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        timer = Timer(self.clock() + delay, next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def run_due(self, now: float | None = None) -> int:
        """Run every timer that is due; returns how many ran. Errors are logged, not raised."""
        now = self.clock() if now is None else now
        ran = 0
        while self._heap and self._heap[0].due <= now:
            timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            ran += 1
            try:
                timer.callback()
            except Exception:
                log.exception("timer_failed", callback=repr(timer.callback))
        return ran


@dataclass
class Subsystem:
    name: str
    every: int  # pulses
    run: Callable[[], object]


class Pulse:
    def __init__(self, metrics: Metrics, period: float = 0.1) -> None:
        self.period = period
        self.metrics = metrics
        self.timers = TimerHeap()
        self.subsystems: list[Subsystem] = []
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, name: str, run: Callable[[], object], *, seconds: float | None = None) -> None:
        """Run ``run`` every ``seconds`` (rounded to whole pulses; every pulse when None)."""
        every = 1 if seconds is None else max(1, round(seconds / self.period))
        self.subsystems.append(Subsystem(name, every, run))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pulse")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while True:
            n += 1
            due = start + n * self.period
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                behind = int(-delay // self.period)
                if behind:
                    # Overdue by whole pulses: skip them instead of running a burst.
                    n += behind
                    self.metrics.pulses_skipped.inc(behind)
                await asyncio.sleep(0)
            await self.tick()

    async def tick(self) -> None:
        """One pulse: due timers, then each subsystem whose turn it is, each in a turn of the
        loop of its own: commands are read and timers woken in between, so a pulse holds the
        loop no longer than its largest part, not the sum of its parts (with thousands of
        players, the parts due in the same pulse came to 8-9 ms at p99). The pulse's duration
        is the time its parts took, not the time they waited for their turns."""
        t0 = time.perf_counter()
        self.count += 1
        self.timers.run_due()
        spent = time.perf_counter() - t0
        for sub in self.subsystems:
            if self.count % sub.every:
                continue
            await asyncio.sleep(0)
            s0 = time.perf_counter()
            try:
                sub.run()
            except Exception:
                self.metrics.subsystem_errors.labels(sub.name).inc()
                log.exception("subsystem_failed", subsystem=sub.name)
            took = time.perf_counter() - s0
            self.metrics.subsystem_duration.labels(sub.name).observe(took)
            spent += took
        self.metrics.pulse_duration.observe(spent)


class LagMonitor:
    """Measures how late the loop wakes a sleeper (the event-loop lag), and how long the garbage
    collector's passes over the older generations take (one cause of it)."""

    def __init__(self, metrics: Metrics, interval: float = 0.25) -> None:
        self.metrics = metrics
        self.interval = interval
        self.last_lag = 0.0
        self._task: asyncio.Task[None] | None = None
        self._gc_pause = {g: metrics.gc_pause.labels(str(g)) for g in (0, 1, 2)}
        self._gc_started = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-monitor")
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        await cancel(self._task)
        self._task = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        # Collections never overlap (each holds the GIL throughout), so one start time does.
        # Runs for every collection: with the young threshold of ``tune_gc`` tens a second at
        # most, each walking thousands of objects; this adds a clock read and an observation.
        generation = info["generation"]
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self._gc_pause[generation].observe(time.perf_counter() - self._gc_started)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(self.interval)
            self.last_lag = max(0.0, loop.time() - t0 - self.interval)
            self.metrics.loop_lag.observe(self.last_lag)
