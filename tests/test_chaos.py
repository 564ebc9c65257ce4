"""Chaos: bots give, drop, get, put, buy and walk while the real server (``python -m mythos
serve``) is killed with SIGKILL at random moments, again and again, on both backends.

After every kill, straight from the database:
- the total of every item prototype is what it was, plus the buys that were acknowledged (and
  perhaps the one each bot had in flight): nothing duplicated, nothing vanished;
- what each bot carries (and keeps in its satchel) is exactly what its acknowledged actions say,
  give or take the one action it had in flight when the server died (in flight: either fully
  done or not at all, for all bots at once);
- each character's saved room is no older than the flush interval plus one pulse.
Before each restart a stale lock file and a half-written journal are left beside the database
(as a crash would); the restart must not care.

``bench/chaos.py`` runs the same with more kills and longer bursts (the soak).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from mythos.store import Store
from mythos.store.migrate import upgrade
from test_cli import child_env
from test_economy import serving as economy_serving
from test_items import db_items

from mudclient import PASSWORD, MudClient

REPO = Path(__file__).resolve().parents[1]
WORLD_DIR = REPO / "data" / "world"
STORE, ROW = "arkham.general_store", "arkham.merchant_row"
ROOM_NAMES = {STORE: "Alden's General Store", ROW: "Merchant Street"}
FLUSH, PULSE = 0.3, 0.1
#: Scheduling slack on a shared test machine, on top of flush interval + pulse.
SLACK = 0.7


def chaos_env(cwd: Path) -> dict[str, str]:
    return child_env(MYTHOS_START_ROOM=STORE, MYTHOS_FLUSH_INTERVAL=str(FLUSH),
                     MYTHOS_PULSE_SECONDS=str(PULSE), MYTHOS_COMMANDS_PER_SECOND="1000",
                     MYTHOS_CHANNEL_RATE_LIMITS="false", MYTHOS_LOG_LEVEL="WARNING",
                     MYTHOS_DATA_DIR=str(cwd),
                     # no NPCs: a fight or a death would move items no bot asked for
                     MYTHOS_NPCS="false")


def serving(db_url: str, cwd: Path):
    """The real server as a process, tuned for the chaos bots."""
    return economy_serving(db_url, cwd, chaos_env(cwd))


Delta = dict[tuple[str, str], int]  # (bot, key) -> change; key: a proto, or "satchel:<proto>"


@dataclass
class Bot:
    name: str
    client: MudClient | None = None
    room: str = STORE
    #: (monotonic time acknowledged, room) of every walk, oldest first.
    rooms: list[tuple[float, str]] = field(default_factory=list)
    #: The action sent and not yet acknowledged: (its effect if done, buys' totals, room).
    inflight: tuple[Delta, Counter[str], str | None] | None = None
    acked: int = 0


@dataclass
class Chaos:
    db_url: str
    cwd: Path
    rng: random.Random
    bots: list[Bot]
    model: Counter[tuple[str, str]] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    mark: itertools.count = field(default_factory=itertools.count)
    kills: int = 0
    actions: int = 0
    effective: int = 0  # acknowledged and done (not refused)

    def other(self, bot: Bot) -> Bot:
        return self.rng.choice([b for b in self.bots if b is not bot])

    async def act(self, bot: Bot) -> None:
        """One action, acknowledged (its answer read up to a marker) or cut off by the kill."""
        c = bot.client
        assert c is not None
        n = bot.name
        roll = self.rng.random()
        move: str | None = None
        if roll < 0.25:
            to = self.other(bot).name
            what = self.rng.choice(["1 coin", "2 coins", "pencil"])
            line = f"give {what} to {to}"
            proto, qty = ("pencil", 1) if what == "pencil" else ("coins", int(what[0]))
            done = rf"You give [^\n]*? to {to}\."
            effect: Delta = {(n, proto): -qty, (to, proto): qty}
        elif roll < 0.4:
            line, done, effect = "drop journal", r"You drop a leather-bound journal\.", {
                (n, "journal"): -1}
        elif roll < 0.55:
            line, done, effect = "get journal", r"You get a leather-bound journal\.", {
                (n, "journal"): 1}
        elif roll < 0.65:
            line, done, effect = ("put journal in satchel", r"You put a leather-bound journal in",
                                  {(n, "satchel:journal"): 1})
        elif roll < 0.75:
            line, done, effect = ("get journal from satchel",
                                  r"You get a leather-bound journal from", {
                                      (n, "satchel:journal"): -1})
        elif roll < 0.88:
            line, done, effect = "buy candle", r"You buy a tallow candle for 1 coin\.", {
                (n, "candle"): 1, (n, "coins"): -1}
        else:
            move = ROW if bot.room == STORE else STORE
            way = "south" if move == ROW else "north"
            c.send(f"open {way}")
            line, done, effect = way, re.escape(ROOM_NAMES[move]), {}
        buys = Counter({"candle": 1, "coins": -1}) if line == "buy candle" else Counter()
        mark = f"mark{next(self.mark)}"
        bot.inflight = (effect, buys, move)
        start = len(c.text_plain)
        c.send(line)
        c.send(f"say {mark}")
        try:
            m = await c.expect(rf"You say, '{mark}'", timeout=10)
            answer = c.text_plain[start:m.start()]
        except AssertionError:  # the server died: still in flight, unless its answer came
            answer = c.text_plain[start:]
            if not re.search(done, answer):
                raise
        bot.inflight = None
        bot.acked += 1
        self.actions += 1
        if re.search(done, answer):
            self.effective += 1
            self.model.update(effect)
            self.totals.update(buys)
            if move is not None:
                bot.room = move
                bot.rooms.append((time.monotonic(), move))

    async def burst(self, bot: Bot) -> None:
        c = bot.client
        assert c is not None
        with contextlib.suppress(AssertionError, ConnectionError):
            while not c.closed:
                await self.act(bot)

    async def check(self, store: Store, killed_at: float, baseline: bool = False) -> None:
        """The database after a kill against the acknowledged actions."""
        rows = await db_items(store)
        totals: Counter[str] = Counter()
        for r in rows:
            totals[r.proto] += r.quantity
        carried: Counter[tuple[str, str]] = Counter()
        saved_room: dict[str, str] = {}
        for bot in self.bots:
            char = await store.get_character(bot.name)
            assert char is not None
            saved_room[bot.name] = char.room_id
            owners = {f"char:{char.id}"}
            satchels: set[str] = set()
            frontier = [r for r in rows if r.owner in owners]
            while frontier:
                nxt = []
                for r in frontier:
                    inside = f"item:{r.id}"
                    if r.proto == "satchel" and r.owner == f"char:{char.id}":
                        satchels.add(inside)
                    carried[(bot.name, r.proto)] += r.quantity
                    nxt.extend(x for x in rows if x.owner == inside)
                frontier = nxt
            for r in rows:
                if r.owner in satchels:
                    carried[(bot.name, f"satchel:{r.proto}")] += r.quantity
        if baseline:
            self.model = carried
            self.totals = totals
            return
        flying = [b for b in self.bots if b.inflight is not None]
        fits = []
        for k in range(len(flying) + 1):
            for done in itertools.combinations(flying, k):
                model = Counter(self.model)
                want = Counter(self.totals)
                for b in done:
                    assert b.inflight is not None
                    model.update(b.inflight[0])
                    want.update(b.inflight[1])
                if _same(model, carried) and _same(want, totals):
                    fits.append((done, model, want))
        assert fits, (f"after kill {self.kills}: the database matches no outcome of the "
                      f"acknowledged actions\n carried {sorted(carried.items())}\n model "
                      f"{sorted(self.model.items())}\n in flight "
                      f"{[(b.name, b.inflight) for b in flying]}\n totals {totals}\n "
                      f"expected {self.totals}")
        _, self.model, self.totals = fits[0]
        for bot in self.bots:
            # The saved room: one reached no earlier than flush + pulse before the kill.
            window = killed_at - (FLUSH + PULSE + SLACK)
            recent = [room for t, room in bot.rooms if t >= window]
            older = [room for t, room in bot.rooms if t < window]
            allowed = set(recent) | {older[-1] if older else STORE}
            if bot.inflight is not None and bot.inflight[2] is not None:
                allowed.add(bot.inflight[2])
            assert saved_room[bot.name] in allowed, (bot.name, saved_room[bot.name], allowed)
            bot.room = saved_room[bot.name]
            bot.rooms = [(killed_at, bot.room)]
            bot.inflight = None


def _same(a: Counter, b: Counter) -> bool:
    keys = set(a) | set(b)
    return all(a.get(k, 0) == b.get(k, 0) for k in keys)


async def backends_gone(db_url: str, timeout: float = 10.0) -> None:
    """Wait until the killed server's PostgreSQL sessions have ended.

    SIGKILL ends the server, not the database's side of its connections: a COMMIT that had
    reached PostgreSQL still lands, a moment later. Reading before then may miss a move that
    the database is about to keep (and the next start will find). Each backend ends once it has
    finished its statement and seen the socket closed."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        return
    admin = await asyncpg.connect(url.set(drivername="postgresql")
                                  .render_as_string(hide_password=False), timeout=3)
    try:
        async with asyncio.timeout(timeout):
            while await admin.fetchval(  # noqa: ASYNC110 (PostgreSQL tells no one; poll it)
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"):
                await asyncio.sleep(0.02)
    finally:
        await admin.close()


def leave_debris(db_url: str, cwd: Path) -> None:
    """What a crash may leave: a stale lock file, and (SQLite) a torn rollback journal."""
    (cwd / "mythos.lock").write_text("12345\n")
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database + "-journal").write_bytes(b"\x00" * 17)


