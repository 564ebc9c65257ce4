"""The load benchmark: start the server(s), run the scenarios, write JSON, a table and a plot.

    python -m bench                              # Mythos: crowded room, login storm, ramp
    python -m bench --target both                # Mythos and Evennia side by side
    python -m bench --steps 20,50,100 --hold 10  # a small run
    python -m bench --connect 127.0.0.1:4000 --metrics-url http://127.0.0.1:8080/metrics

See docs/PERFORMANCE.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import loopprobe, report
from bench.bots import MIXES, PROFILES, Bot, bot_name, scatter_seconds, usable
from bench.loadgen import raise_file_limit
from bench.servers import (
    BENCH,
    REPO,
    STARTER_WORLD,
    EvenniaServer,
    ExternalServer,
    MythosCluster,
    MythosServer,
    Sampler,
    Target,
)
from bench.stats import counter_delta, histogram_quantile, parse_prometheus, summary_ms
from bench.world import build as build_world
from bench.world import grid_side

SCHEMA = 1
DEFAULT_STEPS = "100,500,1000,2000,5000"


# -- load-generator processes -------------------------------------------------------------------

class Pool:
    """A few load-generator processes (``bench.loadgen``) aimed at one target."""

    def __init__(self, target: Target, workers: int, transport: str = "telnet") -> None:
        self.target = target
        self.n = max(1, workers, len(target.endpoints))
        # Evennia's web client speaks its own protocol: its bots use telnet.
        self.transport = transport if target.profile == "mythos" else "telnet"
        self.procs: list[asyncio.subprocess.Process] = []
        self.count: dict[str, int] = {}  # bots asked for, per group
        self.failed: dict[str, int] = {}
        self._locks: list[asyncio.Lock] = []

    async def start(self) -> None:
        # A cluster's gateways share the load generators out: generator i -> gateway i % n.
        doors = self.target.endpoints or [(self.target.port, self.target.web_port)]
        for i in range(self.n):
            port, web_port = doors[i % len(doors)]
            self.procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.loadgen", self.target.host, str(port),
                self.target.profile, self.transport, str(web_port or "-"), cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28))
            self._locks.append(asyncio.Lock())

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    async def call(self, i: int, req: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
        proc = self.procs[i]
        assert proc.stdin is not None and proc.stdout is not None
        async with self._locks[i]:
            proc.stdin.write(json.dumps(req).encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"load generator {i} ended (exit {proc.returncode})")
        return json.loads(line)

    async def all(self, req: dict[str, Any], timeout: float = 3600) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self.call(i, req, timeout)
                                           for i in range(self.n))))

    async def grow(self, group: str, total: int, *, prefix: str, mix: str, pace: float,
                   available: set[str] | None, concurrency: int = 20,
                   workers: list[int] | None = None, play: bool = False,
                   scatter: bool = False) -> dict[str, int]:
        """Log in bots of ``group`` until ``total`` have been asked for; their names are
        ``prefix`` + a number, spread over the processes. ``play``: each starts playing as
        soon as it is in (otherwise when ``play()`` says so). ``scatter``: each first walks
        away from the start room (``Bot.play``)."""
        have = self.count.get(group, 0)
        if total <= have:
            return {"ok": 0, "failed": 0, "reasons": {}}
        ws = workers or list(range(self.n))
        names: dict[int, list[str]] = {w: [] for w in ws}
        for idx in range(have, total):
            names[ws[idx % len(ws)]].append(bot_name(prefix, idx))
        self.count[group] = total
        per = max(1, concurrency // len(ws))
        replies = await asyncio.gather(*(
            self.call(w, {"op": "grow", "group": group, "names": ns, "mix": mix, "pace": pace,
                          "available": sorted(available) if available is not None else None,
                          "concurrency": per, "play": play, "scatter": scatter})
            for w, ns in names.items() if ns))
        ok = sum(r["ok"] for r in replies)
        failed = sum(r["failed"] for r in replies)
        self.failed[group] = self.failed.get(group, 0) + failed
        reasons: dict[str, int] = {}
        for r in replies:
            for why, v in r.get("reasons", {}).items():
                reasons[why] = reasons.get(why, 0) + v
        return {"ok": ok, "failed": failed, "reasons": reasons}

    async def play(self, group: str, on: bool = True) -> None:
        await self.all({"op": "play", "group": group, "on": on})

    async def reset(self) -> None:
        await self.all({"op": "reset"})

    async def report(self) -> list[dict[str, Any]]:
        return await self.all({"op": "report"})

    async def quit(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.returncode is None:
                with contextlib.suppress(Exception):
                    await self.call(i, {"op": "quit"}, timeout=30)
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                if proc.returncode is None:
                    try:
                        await asyncio.wait_for(proc.wait(), 10)
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()


# -- measuring ----------------------------------------------------------------------------------

async def http_get(url: str, timeout: float = 10) -> str:
    m = re.match(r"http://([^/:]+):(\d+)(/.*)", url)
    assert m, url
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(m[1], int(m[2]))
        writer.write(f"GET {m[3]} HTTP/1.0\r\nHost: {m[1]}\r\n\r\n".encode())
        data = await reader.read()
        writer.close()
    return data.decode(errors="replace").partition("\r\n\r\n")[2]


async def scrape(target: Target) -> dict[Any, float]:
    if not target.metrics_url:
        return {}
    try:
        return parse_prometheus(await http_get(target.metrics_url))
    except (OSError, TimeoutError):
        return {}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _mean(m0: dict[Any, float], m1: dict[Any, float], name: str) -> float | None:
    """A histogram's mean between two scrapes (its sum over its count): unlike a quantile,
    not bounded by the highest bucket."""
    n = counter_delta(m0, m1, f"{name}_count")
    return counter_delta(m0, m1, f"{name}_sum") / n if n > 0 else None


def server_numbers(m0: dict[Any, float], m1: dict[Any, float], seconds: float,
                   ) -> dict[str, Any]:
    """What the server's own /metrics say about the window between two scrapes."""
    if not m0 or not m1:
        return {"loop_lag_p99_ms": None, "pulse_p99_ms": None, "flush_p99_ms": None,
                "flush_mean_ms": None, "gc2_pauses": None, "gc2_p99_ms": None, "gc_percent": None,
                "gc_young_pauses": None, "gc_young_ms": None, "server_commands_per_s": None}
    young = ({"generation": "0"}, {"generation": "1"})
    return {
        "loop_lag_p99_ms": _ms(histogram_quantile(m0, m1, "mythos_event_loop_lag_seconds",
                                                  0.99)),
        "pulse_p99_ms": _ms(histogram_quantile(m0, m1, "mythos_pulse_duration_seconds", 0.99)),
        "flush_p99_ms": _ms(histogram_quantile(m0, m1, "mythos_flush_duration_seconds", 0.99)),
        "flush_mean_ms": _ms(_mean(m0, m1, "mythos_flush_duration_seconds")),
        # full collections of the garbage collector: how many, and how long they held it all
        "gc2_pauses": round(counter_delta(m0, m1, "mythos_gc_pause_seconds_count",
                                          {"generation": "2"})),
        "gc2_p99_ms": _ms(histogram_quantile(m0, m1, "mythos_gc_pause_seconds", 0.99,
                                             {"generation": "2"})),
        # every collection, young ones included: the share of the window the collector took
        "gc_percent": round(100 * counter_delta(m0, m1, "mythos_gc_pause_seconds_sum")
                            / seconds, 2),
        # the young collections (generations 0 and 1): rare with the server's threshold, each
        # walking every object made since the last one, the garbage in cycles included
        "gc_young_pauses": round(sum(counter_delta(m0, m1, "mythos_gc_pause_seconds_count", g)
                                     for g in young)),
        "gc_young_ms": round(1000 * sum(counter_delta(m0, m1, "mythos_gc_pause_seconds_sum", g)
                                        for g in young), 1),
        "server_commands_per_s": round(
            counter_delta(m0, m1, "mythos_commands_total") / seconds, 1),
    }


