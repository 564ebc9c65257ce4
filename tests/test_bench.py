"""The load benchmark's harness (bench/), run small: it must drive a real server and write
well-formed results. Timings are never asserted here; docs/PERFORMANCE.md is for those."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench import loopprobe
from bench.bots import FIGHT, MYTHOS, WALK, Bot, Stats, _fight, _flee, bot_name, usable
from bench.run import probe_summary, steps_up_to
from bench.servers import MythosServer, Sampler
from bench.stats import histogram_quantile, parse_prometheus, percentile, summary_ms
from bench.world import build as build_world
from mythos.config import default_world_dir
from mythos.world.loader import check_world

from mudclient import MudClient, http_get, staff, wait_until

REPO = Path(__file__).resolve().parents[1]
STEP_KEYS = {"target", "scenario", "bots", "connected", "seconds", "commands_per_s",
             "latency_ms", "by_command", "errors", "error_count", "loop_lag_p99_ms",
             "pulse_p99_ms", "flush_p99_ms", "flush_mean_ms", "cpu_percent", "rss_mib",
             "rss_per_connection_kib", "load_generators"}


def commands_total(text: str) -> float:
    return sum(v for (name, _), v in parse_prometheus(text).items()
               if name == "mythos_commands_total")


async def run_harness(*args: str, timeout: float = 90) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", *args, cwd=REPO, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_ten_bots_drive_a_server_and_the_results_are_written(server, tmp_path: Path):
    results = tmp_path / "results"
    before = commands_total((await http_get(server.web_port, "/metrics"))[1])
    rc, out = await run_harness(
        "--connect", f"127.0.0.1:{server.telnet_port}",
        "--metrics-url", f"http://127.0.0.1:{server.web_port}/metrics",
        "--server-pid", str(os.getpid()),
        "--scenarios", "idle,crowded,storm,ramp", "--idle", "8", "--steps", "10", "--hold", "1",
        "--warmup", "0.5", "--settle", "0.2", "--pace", "0.5", "--crowd", "6",
        "--crowd-pace", "0.5", "--storm", "5", "--storm-base", "3", "--workers", "1",
        "--transport", "mixed",
        "--out", str(results), "--label", "test")
    assert rc == 0, out
    files = sorted(p.name for p in await asyncio.to_thread(lambda: list(results.iterdir())))
    assert len(files) == 2, files
    stem = files[0].removesuffix(".json")
    assert re.fullmatch(r"\d{8}T\d{6}Z_[0-9a-z]+_[A-Za-z0-9-]+", stem), stem
    assert files == [f"{stem}.json", f"{stem}.png"]
    result = json.loads(await asyncio.to_thread((results / f"{stem}.json").read_text))
    png = await asyncio.to_thread((results / f"{stem}.png").read_bytes)
    assert png.startswith(b"\x89PNG")
    assert f"{stem}.json" in out  # the table was printed, then where the results are

    assert result["schema"] == 1 and result["label"] == "test"
    assert result["git"]["rev"] and result["machine"]["cpus"]
    assert set(result["mixes"]) >= {"spread", "crowded", "common"}
    # The scout read the command list from `help`.
    assert {"look", "walk", "say", "emote", "who"} <= set(
        result["targets"]["mythos"]["commands_found"])
    steps = {s["scenario"]: s for s in result["steps"]}
    assert set(steps) == {"idle", "crowded", "storm", "ramp:spread"}
    for s in steps.values():
        assert STEP_KEYS <= set(s), s.keys()
        assert s["target"] == "mythos"
        assert s["error_count"] == 0, s["errors"]
        assert s["latency_ms"]["count"] > 0 and s["latency_ms"]["p50"] is not None
        assert s["latency_ms"]["p50"] <= s["latency_ms"]["p99"] <= s["latency_ms"]["max"]
        assert s["loop_lag_p99_ms"] is not None  # /metrics was scraped, before and after
        assert s["cpu_percent"] is not None and s["rss_mib"] > 0  # the process was sampled
    ramp = steps["ramp:spread"]
    assert ramp["bots"] == ramp["connected"] == 10
    # Half the bots played over telnet, half over the browser's WebSocket.
    assert set(ramp["by_transport"]) == {"telnet", "websocket"}
    assert ramp["commands_per_s"] > 0
    assert ramp["rss_per_connection_kib"] is not None
    assert steps["crowded"]["connected"] == 6
    idle = steps["idle"]  # the idle players stayed connected; the probe's looks were timed
    assert idle["bots"] == idle["connected"] == 8 and idle["logins"]["ok"] == 8
    assert set(idle["by_command"]) == {"look"} and idle["rss_per_connection_kib"] is not None
    assert idle["idle_commands_per_s"] is not None
    storm = steps["storm"]
    assert storm["storm"]["ok"] == 5 and storm["storm"]["failed"] == 0
    assert storm["probe_latency_ms"]["count"] > 0
    # The server counted (at least) every command the bots saw answered.
    answered = sum(s["latency_ms"]["count"] for s in result["steps"])
    after = commands_total((await http_get(server.web_port, "/metrics"))[1])
    assert after - before >= answered
    # Every bot quit at the end of its scenario.
    assert server.game.online == {}


async def test_the_harness_starts_a_server_process_and_reads_its_ports(tmp_path: Path):
    srv = MythosServer(tmp_path)
    await srv.start()
    try:
        assert srv.port and srv.metrics_url and srv.pids
        status, body = await http_get(int(srv.metrics_url.rsplit(":", 1)[1].split("/")[0]),
                                      "/metrics")
        assert status == 200 and "mythos_event_loop_lag_seconds_bucket" in body
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
        assert await asyncio.wait_for(reader.read(1), 10)
        writer.close()
    finally:
        await srv.stop()
    assert srv.proc is not None and srv.proc.returncode == 0


async def test_the_loop_probe_times_the_turns_of_a_real_servers_loop(tmp_path: Path):
    srv = MythosServer(tmp_path, loop_probe=True)
    await srv.start()
    try:
        t0 = time.monotonic()
        c = await MudClient.connect(srv.host, srv.port)
        await c.expect("By what name")
        await c.command("create Probed Xq7.Lm3-Vw9r", "Independence Square", timeout=30)
        for _ in range(5):
            await c.command("look", "Exits")
        await c.close()
        probe = await probe_summary(srv.probe_file, t0, time.monotonic())
    finally:
        await srv.stop()
    log = await asyncio.to_thread(srv.log.read_text)
    assert "event_loop=asyncio" in log  # the probe can only wrap asyncio's own loop
    assert probe is not None
    assert probe["turns"] > 0 and probe["callbacks"] > 0
    assert probe["busiest_second"]["callbacks"] > 0


PROBED = """
import asyncio, sys, time
from bench import loopprobe
loopprobe.install(sys.argv[1])

