"""Items through the front door: every item and shop command, its success and its refusals,
over real telnet sessions, on SQLite and PostgreSQL; what the database holds after each move;
the GMCP Char.Items messages; and the rules' arithmetic where telnet would be roundabout."""

from __future__ import annotations

import asyncio
import gc
import re
from collections import Counter, deque
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import query
from mythos.engine.economy import Txn
from mythos.rules import items as rules
from mythos.rules.character import STARTING_KITS
from mythos.store.items import items as items_table
from mythos.world.items import ContainerState, Item, ItemProto
from mythos.world.model import Character, DoorState, World

from mudclient import MudClient, login

# -- helpers (test_economy.py uses them too) ------------------------------------------------------


@pytest.fixture
async def game_server(db_url, start_server):
    """A server on each backend whose rate limit stays out of the way of quick typing."""
    return await start_server(db_url, commands_per_second=1000)


def char_of(app: Any, name: str) -> Character:
    return app.game.online[name.lower()]


async def grant(app: Any, proto_id: str, quantity: int = 1, *, to: Any,
                slot: str | None = None) -> list[Item]:
    """Make things for a test through the economy itself (one committed transaction):
    ``to`` is a character's name, a room id or a container ``Item``."""
    game = app.game
    if isinstance(to, str):
        to = game.online[to.lower()] if to.lower() in game.online else game.world.rooms[to]
    proto = game.world.protos[proto_id]
    async with game.economy.turn():
        txn = Txn()
        if proto.stack:
            txn.create(proto, quantity, to, slot)
        else:
            for _ in range(quantity):
                txn.create(proto, 1, to, slot)
        assert await game.economy.commit(txn) is None
    return txn.arrived


async def db_items(store: Any, **where: Any) -> list[Any]:
    """Rows of the items table (straight from the database), filtered by column values."""
    c = items_table.c
    q = sa.select(c.id, c.proto, c.owner, c.quantity, c.slot).order_by(c.id)
    for col, value in where.items():
        q = q.where(getattr(c, col) == value)
    return await query(store, q)


def path_between(world: World, start: str, target: str) -> list[str]:
    """Directions from ``start`` to ``target`` through visible exits and doors that are not
    locked (closed ones get opened on the way)."""
    seen = {start}
    todo: deque[tuple[str, list[str]]] = deque([(start, [])])
    while todo:
        here, path = todo.popleft()
        if here == target:
            return path
        for ex in world.rooms[here].visible_exits():
            if ex.door is not None and ex.door.state is DoorState.LOCKED:
                continue
            if ex.to not in seen:
                seen.add(ex.to)
                todo.append((ex.to, [*path, ex.direction]))
    raise AssertionError(f"no way from {start} to {target}")


async def walk(c: MudClient, world: World, start: str, target: str) -> None:
    """Walk a client from ``start`` to ``target``, opening closed doors on the way."""
    here = start
    for d in path_between(world, start, target):
        ex = world.rooms[here].exits[d]
        if ex.door is not None:
            await c.command(f"open {d}", r"You open the |is already open")
        here = ex.to
        c.send(d)
        await c.expect_gmcp("Room.Info", where=lambda info, h=here: info["num"] == h)


def say(text: str) -> str:
    return re.escape(text)


# -- carrying: inventory, equipment, get, drop --------------------------------------------------

