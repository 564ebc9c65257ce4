"""NPC and combat soak: many NPCs wandering and many fights going on; is the pulse in budget?

Starts a real server in-process (temporary SQLite, the shipped world), spawns ``--npcs`` extra
wandering NPCs across the world's rooms and starts ``--fights`` fights between pairs of them
(tough ones, so the fights last), then samples for ``--seconds``: pulse duration (mean, p99 from
the histogram), per-subsystem time, skipped pulses, loop lag, timers in the heap. The numbers
go to stdout and to ``bench/results/npc_soak_<utc time>.json``; nothing here is pass/fail.

    nice -n 19 .venv/bin/python -m bench.npc_soak --npcs 2000 --fights 200 --seconds 30
    nice -n 19 .venv/bin/python -m bench.npc_soak --npcs 200 --fights 20 --seconds 5  # small

``--time-scale`` speeds the NPC clocks (wandering every 10 s / scale, rounds every 3 s / scale).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from mythos.app import App
from mythos.config import Settings, default_world_dir
from mythos.store.migrate import upgrade

RESULTS = Path(__file__).resolve().parent / "results"


def _hist(metric) -> tuple[float, float, list[tuple[float, float]]]:
    """(sum, count, cumulative buckets) of a prometheus Histogram without labels."""
    total = count = 0.0
    buckets: list[tuple[float, float]] = []
    for m in metric.collect():
        for s in m.samples:
            if s.name.endswith("_sum"):
                total = s.value
            elif s.name.endswith("_count"):
                count = s.value
            elif s.name.endswith("_bucket"):
                buckets.append((float(s.labels["le"]), s.value))
    return total, count, buckets


def _quantile(buckets: list[tuple[float, float]], count: float, q: float) -> float:
    for le, n in buckets:
        if count and n >= q * count:
            return le
    return float("inf")


def _subsystems(metric) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in metric.collect():
        for s in m.samples:
            if s.name.endswith("_sum"):
                out[s.labels["subsystem"]] = s.value
    return out


async def soak(n_npcs: int, n_fights: int, seconds: float, scale: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="npc-soak-"))
    url = f"sqlite:///{tmp / 'soak.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(host="127.0.0.1", telnet_port=0, web_port=0, database_url=url,
                        data_dir=tmp, world=default_world_dir(), time_scale=scale,
                        log_level="WARNING")
    app = App(settings)
    t0 = time.perf_counter()
    await app.start()
    started = time.perf_counter() - t0
    game, npcs = app.game, app.game.npcs
    rng = random.Random(1)
    rooms = [r for r in game.world.rooms.values() if r.id != game.world.limbo_room]
    base = game.world.npc_protos["rat"]
    t1 = time.perf_counter()
    spawned = []
    for i in range(n_npcs):
        room = rng.choice(rooms)
        proto = dataclasses.replace(base, id=f"soak_{i % 50}", home=room.id, area=room.area,
                                    hp=10_000, max_population=10**9, emotes=())
        spawned.append(npcs.spawn(proto, room, announce=False))
        if i % 500 == 499:
            await asyncio.sleep(0)
    spawn_s = time.perf_counter() - t1
    # Fights: pairs in the same room (a fighter does not wander).
    for a, b in zip(spawned[:n_fights], spawned[n_fights:2 * n_fights], strict=False):
        npcs.move_to(b, game.world.rooms[a.room_id])
        npcs.engage(a, b)
    m = app.metrics
    s0, c0, _ = _hist(m.pulse_duration)
    sub0 = _subsystems(m.subsystem_duration)
    skipped0 = m.pulses_skipped._value.get()
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        await asyncio.sleep(0.25)
        lags.append(app.lag.last_lag)
    s1, c1, buckets = _hist(m.pulse_duration)
    sub1 = _subsystems(m.subsystem_duration)
    pulses = c1 - c0
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "npcs": len(npcs.mobs), "fights": len(npcs.fighting) // 2, "seconds": seconds,
        "time_scale": scale, "startup_s": round(started, 3), "spawn_s": round(spawn_s, 3),
        "pulses": int(pulses), "pulse_budget_s": settings.pulse_seconds,
        "pulse_mean_ms": round(1000 * (s1 - s0) / max(1, pulses), 3),
        "pulse_p99_le_ms": round(1000 * _quantile(buckets, c1, 0.99), 3),
        "skipped_pulses": m.pulses_skipped._value.get() - skipped0,
        "loop_lag_max_ms": round(1000 * max(lags, default=0), 3),
        "subsystem_ms_per_pulse": {k: round(1000 * (sub1[k] - sub0.get(k, 0)) / max(1, pulses), 4)
                                   for k in sub1},
        "timers": len(game.pulse.timers), "deaths": npcs.deaths,
    }
    await app.stop()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npcs", type=int, default=2000)
    ap.add_argument("--fights", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--time-scale", type=float, default=1.0)
    a = ap.parse_args()
    result = asyncio.run(soak(a.npcs, a.fights, a.seconds, a.time_scale))
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    name = f"npc_soak_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
