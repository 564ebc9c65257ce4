"""Items are never lost and never duplicated: conditional transactions at the database, players
racing for the same thing, a hundred gives at once, a database that fails mid-game, a server
killed right after it answered, and containers' contents across restarts. Both backends."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mythos.engine.economy import Busy
from mythos.store import NameTaken, Store
from mythos.store.items import Create, Delete, ItemConflict, ItemStore, Move, Ref
from mythos.store.migrate import upgrade
from mythos.world import load_world
from mythos.world.items import walk as walk_items
from test_cli import child_env
from test_items import char_of, db_items, grant, say, walk
from test_store import outage

from mudclient import PASSWORD, MudClient, login

REPO = Path(__file__).resolve().parents[1]
WORLD_DIR = REPO / "data" / "world"
CATALOGUE = "miskatonic.library.catalogue"


@pytest.fixture
async def fast_server(db_url, start_server):
    return await start_server(db_url, commands_per_second=1000)


# -- the conditional update itself ----------------------------------------------------------------

async def test_conditional_moves_at_the_database(db_url):
    await asyncio.to_thread(upgrade, db_url)
    store = await Store.open(db_url)
    try:
        ledger = ItemStore.of(store)
        [lamp, coins] = await ledger.transact([Create("lantern", "room:x"),
                                               Create("coins", "room:x", 10)])
        assert lamp is not None and coins is not None
        # Two owners race for one lantern: exactly one move commits.
        results = await asyncio.gather(
            *(ledger.transact([Move(lamp, "room:x", f"char:{n}")]) for n in range(1, 6)),
            return_exceptions=True)
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, ItemConflict) for r in results if isinstance(r, Exception))
        owner = (await ledger.load_items([lamp]))[0].owner
        assert owner in {f"char:{n}" for n in range(1, 6)}
        # A transaction whose second step finds the world changed keeps none of its steps.
        with pytest.raises(ItemConflict):
            await ledger.transact([Move(coins, "room:x", "char:1"),
                                   Delete(lamp, "room:x", 1)])
        assert (await ledger.load_items([coins]))[0].owner == "room:x"
        with pytest.raises(ItemConflict):  # the stack must hold exactly that many
            await ledger.transact([Move(coins, "room:x", "char:2", quantity=9)])
        # A container and its contents in one go; the contents name it by Ref.
        made = await ledger.transact([Create("satchel", "char:1"), Create("journal", Ref(0))])
        assert [r.owner for r in await ledger.load_items([made[1]])] == [f"item:{made[0]}"]
        assert {r.id for r in await ledger.load_character(1)} >= {made[0], made[1]}
    finally:
        await store.close()


async def test_the_kit_is_made_with_the_character_or_not_at_all(db_url):
    await asyncio.to_thread(upgrade, db_url)
    store = await Store.open(db_url)
    try:
        kit = [("journal", 1, None), ("satchel", 1, "belt"), ("coins", 20, None)]
        _, row = await store.create_account_with_character(
            "Kitty", "hash", "player", "journalist", "arkham.square", 10, 10, {}, kit=kit)
        assert sorted((r.proto, r.quantity, r.slot) for r in row.items) == sorted(kit)
        again = await store.get_character("Kitty")
        assert again is not None and sorted(r.id for r in again.items) == sorted(
            r.id for r in row.items)
        with pytest.raises(NameTaken):
            await store.create_account_with_character(
                "KITTY", "hash", "player", "journalist", "arkham.square", 10, 10, {}, kit=kit)
        assert len(await db_items(store)) == len(kit)  # the refused one made nothing
    finally:
        await store.close()


# -- racing players -------------------------------------------------------------------------------

async def test_two_players_grab_the_same_item(fast_server):
    app = fast_server
    ann = await login(app, "Grabber")
    bob = await login(app, "Snatcher")
    room = app.game.world.start_room
    for _ in range(3):
        [lamp] = await grant(app, "lantern", to=room)
        for c in (ann, bob):
            await c.expect_gmcp("Char.Items.Add", where=lambda d, i=lamp.id: d["item"]["id"]
                                == str(i))
        ann.send("get lantern")
        bob.send("get lantern")
        answer = r"(You get a brass lantern\.|You don't see that here\.)"
        got = [(await c.expect(answer)).group(1) for c in (ann, bob)]
        assert sorted(got) == ["You don't see that here.", "You get a brass lantern."], got
        winner = (ann, bob)[got.index("You get a brass lantern.")]
        name = "Grabber" if winner is ann else "Snatcher"
        rows = await db_items(app.store, id=lamp.id)
        assert [r.owner for r in rows] == [f"char:{char_of(app, name).id}"]
        assert lamp in char_of(app, name).items
        assert lamp not in app.game.world.rooms[room].items
    lanterns = await db_items(app.store, proto="lantern")
    assert len(lanterns) == 3  # one per round, none lost, none copied
    assert all(r.owner.startswith("char:") for r in lanterns)
    await asyncio.gather(ann.close(), bob.close())


def _totals(rows) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in rows:
        out[r.proto] += r.quantity
    return out


async def test_a_hundred_concurrent_gives_keep_every_item(fast_server):
    app = fast_server
    names = [f"Giver{chr(ord('a') + i)}" for i in range(10)]
    clients = [await login(app, n) for n in names]
    before = await db_items(app.store)
    assert _totals(before)["coins"] >= 200
    # Every player fires ten gives at the next one, all at once: coins (stacks split and
    # joined), the journal and the pencil (whole things passed on, perhaps already gone).
    for i, c in enumerate(clients):
        to = names[(i + 1) % len(names)]
        for k in range(10):
            what = ("1 coin", "journal", "3 coins", "pencil", "coins")[k % 5]
            c.send(f"give {what} to {to}")
        c.send("say done")
    for c in clients:
        await c.expect("You say, 'done'", timeout=30)
    after = await db_items(app.store)
    assert _totals(after) == _totals(before)
    assert len({r.id for r in after}) == len(after)
    # Memory agrees with the database, thing by thing.
    in_memory = {}
    for n in names:
        for item in walk_items(char_of(app, n).items):
            in_memory[item.id] = (item.proto.id, item.quantity)
    in_db = {r.id: (r.proto, r.quantity) for r in after if r.id in in_memory}
    assert in_memory == in_db
    assert {r.id for r in after if r.owner.startswith("char:")} <= in_memory.keys()
    await asyncio.gather(*(c.close() for c in clients))


async def test_item_actions_wait_only_for_their_own_room_and_character(fast_server):
    """An action holds the economy for its character and room only: one in another room
    goes ahead while a turn holds this one; a whole-economy turn holds up everything."""
    app = fast_server
    world, economy = app.game.world, app.game.economy
    here = world.rooms[world.start_room]
    ann = await login(app, "Stayer")
    bob = await login(app, "Wanderer")
    await walk(bob, world, here.id, "arkham.garrison_st")
    async with economy.turn(here):  # someone's action in Ann's room, waiting for the database
        await bob.command("drop 1 coin", say("You drop a coin."), timeout=3)
        ann.send("drop 1 coin")
        with pytest.raises(AssertionError, match="waiting for"):
            await ann.expect(say("You drop a coin."), timeout=0.5)
    await ann.expect(say("You drop a coin."))  # her turn came as that one ended
    # /metrics shows how long actions waited for their turns: hers, half a second and more.
    waited = app.metrics.registry.get_sample_value
    assert waited("mythos_economy_turn_wait_seconds_count") >= 3
    assert waited("mythos_economy_turn_wait_seconds_sum") >= 0.5
    assert waited("mythos_economy_turn_wait_seconds_bucket", {"le": "0.25"}) < \
        waited("mythos_economy_turn_wait_seconds_count")
    async with economy.turn():  # the whole economy: nobody's action goes meanwhile
        bob.send("get coin")
        with pytest.raises(AssertionError, match="waiting for"):
            await bob.expect(say("You get a coin."), timeout=0.5)
    await bob.expect(say("You get a coin."))
    # No turn in time: refused ("busy"), and nothing is left held or queued by it.
    async with economy.turn(here):
        with pytest.raises(Busy):
            async with economy.turn(app.game.online["stayer"], here, wait=0.2):
                raise AssertionError("a turn while the room's is held")
        assert economy._turns.waiting == 0
    assert economy._turns.active == [] and economy._turns.waiting == 0
    await ann.command("drop 1 coin", say("You drop a coin."))
    await asyncio.gather(ann.close(), bob.close())


async def test_busy_rooms_side_by_side_keep_every_item(fast_server):
    """Players in two rooms drop, pick up and pass coins to each other all at once: their
    actions run side by side (a room each), and nothing is lost, copied, or out of step
    between memory and the database."""
    app = fast_server
    world = app.game.world
    rooms = [world.start_room, "arkham.garrison_st"]
    names = [f"Busy{chr(ord('a') + i)}" for i in range(8)]
    clients = [await login(app, n) for n in names]
    for c in clients[4:]:
        await walk(c, world, rooms[0], rooms[1])
    before = _totals(await db_items(app.store))
    for i, c in enumerate(clients):
        mate = names[i ^ 1]  # a partner in the same room
        for k in range(8):
            c.send(("drop 2 coins", "get coins", f"give 1 coin to {mate}", "drop journal",
                    "get journal", f"give pencil to {mate}", "get all", "drop 1 coin")[k])
        c.send("say done")
    for c in clients:
        await c.expect("You say, 'done'", timeout=30)
    await app.game.economy.settled()
    after = await db_items(app.store)
    assert _totals(after) == before
    in_memory = {}
    for n in names:
        for item in walk_items(char_of(app, n).items):
            in_memory[item.id] = (item.proto.id, item.quantity)
    for rid in rooms:
        for item in walk_items(world.rooms[rid].items):
            in_memory[item.id] = (item.proto.id, item.quantity)
    in_db = {r.id: (r.proto, r.quantity) for r in after if r.id in in_memory}
    assert in_memory == in_db
    owned = {r.id for r in after
             if r.owner.startswith("char:") or r.owner in {f"room:{x}" for x in rooms}}
    assert owned <= in_memory.keys()
    await asyncio.gather(*(c.close() for c in clients))


# -- a database that fails ------------------------------------------------------------------------

async def test_a_failed_commit_moves_nothing(db_url, start_server):
    app = await start_server(db_url, commands_per_second=1000, db_busy_timeout=0.3)
    ann = await login(app, "Faltering")
    char = char_of(app, "Faltering")
    journal = next(i for i in char.items if i.proto.id == "journal")
    async with outage(db_url):
        await ann.command("drop journal", say("The archives are unreachable just now; nothing "
                                              "moved."), timeout=15)
        await ann.command("i", "a leather-bound journal")
    assert journal in char.items and journal.parent is char
    assert journal not in app.game.world.rooms[char.room_id].items
    assert [r.owner for r in await db_items(app.store, id=journal.id)] == [f"char:{char.id}"]
    await ann.command("drop journal", say("You drop a leather-bound journal."), timeout=15)
    assert [r.owner for r in await db_items(app.store, id=journal.id)] == [
        f"room:{char.room_id}"]
    sample = app.metrics.registry.get_sample_value
    assert sample("mythos_item_transactions_total", {"result": "failed"}) == 1
    assert sample("mythos_item_transactions_total", {"result": "committed"}) >= 1
    await ann.close()


# -- killed right after answering -----------------------------------------------------------------

@contextlib.asynccontextmanager
async def serving(db_url: str, cwd: Path, env: dict[str, str] | None = None
                  ) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``python -m mythos serve`` on ``db_url`` (environment ``env``, default ``child_env()``)
    until it says where to connect; yields the process and its telnet port. Killed at the end
    if still running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mythos", "serve", "--world", str(WORLD_DIR), "--host",
        "127.0.0.1", "--telnet-port", "0", "--web-port", "0", "--database-url", db_url,
        cwd=cwd, env=env or child_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        out = ""
        async with asyncio.timeout(30):
            while "Press Ctrl-C" not in out:
                line = await proc.stdout.readline()
                assert line, f"mythos serve ended early:\n{out}"
                out += line.decode()
        m = re.search(r"telnet \S+ (\d+)", out)
        assert m, out
        drain = asyncio.get_running_loop().create_task(proc.stdout.read())
        yield proc, int(m[1])
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def kill(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL


async def enter(port: int, name: str, create: bool = False) -> tuple[MudClient, str]:
    """Log in over telnet; the client and the room it woke in."""
    c = await MudClient.connect("127.0.0.1", port)
    await c.expect("By what name")
    c.send(f"{'create' if create else 'connect'} {name} {PASSWORD}")
    info = await c.expect_gmcp("Room.Info", timeout=10)
    await c.expect("Exits:")
    return c, info["num"]


async def rows(db_url: str, **where) -> list:
    store = await Store.open(db_url)
    try:
        return await db_items(store, **where)
    finally:
        await store.close()


async def test_killed_after_answering_drop_put_and_buy(db_url, tmp_path):
    """SIGKILL the server right after it answered a drop, a put into a room container and a
    buy: after each restart the thing is where the answer said, once."""
    await asyncio.to_thread(upgrade, db_url)
    world = await asyncio.to_thread(load_world, WORLD_DIR)
    async with serving(db_url, tmp_path) as (proc, port):
        c, here = await enter(port, "Crasher", create=True)
        await c.command("drop journal", say("You drop a leather-bound journal."))
        await kill(proc)
    journals = await rows(db_url, proto="journal")
    assert [r.owner for r in journals] == [f"room:{world.start_room}"]
    owner = (await rows(db_url, proto="camera"))[0].owner  # "char:<id>"

    async with serving(db_url, tmp_path) as (proc, port):
        c, here = await enter(port, "Crasher")
        c.send("look")
        m = await c.expect(r"(?s)Exits:(.*?)\[HP")
        assert m.group(1).count("A leather-bound journal lies here") == 1 and "(x" not in m[1]
        await walk(c, world, here, CATALOGUE)
        await c.command("open catalogue", "You open the card catalogue cabinet.")
        await c.command("put camera in catalogue", say("You put a folding camera in the card "
                                                      "catalogue cabinet."))
        await kill(proc)
    cameras = await rows(db_url, proto="camera")
    catalogue = [r for r in await rows(db_url, proto="card_catalogue")]
    assert len(catalogue) == 1
    assert [r.owner for r in cameras] == [f"item:{catalogue[0].id}"]

    async with serving(db_url, tmp_path) as (proc, port):
        c, here = await enter(port, "Crasher")
        await walk(c, world, here, CATALOGUE)
        await c.command("open catalogue", "You open the card catalogue cabinet.")
        m = await c.command("look in catalogue", r"(?s)In the card catalogue cabinet:(.*?)\(")
        assert m.group(1).count("a folding camera") == 1
        await walk(c, world, CATALOGUE, "arkham.general_store")
        await c.command("buy lantern", say("You buy a brass lantern for 12 coins."))
        await kill(proc)
    assert [r.owner for r in await rows(db_url, proto="lantern")] == [owner]
    assert [r.quantity for r in await rows(db_url, proto="coins", owner=owner)] == [8]

    async with serving(db_url, tmp_path) as (proc, port):
        c, here = await enter(port, "Crasher")
        m = await c.command("inventory", r"(?s)You are carrying:(.*?)\(")
        assert m.group(1).count("a brass lantern") == 1 and "8 coins" in m.group(1)
        await c.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


# -- across a clean restart -----------------------------------------------------------------------

async def test_container_contents_survive_a_restart(db_url, start_server):
    app = await start_server(db_url, commands_per_second=1000)
    world = app.game.world
    ann = await login(app, "Keeper")
    await ann.command("put journal in satchel", "You put a leather-bound journal")
    await walk(ann, world, world.start_room, CATALOGUE)
    await ann.command("open catalogue", "You open")
    await ann.command("put camera in catalogue", "You put a folding camera")
    await ann.command("get desk key from catalogue", "You get a small brass desk key")
    await walk(ann, world, CATALOGUE, "arkham.wharf")
    await ann.command("get crowbar", "You get an iron crowbar")
    seeded = await ItemStore.of(app.store).seeds()
    assert set(seeded) == {p.id for p in world.placements}
    await ann.close()
    await app.stop()

    app = await start_server(db_url, commands_per_second=1000)
    world = app.game.world
    assert set(await ItemStore.of(app.store).seeds()) == set(seeded)  # nothing seeded twice
    ann = await login(app, "Keeper", create=False)
    await ann.command("look in satchel", r"In the leather satchel:\s+a leather-bound journal")
    m = await ann.command("i", r"(?s)You are carrying:(.*?)things in hand")
    assert "a small brass desk key" in m[1] and "an iron crowbar" in m[1]
    assert char_of(app, "Keeper").room_id == "arkham.wharf"
    await ann.command("look", "Exits:")
    assert "iron crowbar" not in ann.unread  # seeded once: taken is taken
    assert await db_items(app.store, owner="room:arkham.wharf") == []
    await walk(ann, world, "arkham.wharf", CATALOGUE)
    await ann.command("open catalogue", "You open")
    await ann.command("look in catalogue", r"(?s)In the card catalogue cabinet:.*a folding camera")
    cabinet = next(i for i in world.rooms[CATALOGUE].items if i.proto.id == "card_catalogue")
    kept = Counter({r.proto: r.quantity for r in await db_items(app.store,
                                                              owner=f"item:{cabinet.id}")})
    # the camera left there is kept; the desk key taken is put back (the file says refill);
    # the rest is as seeded, not seeded again
    assert kept == Counter({"index_cards": 12, "pencil": 1, "key_desk": 1, "camera": 1})
    assert len(await db_items(app.store, proto="key_desk")) == 2
    await ann.close()
