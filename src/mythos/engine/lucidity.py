"""Lucidity, exploration and Mythos time in the running game (RULES.md, Lucidity, Exploration,
Mythos time). The numbers and the pure rules are in ``rules/lucidity.py`` and
``rules/mythostime.py``; this is where they meet the world, the sessions and the clock.

Two pulse subsystems: ``mythos_clock`` (every second: the hour's ``Mythos.Time``, dawn and
dusk) and ``lucidity`` (every ``lucidity_seconds``, 6 by default: passive flux and the tier
effects, each round spread over up to ``FLUX_SLICES`` pulses). Both walk only the online
characters and do no IO: every change goes through ``Game.changed`` to the write-behind, like
any other progress.

Every change of a character's LCD goes through ``adjust`` (tier messages, liabilities,
delirium); every horror met goes through ``encounter``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from mythos.engine import gmcp
from mythos.engine.session import Session
from mythos.rules import lucidity as rules
from mythos.rules import mythostime as mtime
from mythos.store import MindRows, MindStore
from mythos.world.mind import Mind
from mythos.world.model import Character

if TYPE_CHECKING:
    from mythos.engine.game import Game

log = structlog.get_logger(__name__)

#: A round of passive flux (one tick for everyone online) is spread over at most this many
#: steps of the pulse, so that with thousands online no single pulse walks them all.
FLUX_SLICES = 20


@dataclass(slots=True)
class _Census:
    """Everyone online at the start of a flux round: their tiers and rooms then, each room's
    good and bad company, and whether it was day."""

    online: list[Character]
    tiers: list[str]
    rooms: list[str]
    company: dict[str, list[int]]
    day: bool
    #: Nothing has happened since it was taken (the first step of its round).
    fresh: bool = True


class Lucidity:
    """One per ``Game``."""

    def __init__(self, game: Game, *, wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.game = game
        s = game.settings
        self.wall = wall
        self.rng = rng or random.Random()
        self.db = MindStore(game.store.engines)
        if s.mythos_time_start:
            start = datetime.fromisoformat(s.mythos_time_start)
            self.clock = mtime.MythosClock.starting(wall(), start, s.mythos_time_rate)
        else:
            self.clock = mtime.MythosClock(rate=s.mythos_time_rate)
        self._last_time = self.mythos_now()
        #: Overrides every tier-effect chance when set (tests make effects certain).
        self.effect_chance: float | None = s.lucidity_effect_chance
        game.pulse.add("mythos_clock", self.clock_tick, seconds=1.0)
        #: Steps of the pulse a flux round is spread over (``flux_step``).
        self.flux_slices = max(1, min(FLUX_SLICES, round(s.lucidity_seconds / game.pulse.period)))
        self._round: _Census | None = None
        self._slice = 0
        game.pulse.add("lucidity", self.flux_step, seconds=s.lucidity_seconds / self.flux_slices)
        npcs = getattr(game, "npcs", None)
        if npcs is not None:
            npcs.on_sight.append(self.saw_npc)  # seeing a horror is an encounter

    # -- time ---------------------------------------------------------------------------------
    def mythos_now(self) -> datetime:
        return self.clock.at(self.wall())

    def now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.wall(), UTC)

    def is_day(self) -> bool:
        return mtime.is_day(self.mythos_now())

    def send_time(self, session: Session) -> None:
        session.oob("Mythos.Time", mtime.gmcp_time(self.mythos_now()))

    def clock_tick(self) -> None:
        """Each Mythos hour: ``Mythos.Time`` to everyone; dawn and dusk to outdoor rooms."""
        before, now = self._last_time, self.mythos_now()
        self._last_time = now
        if mtime.hour_key(before) == mtime.hour_key(now):
            return
        data = mtime.gmcp_time(now)
        messages = [mtime.DAWN if c == "dawn" else mtime.DUSK
                    for c in mtime.crossings(before, now)]
        for char in self.game.online.values():
            session = self._session(char)
            if session is None:
                continue
            session.oob("Mythos.Time", data)
            if messages and self.game.world.rooms[char.room_id].outdoors:
                for text in messages:
                    session.write(text)

    # -- login --------------------------------------------------------------------------------
    async def load(self, character_id: int) -> MindRows:
        return await self.db.load(character_id)

    @staticmethod
    def attach(char: Character, rows: MindRows | None) -> None:
        """Give a character loaded from the database its mind."""
        char.mind = Mind() if rows is None else Mind(
            explored=set(rows.explored), encounters=dict(rows.encounters),
            cooldowns=dict(rows.cooldowns), liabilities=dict(rows.liabilities))

    # -- LCD changes --------------------------------------------------------------------------
    def adjust(self, char: Character, delta: int, *, cause: str = "") -> int:
        """Change ``char``'s LCD by ``delta`` (clamped): the one way LCD changes. Tells the
        player of a new tier, gives a liability on a big loss or a worse tier, and takes a
        delirious character to the Sanitarium. Returns the change made."""
        old = char.lucidity
        new = rules.clamp(old + delta)
        if new == old:
            return 0
        char.lucidity = new
        old_tier, new_tier = rules.tier(old), rules.tier(new)
        self.game.changed(char, vitals=True)
        session = self._session(char)
        if new_tier != old_tier and session is not None:
            session.write(rules.TIER_MESSAGES[new_tier])
        loss = old - new
        if loss > 0 and rules.gains_liability(loss, old_tier, new_tier):
            self.gain_liability(char)
        if cause:
            log.debug("lucidity_changed", name=char.name, old=old, new=new, cause=cause)
        if new <= rules.DELIRIUM_AT:
            self.delirium(char)
        return new - old

    def set_to(self, char: Character, value: int, *, cause: str = "") -> int:
        return self.adjust(char, value - char.lucidity, cause=cause)

    def gain_liability(self, char: Character) -> str | None:
        name = rules.pick_liability(char.mind.liabilities, self.rng.random())
        if name is None:
            return None
        char.mind.gain_liability(name, self.now_utc())
        self.game.changed(char)
        session = self._session(char)
        if session is not None:
            session.write(f"{{r}}Something in you has changed for good: {name}.{{x}}")
        return name

    def delirium(self, char: Character) -> None:
        """LCD at or below -10: taken to the Sanitarium with LCD 10."""
        game = self.game
        origin = game.world.rooms[char.room_id]
        target = game.world.rooms.get(game.world.respawn_room, origin)
        session = self._session(char)
        if session is not None:
            session.write("{R}The world comes apart like wet paper. Hands hold you; someone "
                          "is screaming, and it is you.{x}")
            session.write("{c}You wake in the Arkham Sanitarium, in a clean bed that smells of "
                          "carbolic. The worst of it has passed, for now.{x}")
        char.lucidity = rules.DELIRIUM_TO
        game.relocate(char, target,
                      leaves="collapses, raving, and is carried away by two orderlies in white.",
                      arrives="is brought in by two orderlies, pale and shaking.")
        game.changed(char, vitals=True)
        log.info("delirium", name=char.name, origin=origin.id)

    # -- encounters ---------------------------------------------------------------------------
    def encounter(self, char: Character, category: str, kind: str) -> int:
        """``char`` meets a horror of ``category`` (disturbing, horrific, cosmic) of ``kind``
        (an NPC prototype id, 'forbidden_book' ...). Counts the meeting (kept across logins)
        and takes the LCD it costs; returns the loss (a positive number)."""
        if category not in rules.ENCOUNTER_LOSS:
            raise ValueError(f"no horror category {category!r}")
        before = char.mind.met(kind)
        loss = rules.encounter_loss(category, before)
        self.game.changed(char)
        session = self._session(char)
        if session is not None:
            session.write(_ENCOUNTER_TEXT[category] if before == 0 else
                          "{m}Again. It is no easier the second time, or the tenth.{x}")
        self.adjust(char, -loss, cause=f"encounter:{kind}")
        return loss

    def saw_npc(self, char: Character, npc: Any) -> int:
        """``char`` sees the NPC ``npc`` (its ``horror`` category, if any): an encounter, once
        per NPC instance and login. The NPCs call this on every sighting (``Npcs.on_sight``).
        Returns the loss (0 when nothing happened)."""
        category = getattr(npc, "horror", None)
        key = getattr(npc, "id", id(npc))
        if not category or key in char.mind.seen_npcs:
            return 0
        char.mind.seen_npcs.add(key)
        return self.encounter(char, category, npc.proto.id)

    # -- exploration --------------------------------------------------------------------------
    def visit(self, char: Character) -> None:
        """``char`` is in its room (login, after a move): the first visit is recorded, and
        its client's map gets the room (``Room.Map.Add``)."""
        if char.mind.explore(char.room_id):
            self.game.changed(char)
            session = self._session(char)
            room = self.game.world.rooms.get(char.room_id)
            if session is not None and room is not None:
                session.oob("Room.Map.Add", gmcp.room_map([room]))

    def send_map(self, session: Session) -> None:
        """``Room.Map`` at login: every room the character has explored before."""
        char = session.char
        if char is None or not session.wants("Room.Map"):
            return
        rooms = self.game.world.rooms
        session.oob("Room.Map", gmcp.room_map(
            rooms[rid] for rid in sorted(char.mind.explored) if rid in rooms))

    # -- the flux subsystem -------------------------------------------------------------------
    def flux_tick(self) -> None:
        """One whole tick of passive flux for every online character: O(online), no IO."""
        self._flux(self._census(), slice(None))

    def flux_step(self) -> None:
        """The pulse's part of the flux: a round (one tick for everyone online when it began)
        spread over ``flux_slices`` steps, so that no pulse walks everyone. Whoever comes
        online during a round waits for the next; whoever leaves is skipped."""
        if self._round is None:
            self._round = self._census()
            self._slice = 0
        census, n = self._round, self.flux_slices
        size = len(census.online)
        i = self._slice
        self._flux(census, slice(size * i // n, size * (i + 1) // n))
        self._slice = i + 1
        if self._slice >= n:
            self._round = None

    def _census(self) -> _Census:
        """Who is online, their tiers, and the good and bad company of each room."""
        online = list(self.game.online.values())
        tiers = [rules.tier(c.lucidity) for c in online]
        company: dict[str, list[int]] = {}  # room id -> [good, bad]
        rooms = [c.room_id for c in online]
        for rid, t in zip(rooms, tiers, strict=True):
            counts = company.get(rid)
            if counts is None:
                counts = company[rid] = [0, 0]
            if t in rules.GOOD_COMPANY:
                counts[0] += 1
            elif t in rules.BAD_COMPANY:
                counts[1] += 1
        return _Census(online, tiers, rooms, company, self.is_day())

    def _flux(self, census: _Census, part: slice) -> None:
        """The flux of the characters of ``census`` in ``part``; the room's company is the
        census's (the character itself left out of it)."""
        online_now = self.game.online
        rooms = self.game.world.rooms
        company = census.company
        day = census.day
        base_of: dict[str, float] = {}  # room id -> the room's flux this tick
        for c, counted_tier, counted_room in zip(census.online[part], census.tiers[part],
                                                 census.rooms[part], strict=True):
            if not census.fresh and online_now.get(c.name.lower()) is not c:
                continue  # left since the census
            rid = c.room_id
            base = base_of.get(rid)
            if base is None:
                room = rooms.get(rid)
                if room is None:
                    continue
                base = base_of[rid] = rules.base_flux(room.environment, day,
                                                      room.zone.lucidity_drain)
            mind = c.mind
            if mind.flux_room != rid:
                mind.flux_room = rid
                mind.flux_ticks_in_room = 0
            else:
                mind.flux_ticks_in_room += 1
            good, bad = company.get(rid) or (0, 0)
            if counted_room == rid:  # not its own company
                if counted_tier in rules.GOOD_COMPANY:
                    good -= 1
                elif counted_tier in rules.BAD_COMPANY:
                    bad -= 1
            t = counted_tier if census.fresh else rules.tier(c.lucidity)
            # rules.flux, with the room's part computed once per room
            if base < 0:
                base *= rules.resistance(mind.flux_ticks_in_room * rules.FLUX_SECONDS)
            delta = base + (rules.company_counts(good, bad) if good or bad else 0.0)
            if t == "catatonic" and delta > 0:
                delta = 0.0  # the catatonic wait for someone to ground them
            if (delta > 0 and c.lucidity >= rules.LCD_MAX) or (
                    delta < 0 and c.lucidity <= rules.LCD_MIN):
                mind.flux_fraction = 0.0
                continue
            whole, mind.flux_fraction = rules.accumulate(mind.flux_fraction, delta)
            if whole:
                self.adjust(c, whole)
            if c.link is not None and t != "lucid":
                self.tier_effects(c)
        census.fresh = False

    def chance(self, default: float) -> bool:
        p = default if self.effect_chance is None else self.effect_chance
        return self.rng.random() < p

    def tier_effects(self, char: Character) -> None:
        """Whispers (uneasy and worse) and false arrivals (fractured and worse)."""
        session = self._session(char)
        t = rules.tier(char.lucidity)
        if session is None or t in ("lucid", "catatonic"):
            return
        if self.chance(rules.WHISPER_CHANCE):
            session.write("{m}" + self.rng.choice(rules.WHISPERS) + "{x}")
        if rules.fractured(t) and self.chance(rules.FALSE_ARRIVAL_CHANCE):
            session.write("{g}" + self.rng.choice(rules.FALSE_ARRIVALS) + "{x}")

    def perceive_room(self, char: Character, text: str) -> str:
        """A room as a fractured (or worse) mind sees it: sometimes wrong."""
        if rules.fractured(rules.tier(char.lucidity)) and self.chance(rules.ALTERED_CHANCE):
            lines = text.split("\n")
            lines.insert(2 if len(lines) > 2 else len(lines),
                         "{m}" + self.rng.choice(rules.ALTERED_LINES) + "{x}")
            return "\n".join(lines)
        return text

    # -- what a troubled mind may do ----------------------------------------------------------
    def may_act(self, session: Session, char: Character, command: str) -> bool:
        """The catatonic lock: only help, who, status, time (and quit)."""
        if char.lucidity > 0 or command in rules.CATATONIC_ALLOWED:
            return True
        session.write("{m}You stare at nothing. Your body will not answer; someone must "
                      "ground you.{x}")
        return False

    def misfire(self, char: Character, command: str) -> str | None:
        """A deranged mind sometimes does something other than what was typed: the line it
        does instead, or None."""
        if rules.tier(char.lucidity) != "deranged" or command in rules.CATATONIC_ALLOWED:
            return None
        if not self.chance(rules.MISFIRE_CHANCE):
            return None
        room = self.game.world.rooms[char.room_id]
        ways = [e.direction for e in room.visible_exits() if e.passable]
        choices = [*rules.MISFIRES, *ways]
        return self.rng.choice(choices)

    # -- ground -------------------------------------------------------------------------------
    def ground(self, helper: Character, target: Character) -> str | None:
        """``helper`` brings a catatonic ``target`` back to LCD 1; a problem, or None."""
        if target is helper:
            return "You cannot reach yourself from where you are."
        if target.lucidity > 0:
            return f"{target.name} is not lost; there is nothing to bring back."
        self.set_to(target, rules.GROUND_TO, cause=f"ground:{helper.name}")
        return None

    # -- recovery rites -----------------------------------------------------------------------
    def cooldown_left(self, char: Character, rite: str) -> float:
        """Real seconds until ``rite`` may be used again (0 when ready)."""
        until = char.mind.cooldowns.get(rite)
        if until is None:
            return 0.0
        return max(0.0, (until - self.now_utc()).total_seconds())

    def start_cooldown(self, char: Character, rite: rules.Rite) -> None:
        seconds = rite.cooldown_minutes * self.game.settings.minute_seconds
        char.mind.set_cooldown(rite.name, self.now_utc() + timedelta(seconds=seconds))
        self.game.changed(char)

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _session(char: Character) -> Session | None:
        link = char.link
        return link if isinstance(link, Session) else None


_ENCOUNTER_TEXT = {
    "disturbing": "{m}Your stomach turns. Some things should not be.{x}",
    "horrific": "{r}Your mind recoils from what it has seen, and something in it tears.{x}",
    "cosmic": "{R}For one moment you understand the size of the dark, and how little you "
              "are in it.{x}",
}
