"""Lucidity, exploration and Mythos time: the pure rules with injected clocks, then the flux
subsystem through the game object, then journeys over telnet (tier effects, catatonia and
``ground`` with two players, delirium, rites and their cooldowns across a logout on both
database backends, the forbidden book, horrors seen, dawn)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from conftest import WORLD_DIR, query
from mythos.rules import exploration
from mythos.rules import lucidity as L
from mythos.rules import mythostime as T
from mythos.store.items import items as items_table
from mythos.store.mind import explored_rooms, horror_encounters, liabilities, rite_cooldowns
from mythos.world import load_world
from mythos.world.model import DIR_SHORT, OPPOSITE
from test_items import grant
from test_social import staff

from mudclient import login, wait_until

SUPPORTS = ["Char 1", "Room 1", "Mythos 1"]
QUIET = {"npcs": False}  # no wandering horrors unless a test wants one


def line(text: str) -> str:
    return rf"(?m)^(?:.*> )?{re.escape(text)}\r?$"


async def set_lcd(admin, player, name: str, value: int) -> None:
    """The staff's ``set``, waited for on the player's side."""
    admin.send(f"set {name} lucidity {value}")
    await player.expect(f"set your lucidity to {value}")


# -- the rules, pure --------------------------------------------------------------------------

def test_flux_by_environment_day_and_night() -> None:
    for env, (day, night) in L.ENV_FLUX.items():
        assert L.flux(env, True) == day
        assert L.flux(env, False) == night
    # RULES.md's table, spot-checked against the constants.
    assert L.flux("eldritch", True) == -1.2 and L.flux("eldritch", False) == -1.5
    assert L.flux("sanctuary", True) == 0.6 and L.flux("sanctuary", False) == 0.3
    assert L.flux("street_paved", False) == 0.0
    assert L.flux("indoors", True) == 0.0  # environments not in the table: no flux


def test_zone_drain_overrides_the_environment() -> None:
    drain = {"day": -0.1, "night": -0.3}
    assert L.flux("street_paved", True, zone_drain=drain) == -0.1
    assert L.flux("sanctuary", False, zone_drain=drain) == -0.3


def test_company_bonus_capped_and_penalty() -> None:
    assert L.company([]) == 0
    assert L.company(["lucid"]) == L.COMPANY_BONUS
    assert L.company(["lucid", "uneasy", "lucid", "lucid", "lucid"]) == L.COMPANY_MAX
    assert L.company(["fractured"]) == 0
    assert L.company(["deranged"]) == L.COMPANY_PENALTY
    assert abs(L.company(["lucid", "catatonic"]) - (L.COMPANY_BONUS + L.COMPANY_PENALTY)) < 1e-9
    assert L.company_counts(2, 1) == L.company(["lucid", "uneasy", "deranged"])
    night_street = L.flux("street_paved", False, company_term=L.company(["lucid"] * 3))
    assert abs(night_street - 0.3) < 1e-9


def test_adaptive_resistance_shrinks_drains_only() -> None:
    assert L.resistance(0) == 1.0
    assert L.resistance(599) == 1.0
    assert L.resistance(600) == 0.75
    assert L.resistance(1200) == 0.5
    assert L.resistance(36000) == L.RESIST_FLOOR == 0.5
    assert abs(L.flux("eldritch", False, seconds_in_room=600) - (-1.5 * 0.75)) < 1e-9
    assert abs(L.flux("eldritch", False, seconds_in_room=7200) - (-0.75)) < 1e-9
    assert L.flux("sanctuary", True, seconds_in_room=7200) == 0.6  # gains never shrink


def test_fractions_accumulate_to_whole_points() -> None:
    frac, points = 0.0, []
    for _ in range(10):
        whole, frac = L.accumulate(frac, 0.2)
        points.append(whole)
    assert points == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1] and abs(frac) < 1e-9
    whole, frac = L.accumulate(0.0, -1.5)
    assert (whole, round(frac, 9)) == (-1, -0.5)
    whole, frac = L.accumulate(frac, -1.5)
    assert (whole, round(frac, 9)) == (-2, 0.0)
    whole, frac = L.accumulate(0.5, -0.2)  # a drain eats a carried gain first
    assert (whole, round(frac, 9)) == (0, 0.3)


def test_encounter_losses_first_later_and_halved() -> None:
    assert [L.encounter_loss("disturbing", n) for n in range(7)] == [6, 2, 2, 2, 2, 1, 1]
    assert [L.encounter_loss("horrific", n) for n in range(7)] == [12, 5, 5, 5, 5, 3, 3]
    assert [L.encounter_loss("cosmic", n) for n in range(7)] == [20, 10, 10, 10, 10, 5, 5]


def test_tiers_and_liabilities() -> None:
    assert [L.tier(x) for x in (100, 70, 69, 40, 39, 20, 19, 1, 0, -100)] == [
        "lucid", "lucid", "uneasy", "uneasy", "fractured", "fractured", "deranged",
        "deranged", "catatonic", "catatonic"]
    assert L.gains_liability(15, "lucid", "lucid")
    assert not L.gains_liability(14, "lucid", "lucid")
    assert L.gains_liability(1, "lucid", "uneasy")
    assert L.pick_liability(L.LIABILITIES, 0.5) is None
    assert L.pick_liability([], 0.0) == L.LIABILITIES[0]


def test_mythos_clock_and_words() -> None:
    clock = T.MythosClock()
    assert clock.at(T.REAL_EPOCH.timestamp()) == datetime(1930, 1, 1)
    one_hour_later = clock.at(T.REAL_EPOCH.timestamp() + 3600)
    assert one_hour_later - datetime(1930, 1, 1) == timedelta(hours=T.RATE)
    fast = T.MythosClock.starting(1000.0, datetime(1930, 3, 14, 21, 15), rate=60)
    assert fast.at(1001.0) == datetime(1930, 3, 14, 21, 16)
    assert (T.in_words(datetime(1930, 3, 14, 21, 15))
            == "a quarter past nine in the evening, Friday, 14 March 1930")
    assert T.in_words(datetime(1930, 3, 14, 11, 58)) == "noon, Friday, 14 March 1930"
    assert T.in_words(datetime(1930, 3, 14, 23, 59)) == "midnight, Saturday, 15 March 1930"
    assert T.in_words(datetime(1930, 3, 14, 5, 40)).startswith("twenty to six in the morning")
    assert T.is_day(datetime(1930, 1, 1, 6)) and not T.is_day(datetime(1930, 1, 1, 18))
    assert T.crossings(datetime(1930, 1, 1, 5, 59), datetime(1930, 1, 1, 6, 0)) == ["dawn"]
    assert T.crossings(datetime(1930, 1, 1, 17), datetime(1930, 1, 2, 7)) == ["dusk", "dawn"]
    assert T.crossings(datetime(1930, 1, 1, 7), datetime(1930, 1, 1, 17)) == []
    assert T.gmcp_time(datetime(1930, 3, 14, 21, 15)) == {
        "year": 1930, "month": 3, "day": 14, "hour": 21, "minute": 15, "period": "night"}


def test_map_draws_known_rooms_only() -> None:
    world = load_world(WORLD_DIR)
    here = world.rooms[world.start_room]
    alone = exploration.draw_map(world, here, {here.id})
    assert [row.strip() for row in alone] == ["@"]
    near = [ex.to for ex in here.visible_exits() if ex.direction in ("north", "east")]
    lines = exploration.draw_map(world, here, {here.id, *near})
    assert sum(row.count("#") + row.count("+") for row in lines) == len(near)
    shares = dict((n, (k, a)) for n, k, a in exploration.zone_shares(world, {here.id, *near}))
    assert shares[here.zone.name][0] >= 1


# -- the flux subsystem through the game, clocks injected --------------------------------------

async def test_flux_tick_in_the_tunnels_by_night_and_day(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'f.db'}",
                             start_room="witchhouse.tunnel_west", lucidity_seconds=3600,
                             **QUIET)
    game, luc = app.game, app.game.lucidity
    c = await login(app, "Nightwalker")
    char = game.online["nightwalker"]
    night = datetime(1930, 3, 14, 23, 0)
    luc.clock = T.MythosClock.starting(luc.wall(), night, rate=0.0)  # stopped at night
    for _ in range(2):
        luc.flux_tick()
    assert char.lucidity == 97  # -1.5 twice
    luc.clock = T.MythosClock.starting(luc.wall(), night.replace(hour=12), rate=0.0)
    for _ in range(5):
        luc.flux_tick()
    assert char.lucidity == 91  # -1.2 five times: -6
    assert abs(char.mind.flux_fraction) < 1e-9
    # Company: a second lucid investigator beside it takes 0.1 off each drain.
    d = await login(app, "Daywalker")
    friend = game.online["daywalker"]
    before = (char.lucidity, friend.lucidity)
    for _ in range(5):
        luc.flux_tick()
    # The pulse spreads a tick over its steps (flux_step): the same flux, a slice at a time.
    assert luc.flux_slices == 20
    for _ in range(5 * luc.flux_slices):
        luc.flux_step()
    assert (char.lucidity, friend.lucidity) == (before[0] - 11, 100 - 11)
    # Who leaves during a round is left out of the rest of it.
    luc.flux_step()
    game.online.pop("daywalker")
    lcd = (char.lucidity, friend.lucidity)
    for _ in range(luc.flux_slices - 1):
        luc.flux_step()
    assert (char.lucidity, friend.lucidity) == (lcd[0] - 1, lcd[1])
    game.online["daywalker"] = friend
    # Adaptive resistance: 100 ticks (10 minutes of 6 s) in the same room shrink the drain.
    char.mind.flux_ticks_in_room = 199  # 20 minutes here on the next tick: half the drain
    friend.link = None  # out of the company count for this check
    game.online.pop("daywalker")
    lcd = char.lucidity
    for _ in range(10):
        luc.flux_tick()
    assert char.lucidity == lcd - 6  # -0.6 a tick
    game.online["daywalker"] = friend
    await c.close()
    await d.close()


async def test_eldritch_tunnels_drain_lucidity_over_telnet(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 't.db'}",
                             start_room="witchhouse.tunnel_west", lucidity_seconds=0.1,
                             **QUIET)
    c = await login(app, "Tunneller", supports=SUPPORTS)
    vitals = await c.expect_gmcp("Char.Vitals", timeout=10,
                                 where=lambda v: v["lucidity"] <= 97)
    assert vitals["tier"] == "lucid"
    await c.command("status", r"Lucidity\s+9\d \(lucid\)")
    await c.close()


# -- Mythos time -------------------------------------------------------------------------------

async def test_time_in_words_and_gmcp(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'm.db'}",
                             mythos_time_start="1930-03-14T21:15", mythos_time_rate=0.001,
                             **QUIET)
    c = await login(app, "Clockwatcher", supports=SUPPORTS)
    t = await c.expect_gmcp("Mythos.Time")
    assert t == {"year": 1930, "month": 3, "day": 14, "hour": 21, "minute": 15,
                 "period": "night"}
    await c.command("time", line(
        "It is a quarter past nine in the evening, Friday, 14 March 1930."))
    await c.close()


async def test_dawn_in_outdoor_rooms(start_server, tmp_path) -> None:
    # 600 Mythos seconds a real second: dawn comes a few seconds after the start.
    app = await start_server(f"sqlite:///{tmp_path / 'd.db'}",
                             mythos_time_start="1930-03-14T05:20", mythos_time_rate=600,
                             **QUIET)
    assert app.game.world.rooms[app.game.world.start_room].outdoors
    c = await login(app, "Earlybird", supports=SUPPORTS)
    await c.expect("dawn comes to Arkham", timeout=15)
    t = await c.expect_gmcp("Mythos.Time", where=lambda d: d["hour"] >= 6, timeout=5)
    assert t["period"] == "day"
    await c.close()


# -- tier effects, catatonia and ground, delirium ------------------------------------------------

async def test_tier_effects_catatonia_and_ground(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'e.db'}",
                             lucidity_seconds=0.2, lucidity_effect_chance=1.0,
                             mythos_time_start="1930-03-14T23:00", mythos_time_rate=0.001,
                             **QUIET)
    admin = await staff(app, "Warden")
    a = await login(app, "Patient")
    # A tier change by a loss: a message, and a liability shown in status.
    await admin.command("frighten patient cosmic shoggoth", "Patient meets a cosmic horror")
    await a.expect("how little you are in it")
    await a.expect("Something in you has changed for good")
    await a.command("status", r"Liabilities  \S")
    # Uneasy: whispers.
    await set_lcd(admin, a, "patient", 55)
    await a.expect("|".join(re.escape(w) for w in L.WHISPERS), timeout=5)
    # Fractured: false arrivals, and rooms described wrong.
    await set_lcd(admin, a, "patient", 30)
    await a.expect("|".join(re.escape(w) for w in L.FALSE_ARRIVALS), timeout=5)
    await a.command("look", "|".join(re.escape(w) for w in L.ALTERED_LINES))
    # Deranged: the body does something else.
    await set_lcd(admin, a, "patient", 10)
    await a.command("inventory", "Your body does something else entirely")
    if app.game.online["patient"].room_id != app.game.online["warden"].room_id:
        await admin.command("teleport patient", "You send Patient")  # it walked off
    # Catatonic: locked to help, who, status, time, until grounded by another player.
    await set_lcd(admin, a, "patient", 0)
    await a.command("inventory", "Your body will not answer")
    await a.command("who", "investigators online")
    await a.command("time", "It is ")
    await admin.command("ground patient", "You hold Patient's hands")
    await a.expect("You follow it back")
    await wait_until(lambda: app.game.online["patient"].lucidity >= 1)
    await admin.command("ground patient", "Patient is not lost")
    await a.close()
    await admin.close()


async def test_delirium_takes_you_to_the_sanitarium(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'x.db'}", **QUIET)
    admin = await staff(app, "Orderly")
    a = await login(app, "Raver", supports=SUPPORTS)
    await set_lcd(admin, a, "raver", -5)
    await admin.command("frighten raver horrific", "Raver meets a horrific horror")
    await a.expect("You wake in the Arkham Sanitarium")
    info = await a.expect_gmcp("Room.Info", where=lambda r: r["num"] == "sanitarium.foyer")
    assert info["area"]
    await a.expect_gmcp("Char.Vitals", where=lambda v: v["lucidity"] == L.DELIRIUM_TO)
    assert app.game.online["raver"].room_id == app.game.world.respawn_room
    assert "Raver collapses, raving" in admin.text_plain
    await a.close()
    await admin.close()


# -- what is kept: cooldowns, explored rooms, encounters, liabilities (both backends) ---------

async def test_rites_cooldowns_and_exploration_survive_logout(start_server, db_url) -> None:
    app = await start_server(db_url, minute_seconds=60, **QUIET)
    admin = await staff(app, "Keeper")
    a = await login(app, "Pilgrim")
    await set_lcd(admin, a, "pilgrim", 50)
    await a.command("pray", "You pray")
    await wait_until(lambda: app.game.online["pilgrim"].lucidity == 58)
    await a.command("pray", "so soon")
    await a.command("meditate", "You breathe slowly")
    await admin.command("frighten pilgrim horrific ghoul", "-12 lucidity")
    world = app.game.world
    here = world.rooms[world.start_room]
    away = next(ex for ex in here.visible_exits() if ex.passable)
    await a.command(away.direction, "Exits:")
    await a.command("explored", r"\d+/\d+")
    a.send("quit")
    await a.wait_closed()
    pid = app.game.online.get("pilgrim") or None
    assert pid is None
    await wait_until(lambda: app.writebehind.dirty_count == 0, what="the logout save")
    rooms = {r.room_id for r in await query(app.store, sa.select(explored_rooms.c.room_id))}
    rites = {r.rite for r in await query(app.store, sa.select(rite_cooldowns.c.rite))}
    met = await query(app.store, sa.select(horror_encounters.c.kind,
                                           horror_encounters.c.meetings))
    ((kept,),) = await query(app.store, sa.select(sa.func.count()).select_from(liabilities))
    assert {here.id, away.to} <= rooms
    assert rites == {"pray", "meditate"}
    assert [tuple(m) for m in met] == [("ghoul", 1)]
    assert kept == 0  # a loss of 12 in the same tier: no liability
    a = await login(app, "Pilgrim", create=False)
    await a.command("pray", "so soon")
    await a.command("meditate", "so soon")
    await a.command("explored", r"\d+/\d+")
    assert {here.id, away.to} <= app.game.online["pilgrim"].mind.explored
    await admin.command("frighten pilgrim horrific ghoul", "-5 lucidity")  # met before
    await a.close()
    await admin.close()


async def test_room_map_at_login_holds_the_rooms_explored_before(start_server,
                                                                  tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'map.db'}", **QUIET)
    world = app.game.world
    here = world.rooms[world.start_room]
    away = next(ex for ex in here.visible_exits() if ex.passable)
    a = await login(app, "Surveyor")
    first = await a.expect_gmcp("Room.Map")
    assert first == {"rooms": []}  # nothing explored before the first login
    added = await a.expect_gmcp("Room.Map.Add")
    assert [r["num"] for r in added["rooms"]] == [here.id]
    await a.command(away.direction, "Exits:")
    added = await a.expect_gmcp("Room.Map.Add")
    assert [r["num"] for r in added["rooms"]] == [away.to]
    await a.command(OPPOSITE[away.direction], "Exits:")  # been there: nothing new
    a.send("quit")
    await a.wait_closed()
    assert [p for p, _ in a.gmcp].count("Room.Map.Add") == 2
    await wait_until(lambda: app.writebehind.dirty_count == 0, what="the logout save")

    a = await login(app, "Surveyor", create=False)
    known = await a.expect_gmcp("Room.Map")
    assert sorted(r["num"] for r in known["rooms"]) == sorted({here.id, away.to})
    entry = next(r for r in known["rooms"] if r["num"] == away.to)
    target = world.rooms[away.to]
    assert entry["name"] == target.name
    assert entry["coords"] == {"x": target.coords.x, "y": target.coords.y,
                               "z": target.coords.z}
    assert entry["exits"] == {DIR_SHORT[e.direction]: e.to for e in target.visible_exits()}
    assert here.id in entry["exits"].values()
    await a.close()
    # A client that does not take Room gets no map.
    b = await login(app, "Surveyor", create=False, supports=["Char 1"])
    await b.command("look", "Exits:")
    assert not any(p.lower().startswith("room") for p, _ in b.gmcp)
    await b.close()


async def test_cooldown_ends_and_group_solace(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'g.db'}", minute_seconds=0.05,
                             **QUIET)
    admin = await staff(app, "Vicar")
    a = await login(app, "Mourner")
    await a.command("group_solace", "You talk it through")  # the admin is company
    await admin.expect("talks through what they have seen")
    await set_lcd(admin, a, "mourner", 40)
    await admin.command("set vicar lucidity 40", "Vicar's lucidity: 100 -> 40")
    await wait_until(lambda: app.game.online["mourner"].lucidity == 40)
    # 20 minutes of 0.05 s: one second.
    await wait_until(lambda: app.game.lucidity.cooldown_left(app.game.online["mourner"],
                                                             "group_solace") == 0, timeout=5)
    await a.command("group_solace", "You talk it through")
    await wait_until(lambda: app.game.online["mourner"].lucidity == 44
                     and app.game.online["vicar"].lucidity == 44)
    await a.close()
    await admin.command("group_solace", "no one here")
    await admin.close()


async def test_folk_tonic_is_used_up_and_therapy_needs_the_doctor(start_server, db_url) -> None:
    app = await start_server(db_url, **QUIET)
    admin = await staff(app, "Apothecary")
    a = await login(app, "Tippler")
    await a.command("folk_tonic", "You have no folk tonic")
    [bottle] = await grant(app, "folk_tonic", to="Tippler")
    await set_lcd(admin, a, "tippler", 50)
    await a.command("folk_tonic", "You drink the tonic")
    await wait_until(lambda: app.game.online["tippler"].lucidity == 53)
    assert bottle not in app.game.online["tippler"].items
    left = await query(app.store, sa.select(items_table.c.id)
                       .where(items_table.c.id == bottle.id))
    assert left == []  # the bottle is gone from the database too
    await a.command("therapy", "Therapy needs a doctor")
    await admin.command("teleport tippler sanitarium.office", "You send Tippler")
    await a.command("therapy", "The doctor listens")
    await wait_until(lambda: app.game.online["tippler"].lucidity == 68)
    await a.close()
    await admin.close()


async def test_reading_the_forbidden_book(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'b.db'}", **QUIET)
    a = await login(app, "Scholar")
    await a.command("read folio", "You aren't carrying that")
    await grant(app, "forbidden_book", to="Scholar")
    await a.command("read folio", "how little you are in it")
    await wait_until(lambda: app.game.online["scholar"].lucidity == 80)
    await a.command("status", r"Lucidity\s+80 \(lucid\)[\s\S]*Liabilities")
    await a.command("read folio", "no easier")
    await wait_until(lambda: app.game.online["scholar"].lucidity == 70)
    await a.close()


# -- horrors seen ------------------------------------------------------------------------------

async def test_seeing_a_horror_npc_costs_lucidity_once_per_npc(start_server, tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'n.db'}")  # NPCs on
    builder = await staff(app, "Summoner", "admin")
    a = await login(app, "Witness")
    await builder.command("spawn ghoul", "You spawn")
    await wait_until(lambda: app.game.online["witness"].lucidity == 88)  # horrific: -12
    await a.expect("something in it tears")
    char = app.game.online["witness"]
    assert char.mind.encounters == {"ghoul": 1}
    mob = next(m for m in app.game.world.rooms[char.room_id].npcs if m.proto.id == "ghoul")
    app.game.npcs.sees(char, mob)  # the same ghoul again: no second loss
    assert char.lucidity == 88
    # Therapy needs the doctor: Dr. Hardwick keeps the office (not the office alone).
    await a.command("therapy", "Therapy needs a doctor")
    await builder.command("teleport witness sanitarium.office", "You send Witness")
    await a.command("therapy", "The doctor listens")
    await a.close()
    await builder.close()


async def test_mind_changes_saved_with_progress_and_put_back_on_failure(start_server,
                                                                        tmp_path) -> None:
    app = await start_server(f"sqlite:///{tmp_path / 'w.db'}", **QUIET)
    a = await login(app, "Diarist")
    char = app.game.online["diarist"]
    now = datetime.now(UTC)
    char.mind.set_cooldown("pray", now)
    app.game.changed(char)
    await app.writebehind.flush()
    assert not char.mind.pending
    ((n,),) = await query(app.store, sa.select(sa.func.count()).select_from(rite_cooldowns)
                          .where(rite_cooldowns.c.character_id == char.id))
    assert n == 1
    # A failed write puts the changes back, under anything newer.
    taken = char.mind.take_pending()
    char.mind.met("ghoul")
    taken.explored.add("arkham.square")
    char.mind.restore_pending(taken)
    assert char.mind.pending.encounters == {"ghoul": 1}
    assert "arkham.square" in char.mind.pending.explored
    await a.close()