async def login_bot(bot: Bot, port: int, create: bool) -> None:
    c = await MudClient.connect("127.0.0.1", port)
    await c.expect("By what name")
    c.send(f"{'create' if create else 'connect'} {bot.name} {PASSWORD}")
    await c.expect("Exits:", timeout=15)
    bot.client = c


async def run_chaos(db_url: str, cwd: Path, kills: int, burst: tuple[float, float],
                    seed: int, nbots: int = 3) -> Chaos:
    await asyncio.to_thread(upgrade, db_url)
    chaos = Chaos(db_url, cwd, random.Random(seed),
                  [Bot(f"Chaos{chr(ord('a') + i)}") for i in range(nbots)])
    for round_ in range(kills + 1):
        if round_:
            await asyncio.to_thread(leave_debris, db_url, cwd)
        async with serving(db_url, cwd) as (proc, port):
            await asyncio.gather(*(login_bot(b, port, create=not round_) for b in chaos.bots))
            if round_ == 0:  # the starting kits, as committed
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
                await backends_gone(db_url)
            else:
                tasks = [asyncio.create_task(chaos.burst(b)) for b in chaos.bots]
                await asyncio.sleep(chaos.rng.uniform(*burst))
                proc.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
                chaos.kills += 1
                await backends_gone(db_url)
                await asyncio.gather(*tasks)
        for b in chaos.bots:
            if b.client is not None:
                b.client.abort()
        store = await Store.open(db_url)
        try:
            if round_ == 0:  # the model starts from the kits, as committed
                await chaos.check(store, time.monotonic(), baseline=True)
            else:
                await chaos.check(store, killed_at)
        finally:
            await store.close()
    return chaos


@pytest.mark.parametrize("kills", [10])
async def test_sigkill_at_random_moments_loses_and_duplicates_nothing(db_url, tmp_path, kills):
    chaos = await run_chaos(db_url, tmp_path, kills=kills, burst=(0.2, 0.8),
                            seed=hash(db_url) & 0xFFFF)
    assert chaos.kills == kills
    assert chaos.effective >= kills  # the bots got things done between kills
    print(f"chaos: {chaos.kills} kills survived, {chaos.actions} actions acknowledged, "
          f"{chaos.effective} of them economy moves or walks checked")
