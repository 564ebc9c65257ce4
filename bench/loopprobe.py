"""Turn by turn, what the Mythos server's event loop does (``--loop-probe``): an experiment's
instrument, never part of the server.

``python -m bench.loopprobe ARGS`` runs ``mythos ARGS`` on asyncio's own loop with two of its
methods wrapped: ``BaseEventLoop._run_once`` (one turn of the loop) and ``Handle._run`` (one
callback). For each turn it notes the wall time of its callbacks, the main thread's CPU time
(``time.thread_time``: a turn whose callbacks took longer than the thread ran was kept off the
CPU, by the machine or by another thread holding the GIL) and how many callbacks ran; per
second of ``time.monotonic()`` (one clock for every process of the machine, so the harness can
pick the seconds it held) the sums, and every turn that ran more than ``SLOW_MS`` of callbacks
with its longest one named. A thread writes it all as JSON to ``$BENCH_LOOP_PROBE`` every
``WRITE_EVERY`` seconds; ``summary`` is what a step of the results keeps.

It says whether a lagging loop is queueing (a turn of many ordinary callbacks: more to do than
the core can) or held (one long callback: a piece of code to fix), and whether the thread was
on the CPU meanwhile. The wrapping costs CPU of its own (about a microsecond a callback), and
asyncio's loop is slower than uvloop: compare such runs with each other, not with uvloop's.
"""

from __future__ import annotations

import asyncio.base_events
import asyncio.events
import json
import os
import statistics
import sys
import threading
import time
from collections import Counter, deque
from typing import Any

#: A turn running more callback time than this is kept, named (ms).
SLOW_MS = 8.0
#: Seconds between two writes of the file.
WRITE_EVERY = 1.0
#: What the file keeps: the last seconds, the last slow turns.
KEEP_SECONDS = 600
KEEP_SLOW = 2000

#: A callback running longer than this is looked at while it runs (ms): every ``LOOK_EVERY``
#: seconds a thread notes where the main thread is, and where the others are.
STALL_MS = 50.0
LOOK_EVERY = 0.01
KEEP_LOOKS = 500

#: Per second: [turns, callbacks, callback ms, main thread CPU ms].
_seconds: dict[int, list[float]] = {}
_slow: deque[list[Any]] = deque(maxlen=KEEP_SLOW)
_turn = {"callbacks": 0, "ms": 0.0, "longest": 0.0, "what": None}
#: When the callback running now began (``time.perf_counter()``), None between callbacks.
_running: list[float | None] = [None]
#: [at, ms into the callback, main thread's innermost frames, the other threads' innermost].
_looks: deque[list[Any]] = deque(maxlen=KEEP_LOOKS)


def _name(callback: Any) -> str:
    """A callback as a person reads it: a task by its coroutine, a method by its name."""
    owner = getattr(callback, "__self__", None)
    get_coro = getattr(owner, "get_coro", None)
    if get_coro is not None:  # a task's step or wake-up
        coro = get_coro()
        return "task " + getattr(coro, "__qualname__", type(coro).__name__)
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def install(path: str) -> None:
    run_once = asyncio.base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]
    handle_run = asyncio.events.Handle._run
    clock, cpu = time.perf_counter, time.thread_time
    turn, running = _turn, _running

    def timed_callback(self: asyncio.events.Handle) -> None:
        t0 = running[0] = clock()
        try:
            handle_run(self)
        finally:
            running[0] = None
            ms = (clock() - t0) * 1000
            turn["callbacks"] += 1
            turn["ms"] += ms
            if ms > turn["longest"]:
                turn["longest"] = ms
                turn["what"] = self._callback  # named only if the turn was slow

    def timed_turn(self: asyncio.base_events.BaseEventLoop) -> None:
        turn["callbacks"], turn["ms"], turn["longest"], turn["what"] = 0, 0.0, 0.0, None
        c0 = cpu()
        run_once(self)
        cpu_ms = (cpu() - c0) * 1000
        now = time.monotonic()
        second = _seconds.get(int(now))
        if second is None:
            second = _seconds[int(now)] = [0, 0, 0.0, 0.0]
        second[0] += 1
        second[1] += turn["callbacks"]
        second[2] += turn["ms"]
        second[3] += cpu_ms
        if turn["ms"] > SLOW_MS:
            _slow.append([round(now, 3), round(turn["ms"], 2), round(cpu_ms, 2),
                          turn["callbacks"], round(turn["longest"], 2), _name(turn["what"])])

    asyncio.base_events.BaseEventLoop._run_once = timed_turn  # type: ignore[attr-defined]
    asyncio.events.Handle._run = timed_callback  # type: ignore[method-assign]
    threading.Thread(target=_writer, args=(path,), name="loop-probe", daemon=True).start()
    threading.Thread(target=_looker, args=(threading.get_ident(),), name="loop-probe-look",
                     daemon=True).start()