async def test_inventory_get_drop_and_stacks(game_server):
    app = game_server
    ann = await login(app, "Annabel")
    bob = await login(app, "Bobbie")
    inv = await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "inv")
    by_name = {i["name"]: i for i in inv["items"]}
    kit = STARTING_KITS["journalist"]
    assert len(inv["items"]) == len(kit)
    assert by_name["a leather satchel"]["slot"] == "belt" and "c" in by_name[
        "a leather satchel"]["attrib"] and "w" in by_name["a leather satchel"]["attrib"]
    assert by_name["20 coins"]["quantity"] == 20
    room_list = await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "room")
    assert room_list["items"] == []

    await ann.command("inventory", r"You are carrying:(?s:.*)a leather-bound journal(?s:.*)"
                                   r"20 coins(?s:.*)things in hand")
    await ann.command("i", "a folding camera")
    await ann.command("equipment", r"<on head>\s+a grey fedora(?s:.*)<at belt>\s+a leather satchel")

    # drop: the room sees it, the floor shows it, the database has it on the floor
    await ann.command("drop journal", say("You drop a leather-bound journal."))
    await bob.expect(say("Annabel drops a leather-bound journal."))
    added = await bob.expect_gmcp("Char.Items.Add", where=lambda d: d["location"] == "room")
    journal_id = int(added["item"]["id"])
    await bob.command("look", say("A leather-bound journal lies here, closed with a ribbon."))
    square = f"room:{app.game.world.start_room}"
    assert [r.owner for r in await db_items(app.store, id=journal_id)] == [square]

    # get: Bob takes it, Ann sees it go
    await bob.command("get journal", say("You get a leather-bound journal."))
    await ann.expect(say("Bobbie gets a leather-bound journal."))
    await ann.expect_gmcp("Char.Items.Remove",
                          where=lambda d: d["location"] == "room" and d["item"]["id"] == str(
                              journal_id))
    bob_id = char_of(app, "Bobbie").id
    assert [r.owner for r in await db_items(app.store, id=journal_id)] == [f"char:{bob_id}"]

    # refusals change nothing
    await ann.command("get journal", say("You don't see that here."))
    await ann.command("drop unicorn", say("You aren't carrying that."))
    await ann.command("get", say("Get what?"))
    await ann.command("drop", say("Drop what?"))
    await ann.command("drop 0 coins", say("Drop what?"))
    await ann.command("take journal", say("You don't see that here."))

    # stacks: split, count, merge back into one stack
    await ann.command("drop 5 coins", say("You drop 5 coins."))
    await ann.command("look", say("5 coins lie here."))
    await ann.command("get 2 coins", say("You get 2 coins."))
    await ann.command("get 9 coins", say("There are only 3 coins."))
    await ann.command("get coins", say("You get 3 coins."))
    ann_c = char_of(app, "Annabel")
    assert rules.money(ann_c) == 20
    coins = await db_items(app.store, proto="coins", owner=f"char:{ann_c.id}")
    assert [r.quantity for r in coins] == [20]  # one stack, not three
    assert await db_items(app.store, proto="coins", owner=square) == []

    # 2.candle, all.candle, counts of things that do not stack
    candles = await grant(app, "candle", 3, to="Annabel")
    await ann.command("drop 2.candle", say("You drop a tallow candle."))
    assert [i for i in app.game.world.rooms[app.game.world.start_room].items] == [candles[1]]
    await ann.command("drop all.candle", r"You drop a tallow candle\.\s+You drop a tallow candle")
    await ann.command("look", say("A stub of tallow candle lies here. (x3)"))
    await ann.command("get 2 candles", r"You get a tallow candle\.\s+You get a tallow candle\.")
    await ann.command("get 4 candles", say("There aren't 4 of those."))
    await ann.command("get all", say("You get a tallow candle."))
    await ann.command("get all", say("There is nothing here to take."))
    await ann.command("drop all", r"You drop 20 coins\.(?s:.*)(You drop a tallow candle\."
                                  r"(?s:.*)){3}")
    assert [i for i in ann_c.items if i.slot is None] == []
    await ann.command("get all", r"You get (?s:.*)You get 20 coins\.")
    await asyncio.gather(ann.close(), bob.close())


async def test_item_moves_leave_nothing_for_the_garbage_collector(game_server):
    # A transaction is freed as soon as it is done: its effects are not closures over it,
    # whose reference cycles only the collector would free (at 2,500 playing bots, a pass of
    # 70 ms a minute that held the loop: docs/PERFORMANCE.md).
    ann = await login(game_server, "Annabel")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds unreachable stays in gc.garbage
    try:
        for _ in range(3):
            await ann.command("drop 5 coins", say("You drop 5 coins."))
            await ann.command("get coins", say("You get 5 coins."))  # split, then joined
            await ann.command("drop journal", say("You drop a leather-bound journal."))
            await ann.command("get journal", say("You get a leather-bound journal."))
            await ann.command("put journal in satchel", "You put a leather-bound journal in")
            await ann.command("get journal from satchel", "You get a leather-bound journal")
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left["Txn"] == 0, left.most_common(10)