def sleeps_in_the_loop():
    time.sleep(0.3)  # what the loop must never do

async def main():
    t0 = time.monotonic()
    asyncio.get_running_loop().call_soon(sleeps_in_the_loop)
    await asyncio.sleep(0.5)
    print(t0, time.monotonic())
    await asyncio.sleep(1.5)  # the probe writes its file meanwhile

asyncio.run(main())
"""


async def test_the_loop_probe_names_a_callback_that_holds_the_loop_and_where_it_waits(
        tmp_path: Path):
    out = tmp_path / "probe.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBED, str(out), cwd=REPO, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    t0, t1 = map(float, stdout.split())
    s = loopprobe.summary(json.loads(await asyncio.to_thread(out.read_text)), t0, t1)
    assert s["slow_turns"] == 1 and s["slow_held"] == 1 and s["slow_off_cpu"] == 1
    assert s["held_by"] == {"sleeps_in_the_loop": 1}
    assert s["longest_turn_ms"] >= 300
    (where, looks), = s["stalled_at"].items()  # seen several times, always at the same place
    assert where.startswith("<string>:7 sleeps_in_the_loop") and looks >= 10


def test_the_loop_probe_tells_a_queue_from_a_held_loop_and_an_idle_thread():
    # [at, callback ms, thread CPU ms, callbacks, longest callback ms, its name]
    slow = [[100.5, 20.0, 19.0, 60, 1.5, "task WorldService._work"],  # many: queueing
            [101.2, 30.0, 29.5, 2, 28.0, "Pulse.tick"],  # one long callback
            [101.8, 300.0, 10.0, 16, 290.0, "WorldService.flush_outbox"],  # thread not running
            [130.0, 50.0, 50.0, 1, 50.0, "outside the window"]]
    data = {"written": 200.0, "slow": slow,
            "seconds": [[100, 900, 2000, 600.0, 590.0], [101, 400, 1800, 900.0, 610.0],
                        [130, 10, 10, 50.0, 50.0]]}
    s = loopprobe.summary(data, 100.0, 102.0)
    assert (s["turns"], s["callbacks"], s["busy_percent"]) == (1300, 3800, 75.0)
    assert (s["slow_turns"], s["slow_queued"], s["slow_held"], s["slow_off_cpu"]) == (3, 1, 2, 1)
    assert s["held_by"] == {"Pulse.tick": 1, "WorldService.flush_outbox": 1}
    assert s["queued_median_callbacks"] == 60 and s["longest_turn_ms"] == 300.0
    assert s["busiest_second"] == {"at": 1, "turns": 400, "callbacks": 1800,
                                   "callback_ms": 900, "cpu_ms": 610}


def test_percentiles_and_histogram_quantiles():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 101)), 99) == 99
    assert summary_ms([1000, 3000, 2000]) == {"count": 3, "p50": 2.0, "p95": 3.0, "p99": 3.0,
                                              "max": 3.0}
    before = parse_prometheus('h_bucket{le="0.01"} 5\nh_bucket{le="0.1"} 5\n'
                              'h_bucket{le="+Inf"} 5\n')
    after = parse_prometheus('# HELP h x\nh_bucket{le="0.01"} 95\nh_bucket{le="0.1"} 105\n'
                             'h_bucket{le="+Inf"} 105\n')
    # 100 new observations: 90 under 10 ms, 10 between 10 and 100 ms.
    assert histogram_quantile(before, after, "h", 0.5) == 0.01 * 50 / 90
    assert abs(histogram_quantile(before, after, "h", 0.99) - (0.01 + 0.09 * 9 / 10)) < 1e-12
    assert histogram_quantile(after, after, "h", 0.99) is None  # nothing observed
    inf = parse_prometheus('h_bucket{le="0.01"} 95\nh_bucket{le="0.1"} 105\n'
                           'h_bucket{le="+Inf"} 205\n')
    assert histogram_quantile(before, inf, "h", 0.99) == 0.1  # past the last bound


def test_ramp_steps_and_bot_names():
    steps = [100, 500, 1000, 2000, 5000]
    assert steps_up_to(steps, None) == steps
    assert steps_up_to(steps, 20000) == [100, 500, 1000, 2000, 5000, 10000, 20000]
    assert steps_up_to(steps, 7000) == [*steps, 7000]
    assert steps_up_to(steps, 300) == [100, 300]
    names = [bot_name("Bot", i) for i in range(26**4 + 2)]
    assert len(set(names)) == len(names)  # unique, letters only, 3-20 long (a legal name)
    assert all(n.isalpha() and 3 <= len(n) <= 20 for n in names)
    assert names[0] == "Botaaaa" and names[27] == "Botaabb"


def test_the_bigger_world_is_the_starter_world_and_a_grid_joined_both_ways(tmp_path: Path):
    starter, problems = check_world(default_world_dir())
    assert starter is not None and not problems
    world, problems = check_world(build_world(tmp_path / "world", 90))
    assert problems == [] and world is not None
    grid = [r for r in world.rooms.values() if r.zone.id.startswith("outskirts_")]
    assert len(grid) == 100  # 10 x 10 holds 90: four zones (blocks of up to 8 x 8)
    assert set(world.rooms) - {r.id for r in grid} == set(starter.rooms)
    assert sorted(len(z.rooms) for z in world.zones.values() if z.id.startswith("outskirts_")
                  ) == [4, 16, 16, 64]
    middle = world.rooms[world.start_room]
    assert (middle.coords.x, middle.coords.y) == (0, 0)
    assert middle.exits["up"].to == "arkham.square"
    assert world.rooms["arkham.square"].exits["down"].to == middle.id
    corner = min(grid, key=lambda r: (r.coords.x, r.coords.y))
    assert sorted(corner.exits) == ["east", "north"]
    # The dead come back there too; every block has stray dogs (one per 8 rooms) to fight,
    # born in its middle and kept to it.
    assert world.respawn_room == middle.id
    strays = {p.home: p for p in world.npc_protos.values() if p.id.startswith("stray_")}
    assert set(world.npc_protos) - {p.id for p in strays.values()} == set(starter.npc_protos)
    assert sorted(p.max_population for p in strays.values()) == [1, 2, 2, 8]
    for home, proto in strays.items():
        assert proto.kind == "passive_mob" and proto.attackable and proto.wander
        assert proto.area == world.rooms[home].area and world.rooms[home].zone.id in home


async def test_a_bot_fights_a_stray_bleeds_out_and_respawns(start_server, tmp_path: Path):
    """The spread mix's fight, flee and respawn, one bot over telnet in the bigger world's
    smallest form (one block of 16 rooms, two stray dogs), its clocks 20 times as fast."""
    world = await asyncio.to_thread(build_world, tmp_path / "world", 16)
    app = await start_server(f"sqlite:///{tmp_path / 'fight.db'}", world=world,
                             commands_per_second=1000, time_scale=20)
    bot = Bot(bot_name("Fighter", 0), MYTHOS)
    await bot.login("127.0.0.1", app.telnet_port)
    char = app.game.online[bot.name.lower()]
    spread, stats = usable("spread", None), Stats()
    loop = asyncio.get_running_loop()

    async def attack() -> None:
        """Walk until a stray is in the room, then attack it."""
        fights, deadline = stats.outcomes["main:fight:ok"], loop.time() + 20
        while stats.outcomes["main:fight:ok"] == fights and loop.time() < deadline:
            await bot.act((FIGHT,) if _fight(bot) else (WALK,), stats)
            await asyncio.sleep(0.05)
        assert stats.outcomes["main:fight:ok"] == fights + 1, stats.outcomes
        await wait_until(lambda: bot.combat is not None, what="Char.Combat")

    async def play_until(done: Callable[[], bool], seconds: float) -> None:
        deadline = loop.time() + seconds
        while not done():
            assert loop.time() < deadline, (bot.combat, bot.hp, bot.room, stats.outcomes)
            await bot.act(spread, stats)
            await asyncio.sleep(0.05)

    await attack()
    # While it fights it does all but walk away (not hurt, it does not flee either); the
    # dog dies (Char.Combat null: the fight is over) and the XP is the bot's.
    assert bot.pick((WALK,)) is None and _flee(bot) is None
    await play_until(lambda: bot.combat is None, 20)
    assert char.xp == 20 and not stats.errors, (char.xp, stats.errors)
    # Hurt in the next fight, it would flee and fights no more; left alone, it falls,
    # bleeds out and dies (or, once in a while, the dog dies first: another fight). Until
    # it is dead it does nothing; then it respawns where the dead come back.
    admin = await staff(app, "Agatha")
    for _ in range(5):
        await attack()
        admin.send(f"set {bot.name} hp 1")
        await wait_until(lambda: bot.hurt, what="hp 1")
        assert _fight(bot) is None and (bot.combat is None or _flee(bot) is not None)
        await wait_until(lambda: bot.combat is None, timeout=20, what="the fight's end")
        if bot.unconscious or bot.dead:
            break
    answered = stats.outcomes.total()
    await bot.act(spread, stats)
    assert bot.dead or stats.outcomes.total() == answered  # unconscious: not a word
    await wait_until(lambda: bot.dead, timeout=10, what="limbo")
    assert char.room_id == app.game.world.limbo_room
    await play_until(lambda: not bot.dead, 10)
    assert stats.outcomes["main:respawn:ok"] == 1, stats.outcomes
    assert bot.room["num"] == app.game.world.respawn_room == app.game.world.start_room
    assert not stats.errors and bot.hp == bot.max_hp
    await admin.close()
    bot.quit()


def test_urgent_actions_come_first_and_never_crowd_out_the_mix():
    bot = Bot(bot_name("Picker", 0), MYTHOS)  # never connected: picking sends nothing
    bot.room = {"num": "a", "name": "A Street", "environment": "street_paved",
                "exits": {"n": "b"}}
    bot.npcs = [{"id": "1", "name": "a stray dog", "attrib": "m"}]
    bot.hp = bot.max_hp = 80
    spread = usable("spread", None)
    picked = Counter(p[0].name for p in (bot.pick(spread) for _ in range(400)) if p)
    assert picked.total() == 400 and {"look", "walk", "say", "fight"} <= set(picked)
    assert not {"flee", "respawn"} & set(picked)
    bot.combat, bot.hp = {"target": "a stray dog", "target_hp_pct": 50}, 10
    assert bot.pick(spread)[1] == "flee"  # type: ignore[index]
    bot.combat, bot.room = None, {"num": "limbo.void", "environment": "void", "exits": {}}
    assert bot.pick(spread)[1] == "respawn"  # type: ignore[index]


def test_the_sampler_follows_a_process_that_restarted_under_a_new_pid():
    # Evennia restarts its Server once after a new game directory's first start: the CPU and
    # memory figures must follow the new process, not lose it.
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    first, second = subprocess.Popen(sleeper), subprocess.Popen(sleeper)
    try:
        sampler = Sampler([first.pid], interval=0.1, resolve=lambda: [second.pid])
        sampler.start()
        first.kill()
        first.wait()
        deadline = time.monotonic() + 10
        while sampler.procs[0].pid != second.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        sampler.stop()
        assert sampler.procs[0].pid == second.pid
        assert sampler.samples[-1][2] > 0  # the new process's resident memory is counted
    finally:
        for p in (first, second):
            p.kill()
            p.wait()


def test_the_item_transaction_benchmark_writes_its_results(tmp_path: Path):
    from bench.items import main as items_main

    items_main(["--transactions", "20", "--rounds", "2", "--out", str(tmp_path)])
    [path] = tmp_path.glob("items_*.json")
    result = json.loads(path.read_text())
    assert result["benchmark"] == "items" and result["backend"] == "sqlite"
    assert len(result["rounds"]) == 2
    for row in result["rounds"]:
        assert set(row) == {"wall_us", "thread_cpu_us", "sqlite3_cpu_us"}
        assert all(value > 0 for value in row.values())
    assert set(result["median"]) == {"wall_us", "thread_cpu_us", "sqlite3_cpu_us"}


def test_the_flush_benchmark_on_a_busy_loop_writes_its_results(tmp_path: Path):
    from bench.flush import main as flush_main

    flush_main(["--characters", "30", "--rounds", "2", "--busy", "0.001", "--out", str(tmp_path)])
    [path] = tmp_path.glob("flush_sqlite_*.json")
    result = json.loads(path.read_text())
    assert result["benchmark"] == "write_behind_flush" and result["characters"] == 30
    assert result["busy_burst_s"] == 0.001 and len(result["rounds"]) == 2
    for row in result["rounds"]:
        assert row["flush_s"] > 0 and row["rows_per_s"] > 0 and row["probe_wakeups"] > 0