def _where(frame: Any, depth: int = 6) -> str:
    """The innermost ``depth`` frames of a stack, innermost last: 'file:line fn < ...'."""
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{os.path.basename(code.co_filename)}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return " < ".join(out)


def _looker(main: int) -> None:
    """Where the main thread is while one callback runs long. If it waits for the GIL or in a
    system call, its Python stack shows the call it is in; the others' show who ran."""
    clock = time.perf_counter
    while True:
        time.sleep(LOOK_EVERY)
        t0 = _running[0]
        if t0 is None or (clock() - t0) * 1000 < STALL_MS:
            continue
        frames = sys._current_frames()
        me = threading.get_ident()
        _looks.append([round(time.monotonic(), 3), round((clock() - t0) * 1000, 1),
                       _where(frames.get(main)),
                       [_where(f, 3) for ident, f in frames.items() if ident not in (main, me)]])


def _writer(path: str) -> None:
    while True:
        time.sleep(WRITE_EVERY)
        for old in [s for s in list(_seconds) if s < time.monotonic() - KEEP_SECONDS]:
            _seconds.pop(old, None)
        data = {"written": time.monotonic(),
                "seconds": [[s, *v] for s, v in sorted(list(_seconds.items()))],
                "slow": list(_slow), "looks": list(_looks)}
        text = json.dumps(data)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)


def summary(data: dict[str, Any], t0: float, t1: float) -> dict[str, Any]:
    """What the probe saw between ``t0`` and ``t1`` (``time.monotonic()``), for a step: the
    slow turns in that window, the sums of the whole seconds that overlap it."""
    seconds = [s for s in data["seconds"] if t0 - 1 < s[0] < t1]
    slow = [s for s in data["slow"] if t0 <= s[0] < t1]
    held = [s for s in slow if s[4] > s[1] / 2]  # one callback took most of the turn
    queued = [s for s in slow if s[4] <= s[1] / 2]
    off_cpu = [s for s in slow if s[1] - s[2] > SLOW_MS]  # callbacks' time the thread did not run
    busiest = max(seconds, key=lambda s: s[3], default=None)
    looks = [look for look in data.get("looks", []) if t0 <= look[0] < t1]
    return {
        "turns": sum(s[1] for s in seconds),
        "callbacks": sum(s[2] for s in seconds),
        "busy_percent": round(sum(s[3] for s in seconds) / 10 / max(1, len(seconds)), 1),
        "slow_ms": SLOW_MS,
        "slow_turns": len(slow),
        "slow_queued": len(queued),
        "slow_held": len(held),
        "slow_off_cpu": len(off_cpu),
        "queued_median_callbacks": statistics.median(s[3] for s in queued) if queued else None,
        "held_by": dict(Counter(s[5] for s in held).most_common(5)),
        "longest_turn_ms": max((s[1] for s in slow), default=None),
        "busiest_second": None if busiest is None else {
            "at": round(busiest[0] - t0), "turns": busiest[1], "callbacks": busiest[2],
            "callback_ms": round(busiest[3]), "cpu_ms": round(busiest[4])},
        "stall_ms": STALL_MS,
        "stalled_at": dict(Counter(look[2] for look in looks).most_common(5)),
        "others_meanwhile": dict(Counter(w for look in looks for w in look[3]).most_common(8)),
    }


def main() -> None:
    path = os.environ.get("BENCH_LOOP_PROBE")
    if path:
        install(path)
    from mythos.cli import main as mythos

    sys.argv[0] = "mythos"
    mythos()


if __name__ == "__main__":
    main()