async def probe_summary(path: Path, t0: float, t1: float) -> dict[str, Any] | None:
    """What ``bench.loopprobe`` saw of the server's loop from ``t0`` to ``t1``, once it has
    written past ``t1`` (it writes every second); None if it never did."""
    deadline = time.monotonic() + 3 * loopprobe.WRITE_EVERY + 2
    while True:
        with contextlib.suppress(FileNotFoundError, ValueError):
            data = json.loads(await asyncio.to_thread(path.read_text))
            if data["written"] >= t1:
                return loopprobe.summary(data, t0, t1)
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.2)


def merge(reports: list[dict[str, Any]], group: str) -> dict[str, Any]:
    """The numbers of one group of bots over all load-generator processes."""
    lat: list[int] = []
    by_action: dict[str, list[int]] = {}
    by_transport: dict[str, list[int]] = {}
    outcomes: dict[str, int] = {}
    errors: dict[str, int] = {}
    connected = disconnected = 0
    for r in reports:
        for action, values in r["latency_us"].get(group, {}).items():
            lat.extend(values)
            by_action.setdefault(action, []).extend(values)
        for key, values in r.get("by_transport_us", {}).items():
            g, _, transport = key.partition(":")
            if g == group:
                by_transport.setdefault(transport, []).extend(values)
        for key, v in r["outcomes"].items():
            g, _, rest = key.partition(":")
            if g == group:
                outcomes[rest] = outcomes.get(rest, 0) + v
        for key, v in r["errors"].items():
            g, _, rest = key.partition(":")
            if g == group:
                errors[rest] = errors.get(rest, 0) + v
        connected += r["connected"].get(group, 0)
        disconnected += r.get("disconnected", {}).get(group, 0)
    if disconnected:
        errors["disconnected"] = disconnected
    return {"latency_ms": summary_ms(lat), "answered": len(lat), "connected": connected,
            "by_command": {a: summary_ms(v) for a, v in sorted(by_action.items())},
            "by_transport": {t: summary_ms(v) for t, v in sorted(by_transport.items())},
            "outcomes": outcomes, "errors": errors}