async def test_hands_full_and_too_heavy(game_server):
    app = game_server
    ann = await login(app, "Hortense")
    char = char_of(app, "Hortense")
    room = app.game.world.start_room
    # hands: fill them to the limit, then one more on the floor is refused
    free = rules.carry_slots(char) - len(rules.carried(char))
    await grant(app, "candle", free, to="Hortense")
    await grant(app, "lantern", 1, to=room)
    await ann.command("get lantern", say(rules.HANDS_FULL))
    await ann.command("remove fedora", say(rules.HANDS_FULL))
    # a stack joins the one in hand: no new slot needed
    await grant(app, "coins", 5, to=room)
    await ann.command("get coins", say("You get 5 coins."))
    await ann.command("drop all.candle", "You drop a tallow candle")
    await ann.command("get lantern", say("You get a brass lantern."))
    # weight: a backpack of crowbars on the back, then one crowbar too many
    pack = (await grant(app, "backpack", to="Hortense", slot="back"))[0]
    await grant(app, "crowbar", 8, to=pack)
    while rules.load(char) + 5 <= rules.carry_weight(char):
        await grant(app, "crowbar", 1, to="Hortense")
    await grant(app, "crowbar", 1, to=room)
    await ann.command("get crowbar", say(rules.TOO_HEAVY))
    # taking something out of your own backpack adds no weight: only hands count
    await ann.command("get crowbar from backpack", say("You get an iron crowbar from the "
                                                       "canvas backpack."))
    await ann.close()


# -- giving ---------------------------------------------------------------------------------------

async def test_give(game_server):
    app = game_server
    ann = await login(app, "Agatha")
    bob = await login(app, "Barnabas")
    cy = await login(app, "Cyrus")
    await ann.command("give journal to Barnabas", say("You give a leather-bound journal to "
                                                     "Barnabas."))
    await bob.expect(say("Agatha gives you a leather-bound journal."))
    await cy.expect(say("Agatha gives a leather-bound journal to Barnabas."))
    added = await bob.expect_gmcp("Char.Items.Add", where=lambda d: d["location"] == "inv")
    assert added["item"]["name"] == "a leather-bound journal"
    await ann.expect_gmcp("Char.Items.Remove", where=lambda d: d["location"] == "inv")
    await ann.command("give 10 coins to barn", say("You give 10 coins to Barnabas."))
    await bob.expect(say("Agatha gives you 10 coins."))
    await bob.expect_gmcp("Char.Items.Update",
                          where=lambda d: d["item"].get("quantity") == 30)
    assert rules.money(char_of(app, "Barnabas")) == 30
    assert rules.money(char_of(app, "Agatha")) == 10
    await ann.command("give pencil Cyrus", say("You give a stub of pencil to Cyrus."))
    # refusals
    await ann.command("give journal to Barnabas", say("You aren't carrying that."))
    await ann.command("give camera to Nobody", say("There is no one like that here."))
    await ann.command("give camera to Agatha", say("You already have it."))
    await ann.command("give 99 coins to Cyrus", say("There are only 10 coins."))
    await ann.command("give", say("Give what to whom?"))
    cy_char = char_of(app, "Cyrus")
    await grant(app, "candle", rules.carry_slots(cy_char) - len(rules.carried(cy_char)),
                to="Cyrus")
    await ann.command("give camera to Cyrus", say("Cyrus's hands are full."))
    await ann.command("give 3 coins to Cyrus", say("You give 3 coins to Cyrus."))  # joins
    await ann.command("i", "a folding camera")
    await ann.command("give fedora to Barnabas", say("You are using the grey fedora; remove it "
                                                     "first."))
    await asyncio.gather(ann.close(), bob.close(), cy.close())


