"""Write-behind flush benchmark: a full flush of N dirty characters, and what it does to the loop.

One goal of issue #8: "a full flush of 5,000 dirty characters without pushing loop lag past
10 ms". The ramp's bots keep characters dirty, but they also keep the loop busy, so its lag
cannot say what the flush alone costs. Here the flush runs alone: a real database (a temporary
SQLite file, or ``--postgres URL``: a fresh database made on that server and dropped after),
migrated, ``--characters`` characters created in it (not measured), all marked dirty with new
progress (room, HP, lucidity, XP, posture, and an explored room each, as a walk would), then the
game's own ``WriteBehind`` (``store/writebehind.py``, with the server's default batch,
``flush_batch``, of rows per transaction) flushes them, ``--rounds`` times. Meanwhile a probe
task wakes every millisecond and records how late it is: the longest the loop was held during
each flush; and the garbage collector's passes over its older generations are timed (they hold
the loop as well, and with thousands of characters in memory they are long: read them apart
from the flush's own work).

With ``--busy SECONDS`` a task keeps the loop busy meanwhile, in bursts of pure Python work
that long with a yield between them, never idle, as a saturated server's loop is: what the
flush then costs depends on how often its writer thread must win the GIL back from the loop
(``store/bulk.py``).

Reported per round: the flush's wall time (awaited IO included), rows per second, the probe's
worst and p99 lateness during the flush. Stdout and ``bench/results/flush_<utc time>.json``;
nothing here is pass/fail. On a shared machine run it niced:

    .venv/bin/python -m bench.flush --characters 5000 --rounds 5
    .venv/bin/python -m bench.flush --characters 5000 --rounds 3 --busy 0.001
    .venv/bin/python -m bench.flush --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from mythos.app import tune_threads
from mythos.config import Settings, default_world_dir
from mythos.metrics import Metrics
from mythos.store import Store
from mythos.store.migrate import upgrade
from mythos.store.writebehind import WriteBehind
from mythos.world.loader import load_world
from mythos.world.model import Character, Posture

RESULTS = Path(__file__).resolve().parent / "results"
PROBE_EVERY = 0.001


class Probe:
    """Wakes every ``PROBE_EVERY`` seconds; each wake-up's lateness is the loop's lag then.
    Also times the garbage collector's passes over its older generations meanwhile: they hold
    the loop too, but are not the flush's own work."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self.gc_pauses: list[float] = []
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 0:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(PROBE_EVERY)
            self.late.append(max(0.0, loop.time() - t0 - PROBE_EVERY))

    def __enter__(self) -> Probe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)
        assert self._task is not None
        self._task.cancel()


@contextlib.asynccontextmanager
async def database(postgres: str | None):
    """An empty database URL: a temporary SQLite file, or a fresh PostgreSQL database."""
    if postgres is None:  # made and removed off the loop (file system calls)
        tmp = await asyncio.to_thread(tempfile.mkdtemp, prefix="mythos-flush-")
        try:
            yield f"sqlite:///{Path(tmp) / 'flush.db'}"
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        return
    import asyncpg

    base = make_url(postgres)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"mythos_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _ms(values: list[float], q: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(len(s) * q))] * 1000, 2) if s else 0.0


async def _busy(burst: float) -> None:
    """Keep the loop busy as a saturated server's is: pure Python work in bursts of
    ``burst`` seconds, yielding to the loop between them, never idle."""
    while True:
        end = time.perf_counter() + burst
        n = 0
        while time.perf_counter() < end:
            n += sum(range(50))
        await asyncio.sleep(0)


async def run(characters: int, rounds: int, postgres: str | None, seed: int,
              batch: int | None = None, busy: float = 0.0) -> dict:
    rng = random.Random(seed)
    tune_threads()  # the GIL's switch interval the server runs with (app.py)
    world = await asyncio.to_thread(lambda: load_world(default_world_dir()))
    gc.freeze()  # as the server does once its world is loaded (app.py); players come after
    rooms = [r.id for r in world.rooms.values() if r.zone.id != "limbo"]
    async with database(postgres) as url:
        await asyncio.to_thread(upgrade, url)
        store = await Store.open(url)
        try:
            t0 = time.perf_counter()
            chars: list[Character] = []
            for i in range(characters):  # not measured: the world's characters, saved once
                _, row = await store.create_account_with_character(
                    f"Flush{i}", "not-a-hash", "player", "tramp", rng.choice(rooms), 50, 50, {})
                chars.append(Character(id=row.id, account_id=row.account_id, name=row.name,
                                       profession=row.profession, room_id=row.room_id,
                                       hp=row.hp, max_hp=row.max_hp))
            created = time.perf_counter() - t0
            wb = WriteBehind(store, metrics=Metrics(),  # the server's batch, unless --batch
                             batch_size=batch or Settings.model_fields["flush_batch"].default)
            results = []
            for _ in range(rounds):
                for c in chars:  # everyone moved, got hurt, saw something: all dirty
                    c.room_id = rng.choice(rooms)
                    c.hp = rng.randint(1, c.max_hp)
                    c.lucidity = rng.randint(-5, 100)
                    c.xp += rng.randint(0, 10)
                    c.posture = rng.choice(list(Posture))
                    c.mind.explore(c.room_id)
                    wb.mark(c)
                await asyncio.sleep(0.05)  # the probe's baseline: an idle loop
                hog = asyncio.create_task(_busy(busy)) if busy else None
                with Probe() as probe:
                    await asyncio.sleep(0.02)
                    started = time.perf_counter()
                    written = await wb.flush()
                    took = time.perf_counter() - started
                if hog is not None:
                    hog.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await hog
                assert written == characters and wb.healthy, (written, wb.last_error)
                results.append({"flush_s": round(took, 4),
                                "rows_per_s": round(written / took),
                                "loop_held_max_ms": _ms(probe.late, 1.0),
                                "loop_held_p99_ms": _ms(probe.late, 0.99),
                                "gc_passes": len(probe.gc_pauses),
                                "gc_max_ms": _ms(probe.gc_pauses, 1.0),
                                "probe_wakeups": len(probe.late)})
                print(results[-1], flush=True)
        finally:
            await store.close()
            gc.unfreeze()  # (for a caller that goes on: the tests)
    return {
        "benchmark": "write_behind_flush",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": make_url(url).get_backend_name(),
        "characters": characters,
        "batch_size": wb.batch_size,
        "busy_burst_s": busy,  # 0: an idle loop; else the bursts it was kept busy in
        "setup_s": round(created, 1),
        "rounds": results,
        "flush_s_median": round(statistics.median(r["flush_s"] for r in results), 4),
        "loop_held_max_ms": max(r["loop_held_max_ms"] for r in results),
        "loop_held_p99_ms_median": statistics.median(r["loop_held_p99_ms"] for r in results),
        "gc_max_ms": max(r["gc_max_ms"] for r in results),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.flush", description=__doc__.split("\n")[0])
    p.add_argument("--characters", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--postgres", metavar="URL", help="flush into a fresh database on this "
                   "PostgreSQL server (default: a temporary SQLite file)")
    p.add_argument("--batch", type=int, help="rows per transaction (default: the game's "
                   "flush_batch default)")
    p.add_argument("--busy", type=float, default=0.0, metavar="SECONDS",
                   help="keep the loop busy meanwhile, in bursts of this long (0.001: as a "
                   "saturated server's loop); default: an idle loop")
    p.add_argument("--seed", type=int, default=1926)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    result = asyncio.run(run(a.characters, a.rounds, a.postgres, a.seed, a.batch, a.busy))
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"flush_{result['backend']}_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
