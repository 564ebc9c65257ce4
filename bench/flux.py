"""Lucidity flux benchmark: the cost of one passive-flux tick with many characters online.

Starts a real server in-process (temporary SQLite, the shipped world, no NPCs), puts
``--characters`` characters in the world (spread over every room, LCD spread over every tier,
the way ``Game.enter_world`` places them, without sockets), then runs the ``lucidity``
subsystem's tick ``--ticks`` times on the loop and reports its duration (mean, p50, p99, max,
per character). The numbers go to stdout and to ``bench/results/flux_<utc time>.json``; nothing
here is pass/fail. Run it niced on a shared machine:

    nice -n 19 .venv/bin/python -m bench.flux --characters 10000 --ticks 50
    nice -n 19 .venv/bin/python -m bench.flux --characters 1000 --ticks 10   # small
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mythos.app import App
from mythos.config import Settings, default_world_dir
from mythos.rules import movement
from mythos.store.migrate import upgrade
from mythos.world.model import Character

RESULTS = Path(__file__).resolve().parent / "results"


async def run(characters: int, ticks: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'flux.db'}"
        await asyncio.to_thread(upgrade, url)
        settings = await asyncio.to_thread(
            Settings, host="127.0.0.1", telnet_port=0, web_port=0, database_url=url,
            world=default_world_dir(), data_dir=Path(tmp), npcs=False,
            lucidity_seconds=3600.0,  # the pulse leaves the flux to us
            flush_interval=3600.0)  # and the write-behind too: only the tick is measured
        app = App(settings)
        await app.start()
        game = app.game
        rooms = [r for r in game.world.rooms.values() if r.zone.id != "limbo"]
        for i in range(characters):
            room = rng.choice(rooms)
            char = Character(id=-(i + 1), account_id=0, name=f"Bench{i}", profession="tramp",
                             room_id=room.id, hp=50, max_hp=50,
                             lucidity=rng.randint(-5, 100))
            game.online[char.name.lower()] = char
            movement.place(game.world, char, room)
        luc = game.lucidity
        durations: list[float] = []
        changed = 0
        for _ in range(ticks):
            before = sum(c.lucidity for c in game.online.values())
            t0 = time.perf_counter()
            luc.flux_tick()
            durations.append(time.perf_counter() - t0)
            changed += abs(sum(c.lucidity for c in game.online.values()) - before)
            await asyncio.sleep(0)  # let the loop breathe between ticks
        dirty = app.writebehind.dirty_count
        for key in [k for k in game.online if k.startswith("bench")]:
            char = game.online.pop(key)
            movement.remove(game.world, char)
            app.writebehind.forget(char.id)
        await app.stop()
    ms = sorted(d * 1000 for d in durations)
    return {
        "benchmark": "lucidity_flux",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "characters": characters,
        "rooms": len(rooms),
        "ticks": ticks,
        "tick_ms": {"mean": round(statistics.fmean(ms), 3), "p50": round(ms[len(ms) // 2], 3),
                    "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
                    "max": round(ms[-1], 3)},
        "us_per_character": round(statistics.fmean(ms) * 1000 / max(1, characters), 3),
        "tick_period_s": 6.0,
        "share_of_a_pulse": round(statistics.fmean(ms) / 100, 4),  # of the 100 ms pulse
        "lcd_points_moved": changed,
        "characters_marked_dirty": dirty,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.flux", description=__doc__.split("\n")[0])
    p.add_argument("--characters", type=int, default=10_000)
    p.add_argument("--ticks", type=int, default=50)
    p.add_argument("--seed", type=int, default=1926)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    result = asyncio.run(run(a.characters, a.ticks, a.seed))
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"flux_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