def count_logins(step: dict[str, Any], grown: dict[str, Any]) -> None:
    """A step's failed logins (``Pool.grow``'s answer): how many, why, and among its errors."""
    step["login_failed"] = grown["failed"]
    step["login_errors"] = grown["reasons"]
    step["error_count"] += grown["failed"]


def bots_side(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """How busy the load generators were: if they were saturated, latencies include that."""
    lag = sorted(x for r in reports for x in r["loop_lag_us"])
    cpu = sum(r["cpu_seconds"] for r in reports)
    secs = max((r["seconds"] for r in reports), default=1.0) or 1.0
    return {"cpu_percent": round(100 * cpu / secs, 1),
            "loop_lag_p99_ms": summary_ms(lag)["p99"], "processes": len(reports)}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.samplers: dict[str, Sampler | None] = {}
        self.available: dict[str, set[str] | None] = {}
        self.steps: list[dict[str, Any]] = []
        self.stem = ""
        #: Each server's resident memory before any bot came: memory per connection is
        #: counted from there (after earlier scenarios, an upper bound).
        self.fresh_rss: dict[str, int | None] = {}

    def log(self, msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    async def discover(self, target: Target) -> set[str] | None:
        """The command words the server offers, from its ``help`` (a scout logs in)."""
        scout = Bot(bot_name("Scout", 0), PROFILES[target.profile])
        try:
            await scout.login(target.host, target.port)
            text = await scout.collect("help", 2.0)
        except Exception as exc:
            self.log(f"{target.name}: could not read the command list ({exc!r})")
            return None
        finally:
            scout.quit()
        words = set(re.findall(r"[a-z]+", re.sub(r"\x1b\[[0-9;]*m", "", text.decode(
            "utf-8", "replace")).lower()))
        return words

    async def rss(self, target: Target) -> int | None:
        s = self.samplers.get(target.name)
        return None if s is None else await asyncio.to_thread(s.rss_now)

    async def measure(self, target: Target, pool: Pool, *, scenario: str, bots: int,
                      hold: float, extra_groups: tuple[str, ...] = (),
                      baseline_rss: int | None = None) -> dict[str, Any]:
        """Hold for ``hold`` seconds and say what happened in that window."""
        m0 = await scrape(target)
        await pool.reset()
        t0 = time.monotonic()
        profile = await self.start_profile(target, f"{scenario.split(':')[0]}_{bots}")
        await asyncio.sleep(hold)
        reports = await pool.report()
        t1 = time.monotonic()
        m1 = await scrape(target)
        profile_name = await self.end_profile(*profile) if profile is not None else None
        seconds = t1 - t0
        main = merge(reports, "main")
        step: dict[str, Any] = {
            "target": target.name, "scenario": scenario, "bots": bots,
            "connected": main["connected"], "seconds": round(seconds, 2),
            "commands_per_s": round(main["answered"] / seconds, 1),
            "latency_ms": main["latency_ms"], "by_command": main["by_command"],
            "by_transport": main["by_transport"],
            "outcomes": main["outcomes"], "errors": main["errors"],
            "error_count": sum(main["errors"].values()),
        }
        for g in extra_groups:
            step[g] = merge(reports, g)
        step.update(server_numbers(m0, m1, seconds))
        sampler = self.samplers.get(target.name)
        window = sampler.window(t0, t1) if sampler else {"cpu_percent": None, "rss_mib": None}
        step["cpu_percent"] = window["cpu_percent"]
        step["rss_mib"] = window["rss_mib"]
        if sampler and len(target.roles) > 1:  # a cluster: each process on its own
            step["processes"] = [{"role": role, **w} for role, w
                                 in zip(target.roles, sampler.windows(t0, t1), strict=True)]
        step["rss_per_connection_kib"] = None
        if window["rss_mib"] is not None and baseline_rss is not None and main["connected"]:
            step["rss_per_connection_kib"] = round(
                (window["rss_mib"] * 2**20 - baseline_rss) / 1024 / main["connected"], 1)
        step["load_generators"] = bots_side(reports)
        if profile_name is not None:
            step["profile"] = profile_name
        if target.probe_file is not None:
            step["loop_probe"] = await probe_summary(target.probe_file, t0, t1)
        return step

    async def start_profile(self, target: Target, what: str,
                            ) -> tuple[asyncio.subprocess.Process, Path] | None:
        """With --profile: py-spy samples the Mythos server while a step is held."""
        if not self.args.profile or target.name != "mythos" or not target.pids:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        await asyncio.to_thread(self.args.out.mkdir, parents=True, exist_ok=True)
        ext = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[self.args.profile_format]
        svg = self.args.out / f"{self.stem}_{target.name}_{what}.{ext}"
        proc = await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(target.pids[0]), "--rate", "100", "--nonblocking",
            "--format", self.args.profile_format, "-o", str(svg), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        return proc, svg

    async def end_profile(self, proc: asyncio.subprocess.Process, svg: Path) -> str | None:
        """Stop py-spy (Ctrl-C: it writes the flame graph then)."""
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        if proc.returncode != 0:
            self.log(f"py-spy failed: {err.decode(errors='replace').strip()[-300:]}")
            return None
        return svg.name

    def done(self, step: dict[str, Any]) -> None:
        self.steps.append(step)
        lat = step["latency_ms"]
        self.log(f"{step['target']} {step['scenario']} {step['bots']} bots: "
                 f"{step['commands_per_s']} cmd/s, p50 {lat['p50']} p99 {lat['p99']} ms, "
                 f"cpu {step['cpu_percent']}%, errors {step['error_count']}")
        for why, n in sorted(step.get("login_errors", {}).items(), key=lambda kv: -kv[1]):
            self.log(f"  {n} failed logins: {why}")
        probe = step.get("loop_probe")
        if probe:
            held = "".join(f", {what} x{n}" for what, n in probe["held_by"].items())
            held = f" ({held[2:]})" if held else ""
            self.log(f"  its loop: {probe['turns']} turns, {probe['busy_percent']}% busy; "
                     f"{probe['slow_turns']} ran over {probe['slow_ms']:g} ms of callbacks: "
                     f"{probe['slow_queued']} many callbacks (queueing), {probe['slow_held']} "
                     f"one long one{held}, {probe['slow_off_cpu']} with the thread off the CPU")

    # -- scenarios ------------------------------------------------------------------------------
    async def ramp(self, targets: list[Target], mix: str) -> None:
        """Bots by the step, each step held; with two targets, alternating step by step.
        While a step's newcomers log in, the bots already in wait; then all play."""
        a = self.args
        pools = {t.name: Pool(t, a.workers, a.transport) for t in targets}
        try:
            for t in targets:
                await pools[t.name].start()
            for n in a.step_list:
                for t in targets:
                    pool = pools[t.name]
                    self.log(f"{t.name}: ramp to {n} bots ({mix})")
                    # Newcomers walk away from the start room (Mythos's Room.Info shows
                    # them the exits), so that a step does not begin with all of them in it.
                    scatter = t.profile == "mythos" and any(x.name == "walk"
                                                            for x in MIXES[mix])
                    grown = await pool.grow("main", n, prefix="Bot", mix=mix, pace=a.pace,
                                            available=self.available[t.name],
                                            concurrency=a.login_concurrency, scatter=scatter)
                    await pool.play("main", True)
                    # (Bot.play: a newcomer scatters at half the mix's pace)
                    await asyncio.sleep(max(a.warmup, scatter_seconds(a.pace / 2)
                                            if scatter else 0))
                    step = await self.measure(t, pool, scenario=f"ramp:{mix}", bots=n,
                                              hold=a.hold,
                                              baseline_rss=self.fresh_rss.get(t.name))
                    count_logins(step, grown)
                    # Paused until the next step is in: its logins are not what a step
                    # measures (the storm is), and under full load they would crawl.
                    await pool.play("main", False)
                    self.done(step)
        finally:
            for p in pools.values():
                await p.quit()
            await asyncio.sleep(self.args.settle)

    async def crowded(self, target: Target, mix: str = "crowded") -> None:
        """``--crowd`` bots in one room (where new characters appear), one command a
        ``--crowd-pace`` seconds each; every say is heard by all."""
        a = self.args
        pool = Pool(target, a.workers, a.transport)
        try:
            await pool.start()
            self.log(f"{target.name}: {a.crowd} bots in one room")
            grown = await pool.grow("main", a.crowd, prefix="Crowd", mix=mix,
                                    pace=a.crowd_pace, available=self.available[target.name],
                                    concurrency=a.login_concurrency)
            await pool.play("main", True)
            await asyncio.sleep(a.warmup)
            step = await self.measure(target, pool, scenario="crowded", bots=a.crowd,
                                      hold=a.hold,
                                      baseline_rss=self.fresh_rss.get(target.name))
            count_logins(step, grown)
            self.done(step)
        finally:
            await pool.quit()
            await asyncio.sleep(self.args.settle)

    async def idle(self, target: Target) -> None:
        """``--idle`` players log in (``--login-concurrency`` at a time), walk a few steps away
        from the start room and fall silent; a probe looks every 0.25 s. Memory per connection,
        and what thousands of connections cost a server whose players say nothing."""
        a = self.args
        pool = Pool(target, a.workers, a.transport)
        try:
            await pool.start()
            self.log(f"{target.name}: {a.idle} idle players and a probe")
            t_login = time.monotonic()
            pace = a.pace / 2
            grown = await pool.grow("main", a.idle, prefix="Idle", mix="scatter", pace=pace,
                                    available=self.available[target.name],
                                    concurrency=a.login_concurrency, play=True)
            login_seconds = time.monotonic() - t_login
            await pool.grow("probe", 1, prefix="Probe", mix="probe", pace=0.25,
                            available=self.available[target.name], workers=[0], play=True)
            # the last ones in walk their few steps; then nobody but the probe types
            await asyncio.sleep(max(a.warmup, scatter_seconds(pace)))
            step = await self.measure(target, pool, scenario="idle", bots=a.idle,
                                      hold=a.hold, extra_groups=("probe",),
                                      baseline_rss=self.fresh_rss.get(target.name))
            probe = step.pop("probe")
            # The row's commands are the probe's; what the idle players still typed in the
            # window (the last steps of a slow scatter) is kept apart.
            step["idle_commands_per_s"] = step["commands_per_s"]
            step.update(latency_ms=probe["latency_ms"], by_command=probe["by_command"],
                        by_transport=probe["by_transport"], outcomes=probe["outcomes"],
                        commands_per_s=round(probe["answered"] / step["seconds"], 1))
            step["errors"] = {**step["errors"],
                              **{f"probe:{k}": v for k, v in probe["errors"].items()}}
            step["error_count"] = sum(step["errors"].values())
            count_logins(step, grown)
            step["logins"] = {"seconds": round(login_seconds, 1), "ok": grown["ok"]}
            self.done(step)
        finally:
            await pool.quit()
            await asyncio.sleep(self.args.settle)

    async def storm(self, target: Target, mix: str) -> None:
        """``--storm-base`` players play and a probe looks every 0.25 s, while ``--storm``
        new players log in at once. The window is the storm itself, until the last is in."""
        a = self.args
        pool = Pool(target, a.workers, a.transport)
        try:
            await pool.start()
            self.log(f"{target.name}: {a.storm_base} players and a probe, "
                     f"then {a.storm} logins at once")
            await pool.grow("main", a.storm_base, prefix="Calm", mix=mix, pace=a.pace,
                            available=self.available[target.name],
                            concurrency=a.login_concurrency)
            await pool.grow("probe", 1, prefix="Probe", mix="probe", pace=0.25,
                            available=self.available[target.name], workers=[0])
            await pool.play("main", True)
            await pool.play("probe", True)
            await asyncio.sleep(a.warmup)
            m0 = await scrape(target)
            await pool.reset()
            t0 = time.monotonic()
            profile = await self.start_profile(target, "storm")
            grown = await pool.grow("storm", a.storm, prefix="Storm", mix=mix, pace=a.pace,
                                    available=self.available[target.name],
                                    concurrency=a.storm)
            storm_seconds = time.monotonic() - t0
            await asyncio.sleep(1.0)
            reports = await pool.report()
            t1 = time.monotonic()
            profile_name = await self.end_profile(*profile) if profile is not None else None
            m1 = await scrape(target)
            main, probe = merge(reports, "main"), merge(reports, "probe")
            logins = sorted(x for r in reports for x in r["logins_us"].get("storm", []))
            seconds = t1 - t0
            step: dict[str, Any] = {
                "target": target.name, "scenario": "storm", "bots": a.storm_base + 1,
                "connected": main["connected"] + probe["connected"],
                "seconds": round(seconds, 2),
                "commands_per_s": round((main["answered"] + probe["answered"]) / seconds, 1),
                "latency_ms": summary_ms(
                    [x for r in reports for g in ("main", "probe")
                     for v in r["latency_us"].get(g, {}).values() for x in v]),
                "by_command": main["by_command"], "by_transport": main["by_transport"],
                "outcomes": main["outcomes"],
                "errors": {**main["errors"], **{f"probe:{k}": v
                                                 for k, v in probe["errors"].items()}},
                "probe_latency_ms": probe["latency_ms"],
                "storm": {"logins": a.storm, "ok": grown["ok"], "failed": grown["failed"],
                          "failures": grown["reasons"], "seconds": round(storm_seconds, 2),
                          "login_ms": summary_ms(logins)},
            }
            step["error_count"] = sum(step["errors"].values()) + grown["failed"]
            step.update(server_numbers(m0, m1, seconds))
            sampler = self.samplers.get(target.name)
            window = sampler.window(t0, t1) if sampler else {"cpu_percent": None,
                                                             "rss_mib": None}
            step.update(cpu_percent=window["cpu_percent"], rss_mib=window["rss_mib"],
                        rss_per_connection_kib=None, load_generators=bots_side(reports))
            if profile_name is not None:
                step["profile"] = profile_name
            self.done(step)
        finally:
            await pool.quit()
            await asyncio.sleep(self.args.settle)

    # -- the whole run --------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        a = self.args
        started = datetime.now(UTC)
        git = await git_revision()
        self.stem = stem(started, git["rev"], socket.gethostname())
        targets = await self.targets()
        try:
            for t in targets:
                self.log(f"starting {t.name} ..." + (
                    f" (its log: {t.log})" if isinstance(t, MythosServer | MythosCluster)
                    else ""))
                await t.start()
                self.log(f"{t.name}: telnet {t.host}:{t.port}"
                         + (f", metrics {t.metrics_url}" if t.metrics_url else ""))
                self.samplers[t.name] = self.sampler(t)
                self.available[t.name] = await self.discover(t)
                self.fresh_rss[t.name] = await self.rss(t)
            both = len(targets) > 1
            for scenario in a.scenario_list:
                if scenario == "idle":
                    for t in targets:
                        if t.profile == "mythos":  # the scatter walks Mythos's Room.Info exits
                            await self.idle(t)
                elif scenario == "crowded":
                    for t in targets:
                        await self.crowded(t)
                elif scenario == "storm":
                    for t in targets:
                        await self.storm(t, "common" if both else "spread")
                elif scenario == "ramp":
                    await self.ramp(targets, "common" if both else a.mix)
        finally:
            for s in self.samplers.values():
                if s is not None:
                    s.stop()
            for t in targets:
                with contextlib.suppress(Exception):
                    await t.stop()
        # The server's scratch directory (database, log) is kept only when the run failed.
        for t in targets:
            if isinstance(t, MythosServer | MythosCluster):
                await asyncio.to_thread(shutil.rmtree, t.workdir, True)
        return {
            "schema": SCHEMA,
            "label": a.label,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "stem": self.stem,
            "git": git,
            "machine": machine(),
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()
                       if k not in ("step_list", "scenario_list")},
            "mixes": {name: [{"action": x.name, "weight": x.weight, "requires": x.requires,
                              "urgent": x.urgent} for x in MIXES[name]] for name in MIXES},
            "targets": {t.name: {"version": t.version, "host": t.host, "port": t.port,
                                 "commands_found": sorted(
                                     x.name for x in usable("spread",
                                                            self.available.get(t.name)))}
                        for t in targets},
            "steps": self.steps,
            "ratios": report.ratios(self.steps),
        }

    async def targets(self) -> list[Target]:
        a = self.args
        if a.connect:
            host, _, port = a.connect.rpartition(":")
            web = re.match(r"http://[^/:]+:(\d+)/", a.metrics_url or "")
            t = ExternalServer("mythos", "mythos", host or "127.0.0.1", int(port),
                               a.metrics_url, int(web[1]) if web else None,
                               [a.server_pid] if a.server_pid else [])
            return [t]
        out: list[Target] = []
        if a.target in ("mythos", "both"):
            work = Path(tempfile.mkdtemp(prefix="mythos-bench-"))
            world = STARTER_WORLD
            if a.world_rooms:
                world = await asyncio.to_thread(build_world, work / "world", a.world_rooms,
                                                STARTER_WORLD)
                self.log(f"world: the starter world and {grid_side(a.world_rooms) ** 2} "
                         "generated rooms (bench/world.py)")
            out.append(MythosCluster(work, a.gateways, a.nats_url, event_loop=a.event_loop,
                                     world=world)
                       if a.gateways else MythosServer(work, event_loop=a.event_loop,
                                                       world=world, loop_probe=a.loop_probe))
        if a.target in ("evennia", "both"):
            out.append(EvenniaServer())
        return out

    def sampler(self, t: Target) -> Sampler | None:
        if not t.pids:
            return None
        try:
            s = Sampler(t.pids, resolve=t.current_pids)
        except Exception as exc:
            self.log(f"{t.name}: no CPU/memory sampling ({exc!r})")
            return None
        s.start()
        return s


async def git_revision() -> dict[str, Any]:
    def read() -> dict[str, Any]:
        try:
            rev = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=REPO,
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                        cwd=REPO, capture_output=True, text=True,
                                        timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            rev, dirty = "", False
        return {"rev": rev or "norev", "dirty": dirty}

    return await asyncio.to_thread(read)


def machine() -> dict[str, Any]:
    return {"host": socket.gethostname(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def stem(started: datetime, rev: str, host: str) -> str:
    """The results' file name without suffix: <utc time>_<git revision>_<machine>."""
    host = re.sub(r"[^A-Za-z0-9-]+", "-", host)[:40] or "machine"
    return f"{started:%Y%m%dT%H%M%SZ}_{rev}_{host}"


def steps_up_to(steps: list[int], most: int | None) -> list[int]:
    """The ramp: ``steps``, cut at ``most`` or continued (doubling) up to it."""
    if most is None:
        return steps
    out = [s for s in steps if s < most]
    nxt = (steps[-1] * 2) if steps else most
    while out and out[-1] >= steps[-1] and nxt < most:
        out.append(nxt)
        nxt *= 2
    out.append(most)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", choices=("mythos", "evennia", "both"), default="mythos",
                   help="the server(s) to measure; both: alternating step by step")
    p.add_argument("--gateways", type=int, default=0,
                   help="0: Mythos as one process (mythos serve); N: mythos world and N "
                        "mythos gateways over NATS (--nats-url), the bots spread over them")
    p.add_argument("--event-loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                   help="Mythos's event loop (its event_loop setting; auto: uvloop where "
                        "installed)")
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222",
                   help="the NATS server of --gateways")
    p.add_argument("--scenarios", default="idle,crowded,storm,ramp",
                   help="which scenarios, in order (idle, crowded, storm, ramp)")
    p.add_argument("--idle", type=int, default=5000,
                   help="players logged in and silent in the idle scenario")
    p.add_argument("--steps", default=DEFAULT_STEPS, help="bots at each step of the ramp")
    p.add_argument("--max", type=int, default=None,
                   help="the last step of the ramp (doubling past the last of --steps)")
    p.add_argument("--hold", type=float, default=60, help="seconds each step is measured")
    p.add_argument("--warmup", type=float, default=10,
                   help="seconds after the logins of a step before measuring")
    p.add_argument("--world-rooms", type=int, default=0, metavar="N",
                   help="Mythos in the starter world with a grid of about N more rooms, where "
                        "new characters appear (bench/world.py); 0: the starter world alone")
    p.add_argument("--pace", type=float, default=2.0,
                   help="seconds between one bot's commands (jittered +-50%%)")
    p.add_argument("--mix", default="spread", choices=sorted(MIXES),
                   help="the ramp's command mix (Mythos alone; side by side uses 'common')")
    p.add_argument("--crowd", type=int, default=200, help="bots in the crowded room")
    p.add_argument("--crowd-pace", type=float, default=1.0)
    p.add_argument("--storm", type=int, default=200, help="logins at once in the storm")
    p.add_argument("--storm-base", type=int, default=50,
                   help="players already playing while the storm comes")
    p.add_argument("--settle", type=float, default=2.0,
                   help="seconds to let the server settle after a scenario's bots quit")
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    # The server hashes at most two passwords at a time (hash_threads): more logins in flight
    # log in no faster, they only queue inside a server that is busy with the bots already in.
    p.add_argument("--login-concurrency", type=int, default=8,
                   help="logins in flight at once while growing a step")
    p.add_argument("--transport", default=None, choices=("telnet", "websocket", "mixed"),
                   help="how Mythos bots connect; mixed (the default for Mythos alone): every "
                        "other one over the browser's WebSocket; side by side with Evennia, "
                        "telnet (Evennia's bots always use telnet)")
    p.add_argument("--connect", metavar="HOST:PORT",
                   help="use a Mythos server that is already running")
    p.add_argument("--metrics-url", help="its /metrics (with --connect)")
    p.add_argument("--server-pid", type=int, help="its process id, for CPU and memory")
    p.add_argument("--out", type=Path, default=BENCH / "results",
                   help="where the JSON and PNG go")
    p.add_argument("--label", default="", help="a note kept in the results (e.g. smoke)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--profile", action="store_true",
                   help="py-spy flame graph (SVG) of the Mythos server during each step")
    p.add_argument("--profile-format", choices=("flamegraph", "raw", "speedscope"),
                   default="flamegraph", help="py-spy's output: an SVG flame graph, collapsed "
                   "stacks (raw, one line per stack: for scripts) or speedscope JSON")
    p.add_argument("--loop-probe", action="store_true",
                   help="time every turn of the Mythos server's event loop (bench/loopprobe.py; "
                        "runs it on asyncio's loop, not uvloop): each step says whether slow "
                        "turns were queues of many callbacks or one long one ('loop_probe')")
    a = p.parse_args(argv)
    if a.loop_probe and (a.gateways or a.connect):
        p.error("--loop-probe needs the server as one process started here (no --gateways, "
                "no --connect)")
    a.step_list = steps_up_to([int(x) for x in a.steps.split(",") if x.strip()], a.max)
    a.scenario_list = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    if a.transport is None:
        a.transport = "telnet" if a.target == "both" else "mixed"
    unknown = set(a.scenario_list) - {"idle", "crowded", "storm", "ramp"}
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    result = asyncio.run(Bench(args).run())
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{result['stem']}.json"
    if not args.no_plot:
        png = args.out / f"{result['stem']}.png"
        try:
            report.plot(result, png)
            result["plot"] = png.name
        except ImportError as exc:
            print(f"no plot: {exc}", file=sys.stderr)
    path.write_text(json.dumps(result, indent=1) + "\n")
    report.table(result)
    print(f"results: {path}")
    return 0