async def test_a_thing_that_will_not_be_let_go(game_server):
    app = game_server
    ann = await login(app, "Ignatius")
    bob = await login(app, "Jerusha")
    await grant(app, "forbidden_book", to="Ignatius")
    no = say("You can't let go of the worm-eaten Latin folio.")
    await ann.command("drop folio", no)
    await ann.command("give folio to Jerusha", no)
    await walk(ann, app.game.world, app.game.world.start_room, "arkham.general_store")
    await ann.command("sell folio", say("Ezra Alden won't buy the worm-eaten Latin folio."))
    await ann.command("drop all", r"You drop 20 coins\.")
    await ann.command("get all", r"You get 20 coins\.")
    # into a bag of your own it may go: it is still with you
    await ann.command("put folio in satchel", say("You put a worm-eaten Latin folio in the "
                                                 "leather satchel."))
    char = char_of(app, "Ignatius")
    book = next(i for i in char.items if i.proto.id == "satchel").contents[0]
    assert book.proto.id == "forbidden_book"
    assert [r.owner for r in await db_items(app.store, id=book.id)] == [
        f"item:{book.parent.id}"]
    await asyncio.gather(ann.close(), bob.close())


# -- containers, keys and doors -------------------------------------------------------------------

async def test_worn_container_put_get_look_in(game_server):
    app = game_server
    ann = await login(app, "Eudora")
    bob = await login(app, "Fenwick")
    await ann.command("look in satchel", say("The leather satchel is empty."))
    await ann.command("put journal in satchel", say("You put a leather-bound journal in the "
                                                   "leather satchel."))
    await bob.expect(say("Eudora puts a leather-bound journal in a leather satchel."))
    satchel = next(i for i in char_of(app, "Eudora").items if i.proto.id == "satchel")
    await ann.expect_gmcp("Char.Items.Add", where=lambda d: d["location"] == str(satchel.id))
    await ann.command("put 5 coins into satchel", say("You put 5 coins in the leather satchel."))
    await ann.command("look in satchel", r"In the leather satchel:\s+a leather-bound journal\s+"
                                         r"5 coins")
    await ann.command("examine satchel", r"(?s)You are wearing it at your belt\..*It can hold 6 "
                                         r"things.*a leather-bound journal")
    rows = await db_items(app.store, owner=f"item:{satchel.id}")
    assert sorted((r.proto, r.quantity) for r in rows) == [("coins", 5), ("journal", 1)]
    # GMCP: the client may ask for a container's contents
    ann.send_gmcp("Char.Items.Contents", str(satchel.id))
    listed = await ann.expect_gmcp("Char.Items.List",
                                   where=lambda d: d["location"] == str(satchel.id))
    assert sorted(i["name"] for i in listed["items"]) == ["5 coins", "a leather-bound journal"]
    # get from, get all from
    await ann.command("get journal from satchel", say("You get a leather-bound journal from the "
                                                     "leather satchel."))
    await ann.command("get all from satchel", say("You get 5 coins from the leather satchel."))
    await ann.command("get all from satchel", say("The leather satchel is empty."))
    await ann.command("get journal from unicorn", say("You see no container like that here."))
    await ann.command("put journal in camera", say("The folding camera is not a container."))
    await ann.command("put unicorn in satchel", say("You aren't carrying that."))
    await ann.command("put journal", say("Put what in what?"))
    # close it: nothing goes in or out, nothing is seen
    await ann.command("close satchel", say("You close the leather satchel."))
    await bob.expect(say("Eudora closes a leather satchel."))
    await ann.command("close satchel", say("The leather satchel is already closed."))
    await ann.command("put journal in satchel", say("The leather satchel is closed."))
    await ann.command("look in satchel", say("The leather satchel is closed."))
    await ann.command("open satchel", say("You open the leather satchel."))
    await ann.command("lock satchel", say("The leather satchel has no lock."))
    # a container cannot go into itself, and nesting is limited
    await ann.command("remove satchel", say("You stop using the leather satchel."))
    await ann.command("put satchel in satchel", say("You can't put the leather satchel inside "
                                                   "itself."))
    await grant(app, "backpack", to="Eudora", slot="back")
    await grant(app, "medical_bag", to="Eudora")
    await ann.command("put medical bag in satchel",
                      say("You put a black medical bag in the leather satchel."))
    await ann.command("put satchel in backpack", say("The leather satchel won't go in the canvas "
                                                    "backpack: containers nest only 2 deep."))
    await ann.command("get medical bag from satchel", "You get a black medical bag")
    await ann.command("put satchel in backpack", say("You put a leather satchel in the canvas "
                                                    "backpack."))
    await ann.command("look in backpack", r"In the canvas backpack:\s+a leather satchel")
    await ann.command("get satchel from backpack", "You get a leather satchel")
    await ann.command("put camera in satchel", say("You put a folding camera in the leather "
                                                  "satchel."))
    # full: the satchel holds six things
    await grant(app, "candle", 6, to="Eudora")
    await ann.command("put all.candle in satchel", say("The leather satchel is full."))
    satchel = next(i for i in char_of(app, "Eudora").items if i.proto.id == "satchel")
    assert len(satchel.contents) == 6
    await asyncio.gather(ann.close(), bob.close())


