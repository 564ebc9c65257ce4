"""NPCs through the front door: spawning, the staff's NPC commands, fights against a weak NPC
and a strong one, mortal wounds, death, Limbo, respawn, corpses (looting rules, decay that
survives a restart), XP; on SQLite and PostgreSQL. Clocks run fast through ``time_scale``."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import sqlalchemy as sa

from conftest import query
from mythos.rules import combat as R
from mythos.store.items import items as items_table
from mythos.store.npcs import corpses as corpses_table
from mythos.store.npcs import deaths as deaths_table
from test_items import grant

from mudclient import login, staff, wait_until


def corpses_in(app: Any, room_id: str) -> list[Any]:
    return [i for i in app.game.world.rooms[room_id].items if i.proto.id == "corpse"]


async def rows(app: Any, table: sa.Table) -> list[Any]:
    return await query(app.store, sa.select(table))


# -- spawning and the staff ----------------------------------------------------------------------

async def test_npcs_spawn_and_staff_commands(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'n.db'}",
                             commands_per_second=1000)
    npcs = app.game.npcs
    required = [p for p in app.game.world.npc_protos.values() if p.required]
    for p in required:
        assert npcs.population[p.id] == p.max_population
    store = app.game.world.rooms["arkham.general_store"]
    assert any(m.proto.id == "ezra_alden" for m in store.npcs)
    admin = await staff(app, "Agatha")
    await admin.command("npc list", r"ezra_alden\s+shopkeeper\s+1/1")
    await admin.command("spawn no_such", "No NPC has that id.")
    await admin.command("spawn rat", "You spawn a grey rat")
    await admin.command("look", "A grey rat noses along the gutter")
    data = await admin.expect_gmcp("Room.Npcs", where=lambda d: any(
        n["name"] == "a grey rat" for n in d))
    assert next(n for n in data if n["name"] == "a grey rat")["attrib"] == "m"
    await admin.command("consider rat", "newspaper|trouble")
    await admin.command("purge rat", "You purge a grey rat.")
    assert not app.game.world.rooms[app.game.world.start_room].npcs
    # A player cannot use the staff's commands.
    p = await login(app, "Pauline")
    await p.command("spawn rat", "Huh?")
    # Shopkeepers cannot be attacked, and greet; the shop trades only while its keeper is in.
    await admin.command("goto arkham.general_store", "Ezra Alden stands behind his counter")
    await admin.command("attack ezra", "no enemy of yours")
    await admin.command("list", "Ezra Alden's wares")
    await admin.command("purge ezra", "You purge Ezra Alden.")
    await admin.command("list", "Ezra Alden is not here")
    # The lucidity hook: seeing an NPC, with its horror category.
    seen: list[tuple[str, str | None]] = []
    npcs.on_sight.append(lambda char, mob: seen.append((char.name, mob.horror)))
    await admin.command("spawn ghoul", "You spawn a ghoul")
    assert ("Agatha", "horrific") in seen
    # Walking away from a fight is refused; fleeing may fail, and works in the end.
    char = app.game.online["agatha"]
    await admin.command("attack ghoul", "You attack a ghoul!")
    await admin.command("west", "fighting for your life")
    for _ in range(40):
        m = await admin.command("flee", "You flee head over heels|cannot get away")
        if "flee head" in m.group(0):
            break
    await admin.expect("Exits:")
    assert char.room_id != "arkham.general_store" and not npcs.in_fight(char)


# -- a weak NPC dies ---------------------------------------------------------------------------

async def test_killing_a_weak_npc(db_url, start_server) -> None:
    app = await start_server(db_url, commands_per_second=1000, time_scale=50)
    admin = await staff(app, "Agatha")
    char = app.game.online["agatha"]
    await grant(app, "crowbar", to="Agatha", slot="main_hand")
    room = char.room_id
    await admin.command("spawn orderly", "You spawn a burly orderly")
    await admin.command("set agatha xp 95", "Agatha's xp")
    xp0, max0 = char.xp, char.max_hp
    assert (xp0, char.level) == (95, 1)
    await admin.command("north", "You can't go that way|Exits:")  # not fighting yet: may walk
    await admin.command(f"goto {room}", "Exits:")
    await admin.command("attack orderly", "You attack a burly orderly!")
    combat = await admin.expect_gmcp("Char.Combat", where=lambda d: d is not None)
    assert combat["target"] == "a burly orderly"
    await admin.command("north", "fighting for your life")
    await admin.expect("A burly orderly is dead! R.I.P.", timeout=20)
    await admin.expect(r"You receive 30 experience\.")
    await admin.expect(r"You have reached level 2!")
    assert char.xp == xp0 + 30 and char.level == 2 and char.max_hp > max0
    await admin.expect_gmcp("Char.Combat", where=lambda d: d is None)
    vitals = await admin.expect_gmcp("Char.Vitals", where=lambda d: d["xp"] == xp0 + 30)
    assert vitals["level"] == char.level
    (corpse,) = corpses_in(app, room)
    assert corpse.name == "the corpse of a burly orderly"
    assert any(i.proto.id == "coins" for i in corpse.contents)
    # The corpse and its loot are in the database, made in the death's transaction.
    (row,) = await rows(app, corpses_table)
    assert row.item_id == corpse.id and row.looters == [char.id]
    inside = [r.proto for r in await query(app.store, sa.select(items_table.c.proto).where(
        items_table.c.owner == f"item:{corpse.id}"))]
    assert "coins" in inside
    assert [r.victim for r in await rows(app, deaths_table)] == ["a burly orderly"]
    await admin.command("look", "The corpse of a burly orderly lies here.")
    coins0 = sum(i.quantity for i in char.items if i.proto.id == "coins")
    await admin.command("get all from corpse", "You get 5 coins from the corpse of a burly")
    assert sum(i.quantity for i in char.items if i.proto.id == "coins") == coins0 + 5
    # It respawns at home, by the kind's delay, through the timer heap.
    assert app.game.npcs.population["orderly"] == 1


# -- a strong NPC kills a player -----------------------------------------------------------------

async def test_death_limbo_corpse_and_respawn(db_url, start_server) -> None:
    app = await start_server(db_url, commands_per_second=1000, time_scale=100)
    world = app.game.world
    admin = await staff(app, "Agatha")
    victim = await login(app, "Victor", supports=["Char 1", "Room 1", "Char.Items 1"])
    vchar = app.game.online["victor"]
    room = vchar.room_id
    carried = sorted(i.proto.id for i in vchar.items)
    assert carried
    # Bare fists against a burly orderly: he wins, a few points at a time (so the victim
    # passes through mortal wounds and bleeds out).
    assert not any(i.slot == "main_hand" for i in vchar.items)
    await admin.command("set victor hp 20", "Victor's hp: 80 -> 20")
    await admin.command("spawn orderly", "You spawn a burly orderly")
    victim.send("attack orderly")
    await victim.expect("You are mortally wounded", timeout=30)
    await victim.command("north", "can do nothing but bleed")
    # Another player may bind the wounds; the victim then fights on, and falls again.
    await admin.command("aid victor", "You bind Victor's wounds")
    await victim.expect("binds your wounds")
    assert vchar.hp >= 1 and vchar not in app.game.npcs.dying  # (and regenerating)
    await victim.command("stand", "You stand up")
    await admin.command("set victor hp 10", "Victor's hp")
    victim.send("attack orderly")
    await victim.expect("You are mortally wounded", timeout=30)
    await victim.expect(r"You are dead! Sorry\.\.\.", timeout=30)
    info = await victim.expect_gmcp("Room.Info", where=lambda d: d["num"] == world.limbo_room)
    assert info["num"] == world.limbo_room
    assert vchar.room_id == world.limbo_room and not vchar.items
    await admin.command("purge orderly", "You purge a burly orderly.")
    (corpse,) = corpses_in(app, room)
    assert corpse.name == "the corpse of Victor"
    assert sorted(i.proto.id for i in corpse.contents) == carried
    held = await query(app.store, sa.select(items_table.c.id).where(
        items_table.c.owner == f"char:{vchar.id}"))
    assert held == []
    # Nobody else may loot it at first...
    await admin.command("get all from corpse", "You may not loot that corpse yet")
    assert len(corpse.contents) == len(carried)
    # ... the dead return with 'respawn', whole, to the sanitarium foyer ...
    await victim.command("north", "You can't go that way")
    victim.send("respawn")
    await victim.expect_gmcp("Room.Info", where=lambda d: d["num"] == world.respawn_room)
    assert vchar.hp == vchar.max_hp
    # ... and after the owner's time (sped up) anyone may.
    loot_until = app.game.npcs.corpses[corpse.id].loot_until
    from datetime import UTC, datetime

    await asyncio.sleep(max(0.0, (loot_until - datetime.now(UTC)).total_seconds()) + 0.1)
    await admin.command("get all from corpse", "You get .* from the corpse of Victor")
    assert [r.victim for r in await rows(app, deaths_table)] == ["Victor"]


# -- corpses decay, even across a restart --------------------------------------------------------

async def test_corpse_decay_survives_restart(db_url, start_server) -> None:
    scale = R.CORPSE_DECAY_SECONDS / 4  # decay after 4 s
    app = await start_server(db_url, commands_per_second=1000, time_scale=scale)
    admin = await staff(app, "Agatha")
    room = app.game.online["agatha"].room_id
    await grant(app, "crowbar", to="Agatha", slot="main_hand")
    await admin.command("spawn orderly", "You spawn a burly orderly")
    await admin.command("attack orderly", "You attack")
    await admin.expect("A burly orderly is dead!", timeout=20)
    (corpse,) = corpses_in(app, room)
    inside = sorted(i.proto.id for i in corpse.contents)
    await admin.close()
    await app.stop()
    app2 = await start_server(db_url, commands_per_second=1000, time_scale=scale, npcs=False)
    (again,) = corpses_in(app2, room)
    assert again.id == corpse.id and again.name == "the corpse of a burly orderly"
    assert app2.game.npcs.corpses[again.id]
    floor0 = {i.proto.id for i in app2.game.world.rooms[room].items}
    from mudclient import wait_until

    await wait_until(lambda: not corpses_in(app2, room), timeout=15, what="decay")
    floor = {i.proto.id for i in app2.game.world.rooms[room].items}
    assert set(inside) <= floor | floor0
    assert await rows(app2, corpses_table) == []
    left = await query(app2.store, sa.select(items_table.c.id).where(
        items_table.c.owner == f"item:{again.id}"))
    assert left == []


def test_rules_numbers() -> None:
    assert R.RESPAWN_SECONDS == {"quest_giver": 600.0, "shopkeeper": 300.0,
                                 "passive_mob": 180.0, "aggressive_mob": 300.0}
    assert (R.DEAD_HP, R.MORTAL_HP, R.LOOT_OWNER_SECONDS) == (-10, 0, 300.0)
    assert re.search("newspaper", R.consider(10, 100, 1, 8))
    assert R.share_xp(90, 2) == 45


# -- wandering, respawn, idle fights, shared XP, aggression (npcs=False: only what we spawn) ----

class _NeverHits(random.Random):
    """An NPC random source under which every blow misses, every flee fails and no mob
    wanders (each roll comes up at the top of the range)."""

    def random(self) -> float:
        return 0.999


def _mob_id(match: re.Match[str]) -> int:
    return int(re.search(r"#(\d+)", match.group(0)).group(1))  # type: ignore[union-attr]


async def test_mobs_wander_in_their_area_and_drift_home(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'w.db'}", npcs=False,
                             commands_per_second=1000, time_scale=200, pulse_seconds=0.05)
    world, npcs = app.game.world, app.game.npcs
    home = world.npc_protos["rat"].home  # arkham.river_alley_w, in the Riverfront
    area = world.rooms[home].area
    # A player stands on the way home (arkham.garrison_n, between the wharf and home).
    watcher = await login(app, "Wanda")
    await watcher.command("north", "Exits:")
    await watcher.command("north", "Exits:")
    wchar = app.game.online["wanda"]
    assert wchar.room_id == "arkham.garrison_n" and world.rooms[wchar.room_id].area == area
    admin = await staff(app, "Agatha")
    await admin.command("goto arkham.wharf", "Exits:")
    mob = npcs.mobs[_mob_id(await admin.command("spawn rat", r"You spawn a grey rat \(#\d+\)"))]
    visited: set[str] = set()

    def seen(room_id: str) -> bool:
        visited.add(mob.room_id)
        return mob.room_id == room_id

    # It wanders off the wharf (the only way is west) and drifts home, past the watcher.
    await admin.expect("A grey rat leaves west.", timeout=15)
    await watcher.expect("A grey rat arrives from the east.", timeout=15)
    await wait_until(lambda: seen(home), timeout=20, what="the rat back home")
    await watcher.expect("A grey rat leaves west.", timeout=15)
    # Around home it keeps wandering, but never out of its area (the alleys lead to the
    # bridge and Garrison Street, which are not the Riverfront).
    # (Waiting for a third room rather than for a fixed while: a loaded CI host runs fewer
    # wander rolls per second, and two rooms back and forth is a fair outcome of a few.)
    await wait_until(lambda: seen("") or len(visited) >= 3, timeout=30,
                     what="the rat in a third room of its area")
    assert {world.rooms[r].area for r in visited} == {area}
    assert mob.alive and npcs.population["rat"] == 1


async def test_killed_npc_respawns_at_home(start_server, tmp_path) -> None:
    scale = R.RESPAWN_SECONDS["passive_mob"] / 3  # the rat's kind: back after 3 s
    app = await start_server(f"sqlite:///{tmp_path / 'r.db'}", npcs=False,
                             commands_per_second=1000, time_scale=scale)
    world, npcs = app.game.world, app.game.npcs
    home = world.npc_protos["rat"].home
    watcher = await login(app, "Wanda")
    for way in ("north", "north", "west"):
        await watcher.command(way, "Exits:")
    assert app.game.online["wanda"].room_id == home
    admin = await staff(app, "Agatha")
    await grant(app, "crowbar", to="Agatha", slot="main_hand")
    # Spawned on the square, outside its area: it cannot wander off before the fight.
    mob = npcs.mobs[_mob_id(await admin.command("spawn rat", r"You spawn a grey rat \(#\d+\)"))]
    assert mob.room_id == world.start_room
    await admin.command("attack rat", "You attack a grey rat!")
    await admin.expect("A grey rat is dead! R.I.P.", timeout=20)
    assert npcs.population["rat"] == 0 and not any(m.alive for m in npcs.mobs.values())
    assert not world.rooms[home].npcs
    # The respawn timer (in the pulse's heap) brings one back, at home.
    await watcher.expect("A grey rat appears.", timeout=15)
    (again,) = npcs.mobs.values()
    assert again is not mob and again.alive and npcs.population["rat"] == 1
    assert again.proto.id == "rat" and world.rooms[home].npcs == [again]


async def test_fight_without_blows_ends(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'i.db'}", npcs=False,
                             commands_per_second=1000, time_scale=100)
    npcs = app.game.npcs
    npcs.rng = _NeverHits()
    admin = await staff(app, "Agatha")
    char = app.game.online["agatha"]
    mob = npcs.mobs[_mob_id(await admin.command("spawn orderly", r"You spawn a burly orderly "
                                                                  r"\(#\d+\)"))]
    await admin.command("attack orderly", "You attack a burly orderly!")
    combat = await admin.expect_gmcp("Char.Combat", where=lambda d: d is not None)
    assert combat["target"] == "a burly orderly"
    await admin.expect("You miss a burly orderly.")
    await admin.expect("The fight peters out", timeout=20)
    await admin.expect_gmcp("Char.Combat", where=lambda d: d is None)
    assert not npcs.in_fight(char) and not npcs.in_fight(mob)
    assert mob.alive and mob.hp == mob.max_hp and char.hp == char.max_hp


async def test_kill_xp_is_shared(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'x.db'}", npcs=False,
                             commands_per_second=1000, time_scale=20)
    admin = await staff(app, "Agatha")
    await grant(app, "crowbar", to="Agatha", slot="main_hand")
    pauline = await login(app, "Pauline")
    a, p = app.game.online["agatha"], app.game.online["pauline"]
    xp_a, xp_p = a.xp, p.xp
    await admin.command("spawn orderly", "You spawn a burly orderly")
    await pauline.command("attack orderly", "You attack a burly orderly!")
    await admin.command("attack orderly", "You attack a burly orderly!")
    share = R.share_xp(app.game.world.npc_protos["orderly"].xp, 2)
    assert share == 15
    for c in (admin, pauline):
        await c.expect("A burly orderly is dead! R.I.P.", timeout=30)
        await c.expect(rf"You receive {share} experience\.")
    assert (a.xp, p.xp) == (xp_a + share, xp_p + share)


async def test_aggressive_mob_attacks_arriving_player(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'a.db'}", npcs=False,
                             commands_per_second=1000, time_scale=10)
    npcs = app.game.npcs
    admin = await staff(app, "Agatha")
    achar = app.game.online["agatha"]
    await admin.command("north", "Exits:")
    mob = npcs.mobs[_mob_id(await admin.command("spawn sewer_rat", r"You spawn a sewer rat "
                                                                r"\(#\d+\)"))]
    p = await login(app, "Pauline", supports=["Char 1", "Room 1"])
    pchar = app.game.online["pauline"]
    await p.command("north", "A slick sewer rat watches you")
    await p.expect("A sewer rat lunges at you!", timeout=10)
    await admin.expect("A sewer rat lunges at Pauline!")
    combat = await p.expect_gmcp("Char.Combat", where=lambda d: d is not None)
    assert combat["target"] == "a sewer rat"
    assert npcs.fighting.get(mob) is pchar
    # Staff are not hassled.
    assert not npcs.in_fight(achar)