async def test_room_container_locks_keys_and_doors(game_server):
    app = game_server
    world = app.game.world
    ann = await login(app, "Leonora")
    await walk(ann, world, world.start_room, "sanitarium.office")
    await ann.command("look", say("A broad mahogany desk fills the end of the room, its drawers "
                                  "fitted with locks. (locked)"))
    await ann.command("open desk", say("The broad mahogany desk is locked."))
    await ann.command("unlock desk", say("You don't have the key."))
    await ann.command("get desk", say("You can't take the broad mahogany desk."))
    await ann.command("look in desk", say("The broad mahogany desk is closed."))
    await grant(app, "key_desk", to="Leonora")
    await ann.command("lock desk", say("The broad mahogany desk is already locked."))
    await ann.command("unlock desk", say("You unlock the broad mahogany desk."))
    await ann.command("open desk", say("You open the broad mahogany desk."))
    await ann.command("look in desk", r"In the broad mahogany desk:\s+a folder of case notes\s+"
                                      r"a bottle of folk tonic\s+a brass sanitarium key")
    await ann.command("lock desk", say("You need to close the broad mahogany desk first."))
    await ann.command("get key from desk", say("You get a brass sanitarium key from the broad "
                                              "mahogany desk."))
    await ann.command("put pencil in desk", say("You put a stub of pencil in the broad mahogany "
                                               "desk."))
    desk = next(i for i in world.rooms["sanitarium.office"].items if i.proto.id == "doctors_desk")
    assert [r.proto for r in await db_items(app.store, owner=f"item:{desk.id}")] == [
        "case_notes", "folk_tonic", "pencil"]
    await ann.command("close desk", say("You close the broad mahogany desk."))
    await ann.command("lock desk", say("You lock the broad mahogany desk."))
    await ann.command("get all from desk", say("The broad mahogany desk is closed."))
    # the sanitarium key from the desk opens the isolation door; a key in a bag does not count
    await walk(ann, world, "sanitarium.office", "sanitarium.ward_east")
    await ann.command("put sanitarium key in satchel", "You put a brass sanitarium key")
    await ann.command("unlock south", say("You don't have the key."))
    await ann.command("get sanitarium key from satchel", "You get a brass sanitarium key")
    await ann.command("open south", say("The padded door is locked."))
    await ann.command("unlock south", say("You unlock the padded door."))
    info = await ann.expect_gmcp("Room.Info", where=lambda d: d["doors"].get("s") == "closed")
    assert info["num"] == "sanitarium.ward_east"
    await ann.command("unlock padded", say("The padded door is not locked."))
    await ann.command("open padded door", say("You open the padded door."))
    await ann.command("lock south", say("You need to close the padded door first."))
    ann.send("south")
    await ann.expect_gmcp("Room.Info", where=lambda d: d["num"] == "sanitarium.isolation")
    await ann.command("close north", say("You close the padded door."))
    await ann.command("lock north", say("You lock the padded door."))
    assert world.doors["sanitarium.isolation_door"].state is DoorState.LOCKED
    await ann.command("lock west", say("You see no door like that here."))
    await ann.command("unlock", say("Unlock what?"))
    await ann.close()


# -- wearing --------------------------------------------------------------------------------------

async def test_wear_wield_remove_and_examine(game_server):
    app = game_server
    ann = await login(app, "Wilhelmina")
    await ann.command("remove fedora", say("You stop using the grey fedora."))
    update = await ann.expect_gmcp("Char.Items.Update",
                                   where=lambda d: d["item"]["name"] == "a grey fedora")
    assert "slot" not in update["item"] and "W" in update["item"]["attrib"]
    await ann.command("wear fedora", say("You wear the grey fedora on your head."))
    await ann.command("remove fedora", "You stop using")
    await grant(app, "cloth_cap", to="Wilhelmina")
    await ann.command("wear cap", say("You wear the flat cloth cap on your head."))
    await ann.command("wear fedora", say("You are already wearing a flat cloth cap there. "
                                         "Remove it first."))
    await ann.command("wear camera", say("You can't wear the folding camera."))
    await grant(app, "knife", to="Wilhelmina")
    await grant(app, "crowbar", to="Wilhelmina")
    await ann.command("wear knife", say("You can't wear the clasp knife; wield it instead."))
    await ann.command("wield camera", say("You can't wield the folding camera."))
    await ann.command("wield knife", say("You wield the clasp knife."))
    wielded = await ann.expect_gmcp("Char.Items.Update", where=lambda d: d["item"].get(
        "slot") == "main_hand")
    assert "l" in wielded["item"]["attrib"]
    await ann.command("wield crowbar", say("You are already wielding a clasp knife."))
    await grant(app, "lantern", to="Wilhelmina")
    await ann.command("wear lantern", say("You hold the brass lantern in your off hand."))
    await ann.command("eq", r"<on head>\s+a flat cloth cap(?s:.*)<wielded>\s+a clasp knife"
                            r"(?s:.*)<held>\s+a brass lantern")
    await ann.command("remove unicorn", say("You aren't using anything like that."))
    await ann.command("wear", say("Wear what?"))
    char = char_of(app, "Wilhelmina")
    rows = {r.proto: r.slot for r in await db_items(app.store, owner=f"char:{char.id}")}
    assert rows["knife"] == "main_hand" and rows["lantern"] == "off_hand"
    assert rows["cloth_cap"] == "head" and rows["fedora"] is None
    # a worn thing cannot be dropped or given; it is not in hand
    await ann.command("drop knife", say("You are using the clasp knife; remove it first."))
    # examine and look at things
    await ann.command("examine knife", r"(?s)A clasp knife.*horn handle.*You are wielding it\.")
    await ann.command("look at journal", r"(?s)A leather-bound journal.*cream paper")
    await ann.command("examine unicorn", say("You see nothing like that here."))
    await ann.command("examine", say("Examine what?"))
    await ann.close()


# -- shops ----------------------------------------------------------------------------------------

async def test_shop_list_buy_sell_value(game_server):
    app = game_server
    world = app.game.world
    ann = await login(app, "Prudence")
    await ann.command("list", say("There is nothing for sale here."))
    await ann.command("buy lantern", say("There is nothing for sale here."))
    await walk(ann, world, world.start_room, "arkham.general_store")
    await ann.command("list", r"(?s)Ezra Alden's wares.*12  a brass lantern  \(4 left\).*"
                              r"You have 20 coins\.")
    await ann.command("buy lantern", say("You buy a brass lantern for 12 coins."))
    char = char_of(app, "Prudence")
    assert rules.money(char) == 8
    coins = await db_items(app.store, owner=f"char:{char.id}", proto="coins")
    assert [r.quantity for r in coins] == [8]
    assert len(await db_items(app.store, owner=f"char:{char.id}", proto="lantern")) == 1
    await ann.command("list", say("12  a brass lantern  (3 left)"))
    await ann.command("buy revolver", say("Ezra Alden says, 'That comes to 45 coins, and you "
                                          "haven't got it.'"))
    await ann.command("buy unicorn", say("Ezra Alden says, 'I don't carry anything like that.'"))
    await ann.command("buy 5 lanterns", say("Ezra Alden says, 'I've only 3 of those left.'"))
    await ann.command("buy", "Buy what?")
    await ann.command("buy 3 candles", say("You buy a tallow candle (x3) for 3 coins."))
    await ann.command("buy cartridges 4", say("You buy 4 .38 cartridges for 4 coins."))
    assert rules.money(char) == 1
    await ann.command("value camera", say("Ezra Alden says, 'I'd give you 12 coins for the "
                                          "folding camera.'"))
    await ann.command("value pencil", say("Ezra Alden would give you nothing for the stub of "
                                          "pencil."))
    await ann.command("value coins", say("Ezra Alden won't buy the coin."))
    await ann.command("sell camera", say("You sell a folding camera to Ezra Alden for 12 coins."))
    assert rules.money(char) == 13
    await ann.command("sell camera", say("You aren't carrying that."))
    await ann.command("sell 4 cartridges", say("Ezra Alden would give you nothing for 4 .38 "
                                               "cartridges."))
    assert await db_items(app.store, owner=f"char:{char.id}", proto="camera") == []
    # sold out, and back in stock later
    await grant(app, "coins", 100, to="Prudence")
    await ann.command("buy revolver", say("You buy a .38 revolver for 45 coins."))
    await ann.command("buy revolver", say("Ezra Alden says, 'I'm out of those just now.'"))
    await ann.command("list", say("45  a .38 revolver  (sold out)"))
    stock = next(s for s in world.shops["arkham.general_store"].stock
                 if s.proto.id == "revolver_38")
    stock._since -= stock.spec.restock  # an hour goes by
    await ann.command("list", say("45  a .38 revolver  (1 left)"))
    await ann.close()


# -- GMCP -----------------------------------------------------------------------------------------

async def test_gmcp_item_requests_and_support(game_server):
    app = game_server
    ann = await login(app, "Ottoline")
    await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "room")
    await grant(app, "lantern", to=app.game.world.start_room)
    added = await ann.expect_gmcp("Char.Items.Add", where=lambda d: d["location"] == "room")
    assert added["item"]["name"] == "a brass lantern" and added["item"]["attrib"] == "Wt"
    ann.send_gmcp("Char.Items.Room")
    room = await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "room")
    assert [i["name"] for i in room["items"]] == ["a brass lantern"]
    ann.send_gmcp("Char.Items.Inv")
    inv = await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "inv")
    assert "20 coins" in [i["name"] for i in inv["items"]]
    ann.send_gmcp("Char.Items.Contents", "999999")  # nothing visible by that id: no answer
    ann.send_gmcp("Char.Items.Contents", "not a number")
    # Moving on sends the new room's list
    north = app.game.world.rooms[app.game.world.start_room].exits["north"].to
    ann.send("north")
    await ann.expect_gmcp("Room.Info", where=lambda d: d["num"] == north)
    listed = await ann.expect_gmcp("Char.Items.List", where=lambda d: d["location"] == "room")
    assert listed["items"] == []
    # A client that takes only Room gets no Char.Items at all
    quiet = await login(app, "Quentin", supports=["Room 1"])
    await quiet.command("drop journal", "You drop")
    await quiet.command("i", "You are carrying")
    assert not [p for p, _ in quiet.gmcp if p.lower().startswith("char.items")]
    await asyncio.gather(ann.close(), quiet.close())


# -- rules, without a server ----------------------------------------------------------------------

def _proto(pid: str, **kw: Any) -> ItemProto:
    return ItemProto(id=pid, name=f"a {pid}", keywords=(pid,), long="", description="", **kw)


def test_references_and_picks() -> None:
    assert rules.parse_ref("2.candle") == rules.ItemRef(words=("candle",), index=2)
    assert rules.parse_ref("all") == rules.ItemRef(all=True)
    assert rules.parse_ref("all.candle") == rules.parse_ref("all candle")
    assert rules.parse_ref("5 coins") == rules.ItemRef(words=("coins",), count=5)
    assert rules.parse_ref("0 coins") is None and rules.parse_ref("  ") is None
    assert rules.parse_ref("0.candle") is None
    candle, coin = _proto("candle"), _proto("coin", stack=True, plural="coins")
    items = [Item(1, candle), Item(2, candle), Item(3, coin, quantity=7)]
    assert rules.pick(items, rules.parse_ref("candles"), "no").items == ((items[0], 1),)
    assert rules.pick(items, rules.parse_ref("3.candle"), "no").problem == "no"
    assert rules.pick(items, rules.parse_ref("2 coin"), "no").items == ((items[2], 2),)
    assert rules.pick(items, rules.parse_ref("all"), "no").items == (
        (items[0], 1), (items[1], 1), (items[2], 7))
    assert rules.split_on("lantern in the big box", "in") == ("lantern", "the big box")
    assert rules.split_on("in", "in") is None


def test_no_drop_and_capacity_rules() -> None:
    cursed = _proto("idol", flags=frozenset({"no_drop"}))
    assert "no_drop" in cursed.flags
    char = Character(id=1, account_id=1, name="T", profession="tramp", room_id="x", hp=1,
                     max_hp=1, stats={"strength": 14})
    assert rules.carry_slots(char) == rules.BASE_CARRY_SLOTS + 2
    assert rules.carry_weight(char) == rules.BASE_CARRY_WEIGHT + 4 * rules.CARRY_WEIGHT_PER_STRENGTH
    from mythos.world.items import ContainerProto
    box = Item(10, _proto("box", container=ContainerProto(slots=1, weight=2.0)))
    rock = Item(11, _proto("rock", weight=3.0))
    assert rules.can_put(box, rock, 1) == "The box can't hold that much weight."
    box.state = ContainerState.CLOSED
    assert rules.can_put(box, Item(12, _proto("pebble", weight=0.1)), 1) == "The box is closed."


# -- staff: summon --------------------------------------------------------------------------------

async def test_summon_is_for_admins_and_audited(game_server):
    app = game_server
    player = await login(app, "Mortimer")
    await player.command("summon lantern", r"Huh\?")
    staff = await login(app, "Seraphina")
    await staff.command("quit", "leave Arkham")
    await app.store.set_role("Seraphina", "admin")
    staff = await login(app, "Seraphina", create=False)
    await staff.command("summon lantern", say("You summon a brass lantern."))
    await player.expect(say("A brass lantern appears in Seraphina's hands."))
    await staff.command("summon coins 50", say("You summon 50 coins."))
    await staff.command("summon tallow candle 3", say("You summon a tallow candle (x3)."))
    await staff.command("summon unicorn", say("There is no item prototype 'unicorn'."))
    await staff.command("summon lantern 1000", say("Summon between 1 and 100 at a time."))
    await staff.command("summon", "Summon what?")
    char = char_of(app, "Seraphina")
    assert rules.money(char) == 70
    rows = await db_items(app.store, owner=f"char:{char.id}")
    assert sum(r.proto == "candle" for r in rows) == 3 and sum(
        r.proto == "lantern" for r in rows) == 1
    audit = await app.game.social.db.recent_audit(10)
    summons = [(a.target, a.details["count"]) for a in audit if a.action == "summon"]
    assert sorted(summons) == [("candle", 3), ("coins", 50), ("lantern", 1)]
    await asyncio.gather(player.close(), staff.close())
