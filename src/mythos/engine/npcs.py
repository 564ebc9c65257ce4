"""NPCs that live, fight and die: spawning, wandering, combat, health, death, Limbo, corpses.

``Npcs`` is owned by the event loop, one per ``Game`` (``game.npcs``).

- Every NPC of the world files is spawned at start-up (in chunks that yield to the loop).
  Per-NPC timers (wander, idle emote, an aggressive mob's attack beat, respawn, corpse decay)
  live in the pulse's ``TimerHeap``: no task per NPC, no polling of every NPC.
- Combat rounds, regeneration and bleeding are pulse subsystems that walk only who is fighting,
  hurt or dying.
- ``die`` is the ONE death path, whatever the cause: the corpse (made in the same database
  transaction that empties the dead into it, with its ``corpses`` row and a ``deaths``
  record), then the move to Limbo (players) or the respawn timer (NPCs), then the messages.
- ``sees(char, mob)`` is the one place where a player sees an NPC (on the player's arrival
  and on the NPC's); ``on_sight`` callbacks (lucidity encounters) hook in there.

Durations come from ``rules/combat.py`` divided by ``settings.time_scale``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from mythos.engine import gmcp
from mythos.engine.economy import Busy, Txn
from mythos.rules import combat as R
from mythos.rules.character import level_for_xp, max_hp
from mythos.store.items import Delete, room_owner
from mythos.store.npcs import CorpseRow as CorpseInfo
from mythos.store.npcs import DeathRecord, NpcStore
from mythos.world.items import Item, detach
from mythos.world.model import OPPOSITE, Character, Posture, Room
from mythos.world.npcs import Mob, NpcProto, mob_matches

if TYPE_CHECKING:
    from mythos.engine.game import Game

log = structlog.get_logger(__name__)

SPAWN_CHUNK = 500
Fighter = Character | Mob


def _name(who: Fighter) -> str:
    return who.name


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class Npcs:
    def __init__(self, game: Game) -> None:
        self.game = game
        self.world = game.world
        self.scale = game.settings.time_scale
        self.timers = game.pulse.timers
        self.rng = random.Random()
        self.store = NpcStore.of(game.store)
        self.mobs: dict[int, Mob] = {}
        self.population: Counter[str] = Counter()
        self._ids = itertools.count(1)
        #: Who each fighter is hitting.
        self.fighting: dict[Fighter, Fighter] = {}
        #: When each fighter last dealt or took a blow (loop time).
        self.last_blow: dict[Fighter, float] = {}
        #: The players who fought each NPC (they share its XP and may loot its corpse).
        self.foes: dict[Mob, set[Character]] = {}
        self.dying: set[Character] = set()  # mortally wounded players, bleeding
        self.hurt_mobs: set[Mob] = set()
        self._dead: set[Fighter] = set()  # between the blow and the death's commit
        self.corpses: dict[int, CorpseInfo] = {}
        #: Callbacks run when a player sees an NPC: ``fn(char, mob)`` (lucidity encounters).
        self.on_sight: list[Callable[[Character, Mob], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._home_step: dict[tuple[str, str], str | None] = {}
        self.deaths = 0
        pulse = game.pulse
        pulse.add("combat", self.combat_round, seconds=R.ROUND_SECONDS / self.scale)
        pulse.add("regeneration", self.regenerate, seconds=R.REGEN_SECONDS / self.scale)
        pulse.add("bleeding", self.bleed, seconds=R.BLEED_SECONDS / self.scale)

    def secs(self, game_seconds: float) -> float:
        return game_seconds / self.scale

    def _task(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- start-up ---------------------------------------------------------------------------
    async def start(self, spawn: bool = True) -> None:
        """Spawn every NPC (yielding to the loop every few hundred) and take up the corpses
        left from before the restart, with their decay times."""
        await self.load_corpses()
        if not spawn:
            return
        n = 0
        for proto in self.world.npc_protos.values():
            for _ in range(proto.max_population):
                if proto.required or self.rng.random() < proto.chance:
                    self.spawn(proto, announce=False)
                    n += 1
                    if n % SPAWN_CHUNK == 0:
                        await asyncio.sleep(0)
        log.info("npcs_spawned", count=n)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)

    # -- spawning ---------------------------------------------------------------------------
    def spawn(self, proto: NpcProto, room: Room | None = None, *, announce: bool = True,
              ) -> Mob:
        room = room or self.world.rooms[proto.home]
        mob = Mob(id=next(self._ids), proto=proto, room_id=room.id, hp=proto.hp,
                  max_hp=proto.hp)
        self.mobs[mob.id] = mob
        self.population[proto.id] += 1
        room.npcs.append(mob)
        if proto.wander:
            self._schedule_wander(mob)
        if proto.emotes:
            self._schedule_emote(mob)
        if announce:
            self.game.to_room(room, f"{_cap(mob.name)} appears.")
            self._room_npcs(room)
            for char in list(room.characters):
                self.sees(char, mob)
        return mob

    def _schedule_wander(self, mob: Mob) -> None:
        delay = self.secs(R.WANDER_SECONDS * self.rng.uniform(0.8, 1.2))
        mob.timers.append(self.timers.call_later(delay, lambda: self._wander(mob)))

    def _schedule_emote(self, mob: Mob) -> None:
        delay = self.secs(R.EMOTE_SECONDS * self.rng.uniform(0.5, 1.5))
        mob.timers.append(self.timers.call_later(delay, lambda: self._emote(mob)))

    def _prune(self, mob: Mob) -> None:
        mob.timers = [t for t in mob.timers if not t.cancelled]
        if len(mob.timers) > 8:
            mob.timers = mob.timers[-8:]

    def _emote(self, mob: Mob) -> None:
        if not mob.alive:
            return
        room = self.world.rooms[mob.room_id]
        if room.characters and mob not in self.fighting:
            self.game.to_room(room, self.rng.choice(mob.proto.emotes))
        self._prune(mob)
        self._schedule_emote(mob)

    def _wander(self, mob: Mob) -> None:
        if not mob.alive:
            return
        self._prune(mob)
        self._schedule_wander(mob)
        if mob in self.fighting or self.rng.random() >= R.WANDER_CHANCE:
            return
        here = self.world.rooms[mob.room_id]
        direction = None
        if mob.room_id != mob.proto.home and self.rng.random() < R.HOME_PULL:
            direction = self._towards_home(mob)
            if direction is not None and not here.exits[direction].passable:
                direction = None  # the way home is shut just now: drift elsewhere
        if direction is None:
            options = [ex.direction for ex in here.exits.values()
                       if ex.passable and not ex.hidden
                       and self.world.rooms[ex.to].area == mob.proto.area]
            if not options:
                return
            direction = self.rng.choice(options)
        self.move(mob, direction)

    def _towards_home(self, mob: Mob) -> str | None:
        """The first step of the shortest way home inside the mob's area (cached)."""
        key = (mob.room_id, mob.proto.home)
        if key in self._home_step:
            return self._home_step[key]
        start, goal, area = mob.room_id, mob.proto.home, mob.proto.area
        first: dict[str, str | None] = {start: None}
        queue = deque([start])
        found = None
        while queue:
            rid = queue.popleft()
            if rid == goal:
                found = first[rid]
                break
            for ex in self.world.rooms[rid].exits.values():
                if ex.to in first or ex.hidden or self.world.rooms[ex.to].area != area:
                    continue
                first[ex.to] = first[rid] or ex.direction
                queue.append(ex.to)
        self._home_step[key] = found
        return found

    def move_to(self, mob: Mob, room: Room) -> None:
        """Put an NPC in ``room`` at once (no messages; staff tools, benchmarks)."""
        here = self.world.rooms[mob.room_id]
        if mob in here.npcs:
            here.npcs.remove(mob)
        mob.room_id = room.id
        room.npcs.append(mob)

    def move(self, mob: Mob, direction: str) -> None:
        here = self.world.rooms[mob.room_id]
        ex = here.exits.get(direction)
        if ex is None or not ex.passable:
            return
        there = self.world.rooms[ex.to]
        here.npcs.remove(mob)
        self.game.to_room(here, f"{_cap(mob.name)} leaves {direction}.")
        self._room_npcs(here)
        mob.room_id = there.id
        there.npcs.append(mob)
        came = OPPOSITE[direction]
        where = ("above" if came == "up" else "below" if came == "down" else f"the {came}")
        self.game.to_room(there, f"{_cap(mob.name)} arrives from {where}.")
        self._room_npcs(there)
        for char in list(there.characters):
            self.sees(char, mob)

    def _room_npcs(self, room: Room) -> None:
        if room.characters:
            self.game.oob_room(room, "Room.Npcs", gmcp.room_npcs(room))

    # -- seeing ---------------------------------------------------------------------------
    def sees(self, char: Character, mob: Mob) -> None:
        """THE place where a player sees an NPC: on arrival of either. Hooks (lucidity
        encounters, by ``mob.horror``) run here; aggressive mobs decide to attack here."""
        for fn in self.on_sight:
            try:
                fn(char, mob)
            except Exception:
                log.exception("on_sight_failed")
        if (mob.proto.aggressive and mob not in self.fighting and self.can_fight(char)
                and char.role == "player"):  # staff are not hassled

            mob.timers.append(self.timers.call_later(
                self.secs(R.AGGRO_BEAT), lambda: self._aggro(mob, char)))

    def may_act(self, char: Character, command: str) -> bool:
        """Mortally wounded characters are unconscious: only a few commands still work."""
        return (char.hp > R.MORTAL_HP or command in R.WHILE_UNCONSCIOUS
                or char.room_id == self.world.limbo_room)

    def player_arrived(self, char: Character, room: Room) -> None:
        """A player came into ``room`` (walked, logged in, respawned, fled)."""
        if char.hp <= R.MORTAL_HP and room.id != self.world.limbo_room:
            self.check_health(char, "bled to death")  # left while dying: bleeds on
        for mob in list(room.npcs):
            self.sees(char, mob)
            if mob.proto.greeting and not mob.proto.attackable:
                self.tell(char, f"{{c}}{_cap(mob.name)} says, '{mob.proto.greeting}'{{x}}")
        link = char.link
        if link is not None and hasattr(link, "oob"):
            link.oob("Room.Npcs", gmcp.room_npcs(room))

    def _aggro(self, mob: Mob, char: Character) -> None:
        if (not mob.alive or mob in self.fighting or char.room_id != mob.room_id
                or not self.can_fight(char) or self.game.online.get(char.name.lower()) is not char):
            return
        room = self.world.rooms[mob.room_id]
        self.tell(char, f"{{R}}{_cap(mob.name)} lunges at you!{{x}}")
        self.game.to_room(room, f"{_cap(mob.name)} lunges at {char.name}!", exclude=(char,))
        self.engage(mob, char)

    def tell(self, char: Character, text: str) -> None:
        link = char.link
        if link is not None and hasattr(link, "write"):
            link.write(text)

    def in_room(self, room: Room, words: str) -> Mob | None:
        """The NPC in ``room`` named by ``words`` ('rat', '2.rat')."""
        count, _, rest = words.partition(".")
        nth = 1
        if rest and count.isdigit():
            nth, words = int(count), rest
        for mob in room.npcs:
            if mob.alive and mob_matches(mob, words):
                nth -= 1
                if nth == 0:
                    return mob
        return None

    def present(self, proto: Any, room_id: str) -> bool:
        """Whether a living NPC of ``proto`` is in the room (a shop's keeper, say)."""
        room = self.world.rooms.get(room_id)
        return room is not None and any(m.alive and m.proto is proto for m in room.npcs)

    def purge(self, mob: Mob) -> None:
        """Take an NPC out of the world without a death (staff); it respawns as usual."""
        self.stop_fighting(mob)
        mob.alive = False
        mob.cancel_timers()
        self.foes.pop(mob, None)
        self.hurt_mobs.discard(mob)
        room = self.world.rooms[mob.room_id]
        if mob in room.npcs:
            room.npcs.remove(mob)
        self.mobs.pop(mob.id, None)
        self.population[mob.proto.id] -= 1
        self._room_npcs(room)
        proto = mob.proto
        delay = proto.respawn if proto.respawn is not None else R.RESPAWN_SECONDS[proto.kind]
        self.timers.call_later(self.secs(delay), lambda: self._respawn(proto))

    # -- combat -----------------------------------------------------------------------------
    def can_fight(self, who: Fighter) -> bool:
        if who in self._dead:
            return False
        if isinstance(who, Mob):
            return who.alive
        return who.hp > R.MORTAL_HP and who.room_id != self.world.limbo_room

    def engage(self, attacker: Fighter, target: Fighter) -> None:
        now = asyncio.get_running_loop().time()
        self.fighting[attacker] = target
        self.last_blow[attacker] = now
        if target not in self.fighting:
            self.fighting[target] = attacker
            self.last_blow[target] = now
        for a, t in ((attacker, target), (target, attacker)):
            if isinstance(t, Mob) and isinstance(a, Character):
                self.foes.setdefault(t, set()).add(a)
        self._combat_gmcp(attacker)
        self._combat_gmcp(target)

    def in_fight(self, who: Fighter) -> bool:
        return who in self.fighting

    def stop_fighting(self, who: Fighter) -> None:
        """Take ``who`` out of every fight; those hitting it turn to another foe or stop."""
        self.fighting.pop(who, None)
        self.last_blow.pop(who, None)
        self._combat_gmcp(who)
        for other, target in list(self.fighting.items()):
            if target is who:
                nxt = next((a for a, t in self.fighting.items() if t is other), None)
                if nxt is not None:
                    self.fighting[other] = nxt
                else:
                    self.fighting.pop(other, None)
                    self.last_blow.pop(other, None)
                self._combat_gmcp(other)

    def _combat_gmcp(self, who: Fighter) -> None:
        if not isinstance(who, Character):
            return
        link = who.link
        if link is None or not hasattr(link, "oob"):
            return
        target = self.fighting.get(who)
        link.oob("Char.Combat", gmcp.combat(target))

    def combat_round(self) -> None:
        """One round: everyone fighting strikes once, quickest (dexterity) first."""
        if not self.fighting:
            return
        now = asyncio.get_running_loop().time()
        # (Never shorter than a few real seconds, however fast the clocks run: a loop that
        # lags under a sped-up clock must not end fights that are still going.)
        idle = max(self.secs(R.FIGHT_IDLE_SECONDS), R.FIGHT_IDLE_FLOOR)
        order = sorted(self.fighting, key=lambda f: R.stat(f, "dexterity"), reverse=True)
        for a in order:
            t = self.fighting.get(a)
            if t is None:
                continue
            if not self.can_fight(a) or not self.can_fight(t) or a.room_id != t.room_id:
                self.stop_fighting(a)  # fled, fell or gone: this fight is over
                continue
            if now - self.last_blow.get(a, now) > idle:  # no blows for 180 s
                if isinstance(a, Character):
                    self.tell(a, "The fight peters out; neither of you has landed a blow "
                                 "in ages.")
                self.stop_fighting(a)
                continue
            self.strike(a, t, now)

    def _weapon(self, char: Character) -> Item | None:
        return next((i for i in char.items if i.slot == "main_hand"), None)

    def strike(self, a: Fighter, t: Fighter, now: float) -> None:
        room = self.world.rooms[a.room_id]
        if isinstance(a, Character):
            weapon = self._weapon(a)
            base = R.weapon_damage(weapon.proto.id if weapon else None,
                                   weapon.proto.type if weapon else None)
            how = f"with {weapon.name}" if weapon else "with your fists"
        else:
            base, how = a.proto.damage, ""
        if isinstance(t, Character):
            armour = sum(R.ARMOUR_BY_PROTO.get(i.proto.id, 0) for i in t.items if i.slot)
        else:
            armour = t.proto.armour
        an, tn = _name(a), _name(t)
        if self.rng.random() >= R.hit_chance(a, t):
            self._say3(room, a, t, f"You miss {tn}.", f"{_cap(an)} misses you.",
                       f"{_cap(an)} misses {tn}.")
            return
        dmg = R.damage(base, R.stat(a, "strength"), armour, self.rng)
        self.last_blow[a] = now
        self.last_blow[t] = now
        mine = f"You hit {tn}{' ' + how if how else ''} ({dmg})."
        self._say3(room, a, t, mine, f"{{r}}{_cap(an)} hits you ({dmg}).{{x}}",
                   f"{_cap(an)} hits {tn}.")
        self.hurt(t, dmg, cause=f"killed by {an}")

    def _say3(self, room: Room, a: Fighter, t: Fighter, to_a: str, to_t: str,
              to_room: str) -> None:
        skip = []
        for who, text in ((a, to_a), (t, to_t)):
            if isinstance(who, Character):
                self.tell(who, text)
                skip.append(who)
        self.game.to_room(room, to_room, exclude=skip)

    def hurt(self, t: Fighter, dmg: int, cause: str) -> None:
        """Take ``dmg`` HP from ``t`` (a blow, or anything later) and handle what follows."""
        t.hp -= dmg
        for f, target in self.fighting.items():
            if target is t:
                self._combat_gmcp(f)
        if isinstance(t, Mob):
            self.hurt_mobs.add(t)
            if t.hp <= 0:
                self.die(t, cause)
            return
        self.game.changed(t, vitals=True)
        self.check_health(t, cause)

    def check_health(self, char: Character, cause: str) -> None:
        if char.hp <= R.DEAD_HP:
            self.die(char, cause)
        elif char.hp <= R.MORTAL_HP and (char not in self.dying
                                         or char.posture is not Posture.LYING):
            self.dying.add(char)
            self.stop_fighting(char)
            char.posture = Posture.LYING
            self.game.changed(char, vitals=True, status=True)
            self.tell(char, "{R}You are mortally wounded, and will die soon if not aided.{x}")
            self.game.to_room(self.world.rooms[char.room_id],
                              f"{char.name} is mortally wounded, and will die soon if not "
                              "aided.", exclude=(char,))

    def stabilize(self, char: Character) -> None:
        """Another player bound the wounds of a mortally wounded character: 1 HP, lying."""
        self.dying.discard(char)
        char.hp = 1
        char.posture = Posture.LYING
        self.game.changed(char, vitals=True, status=True)

    def bleed(self) -> None:
        for char in list(self.dying):
            if char in self._dead or self.game.online.get(char.name.lower()) is not char:
                self.dying.discard(char)
                continue
            if char.hp > R.MORTAL_HP:
                self.dying.discard(char)
                continue
            self.hurt(char, 1, cause="bled to death")

    def regenerate(self) -> None:
        limbo = self.world.limbo_room
        for char in list(self.game.online.values()):
            if (char.hp >= char.max_hp or char.hp <= R.MORTAL_HP or char in self.fighting
                    or char.room_id == limbo):
                continue
            gain = R.regen_amount(char.posture, R.stat(char, "constitution"))
            char.hp = min(char.max_hp, char.hp + gain)
            self.game.changed(char, vitals=True)
        for mob in list(self.hurt_mobs):
            if not mob.alive or mob.hp >= mob.max_hp:
                self.hurt_mobs.discard(mob)
            elif mob not in self.fighting:
                mob.hp = min(mob.max_hp, mob.hp + R.regen_amount(Posture.STANDING, 10))

    def flee(self, char: Character) -> str | None:
        """Try to run; returns the direction fled, or None (failed or nowhere to go)."""
        room = self.world.rooms[char.room_id]
        foes = [a for a, t in self.fighting.items() if t is char]
        exits = [ex for ex in room.exits.values() if ex.passable and not ex.hidden]
        if not exits or self.rng.random() >= R.flee_chance(char, foes):
            return None
        self.stop_fighting(char)
        return self.rng.choice(exits).direction

    # -- death ------------------------------------------------------------------------------
    def die(self, victim: Fighter, cause: str) -> None:
        """THE death path (blows, bleeding, anything later). Starts the death's
        transaction; the world changes when it has committed."""
        if victim in self._dead:
            return
        self._dead.add(victim)
        self.deaths += 1
        self.stop_fighting(victim)
        self.dying.discard(victim)  # type: ignore[arg-type]
        room = self.world.rooms[victim.room_id]
        if isinstance(victim, Mob):
            # Out of the fight and out of sight (not alive) now; gone from the room, its
            # death told and its XP given once the corpse is committed.
            victim.alive = False
            victim.cancel_timers()
            self.hurt_mobs.discard(victim)
            killers = [c for c in self.foes.pop(victim, set())
                       if self.game.online.get(c.name.lower()) is c]
            self._task(self._corpse(victim, room, [c.id for c in killers], cause),
                       f"death-{victim.name}")
        else:
            self._task(self._corpse(victim, room, [victim.id], cause), f"death-{victim.name}")

    def _mob_gone(self, mob: Mob, room: Room, looters: list[int]) -> None:
        """After an NPC's death has committed: out of the room, told, XP, respawn timer."""
        if mob in room.npcs:
            room.npcs.remove(mob)
        self.mobs.pop(mob.id, None)
        self.population[mob.proto.id] -= 1
        self.game.to_room(room, f"{{R}}{_cap(mob.name)} is dead! R.I.P.{{x}}")
        self._room_npcs(room)
        killers = [c for c in self.game.online.values() if c.id in looters]
        self._award_xp(mob, killers)
        proto = mob.proto
        delay = proto.respawn if proto.respawn is not None else R.RESPAWN_SECONDS[proto.kind]
        self.timers.call_later(self.secs(delay), lambda: self._respawn(proto))
        self._dead.discard(mob)

    def _respawn(self, proto: NpcProto) -> None:
        if self.population[proto.id] < proto.max_population:
            self.spawn(proto)

    def _award_xp(self, mob: Mob, killers: list[Character]) -> None:
        share = R.share_xp(mob.proto.xp, len(killers))
        for char in killers:
            char.xp += share
            self.tell(char, f"{{Y}}You receive {share} experience.{{x}}")
            level = level_for_xp(char.xp)
            status = False
            if level > char.level:
                char.level = level
                char.max_hp = max_hp(char.stats, level)
                status = True
                self.tell(char, f"{{Y}}You have reached level {level}!{{x}}")
                self.game.to_room(self.world.rooms[char.room_id],
                                  f"{char.name} looks more seasoned: level {level}.",
                                  exclude=(char,))
            self.game.changed(char, vitals=True, status=status)

    async def _corpse(self, victim: Fighter, room: Room, looters: list[int], cause: str,
                      attempt: int = 0) -> None:
        """The corpse, with what the dead carried (players) or their loot (NPCs), made in ONE
        transaction with the corpse's row and the death's record; then Limbo for a player."""
        economy = self.game.economy
        proto = self.world.protos.get("corpse")
        now = datetime.now(UTC)
        loot_until = now + timedelta(seconds=self.secs(R.LOOT_OWNER_SECONDS))
        decay_at = now + timedelta(seconds=self.secs(R.CORPSE_DECAY_SECONDS))
        who = victim.name
        record = DeathRecord(victim=who, room=room.id, cause=cause[:128],
                             character_id=victim.id if isinstance(victim, Character) else None)
        problem = None
        corpse: Item | None = None
        try:
            async with economy.turn(victim, room):
                if proto is None:
                    raise RuntimeError("the world has no 'corpse' item prototype")
                txn = Txn()
                made_corpse = txn.make(corpse_proto(proto, who), room)
                if isinstance(victim, Character):
                    for item in list(victim.items):
                        txn.move(item, item.quantity, made_corpse)
                else:
                    for spec in victim.proto.loot:
                        lp = self.world.protos.get(spec.proto)
                        if lp is None or self.rng.random() >= spec.chance:
                            continue
                        txn.create(lp, spec.quantity, made_corpse)
                made = await self.store.death(txn.ops, who, looters, loot_until, decay_at,
                                              record)
                txn.apply(made)
                economy.emit(txn.events)
                corpse = made_corpse
        except Busy:
            problem = "busy"
        except Exception as exc:
            problem = repr(exc)
        if problem is not None:
            log.warning("death_failed", victim=who, problem=problem, attempt=attempt)
            if attempt < 5:  # try again shortly: a death is never lost
                self.timers.call_later(1.0 + attempt, lambda: self._task(
                    self._corpse(victim, room, looters, cause, attempt + 1), "death-retry"))
                return
        if corpse is not None:
            self.corpses[corpse.id] = CorpseInfo(corpse.id, who, tuple(looters), loot_until,
                                                 decay_at)
            self._schedule_decay(corpse.id, decay_at)
        if isinstance(victim, Character):
            self._to_limbo(victim, room)
        else:
            self._mob_gone(victim, room, looters)

    def _to_limbo(self, char: Character, room: Room) -> None:
        self._dead.discard(char)
        self.dying.discard(char)
        self.tell(char, "{R}You are dead! Sorry...{x}")
        self.game.to_room(room, f"{{R}}{char.name} is dead! R.I.P.{{x}}", exclude=(char,))
        online = self.game.online.get(char.name.lower()) is char
        limbo = self.world.rooms[self.world.limbo_room]
        char.hp = 1
        char.posture = Posture.STANDING
        char.pose = ""
        if online:
            self.game.relocate(char, limbo, leaves="is gone; only the body remains.",
                               arrives="drifts in from the grey.")
            self.tell(char, "You drift in the grey. Type 'respawn' to return to Arkham.")
        else:
            char.room_id = limbo.id
        self.game.changed(char, vitals=True, status=True)

    def respawn(self, char: Character) -> None:
        room = self.world.rooms[self.world.respawn_room]
        char.hp = char.max_hp
        char.posture = Posture.STANDING
        self.game.relocate(char, room, leaves="fades from the grey.",
                           arrives="gasps awake here, whole again.")
        self.game.changed(char, vitals=True, status=True)

    # -- corpses ----------------------------------------------------------------------------
    def loot_refusal(self, char: Character, container: Item) -> str | None:
        """Owner-only looting of a fresh corpse; None when ``char`` may take from it."""
        info = self.corpses.get(container.id)
        if info is None or char.id in info.looters or datetime.now(UTC) >= info.loot_until:
            return None
        return "You may not loot that corpse yet: it is not yours."

    async def load_corpses(self) -> None:
        """After the economy has loaded the rooms: name each corpse and set its decay timer
        (overdue ones decay at once)."""
        rows = await self.store.load()
        items = {i.id: i for room in self.world.rooms.values() for i in room.items}
        gone = []
        proto = self.world.protos.get("corpse")
        for row in rows:
            item = items.get(row.item_id)
            if item is None or proto is None:
                gone.append(row.item_id)
                continue
            item.proto = corpse_proto(proto, row.name)
            self.corpses[row.item_id] = row
            self._schedule_decay(row.item_id, row.decay_at)
        if gone:
            await self.store.forget(gone)

    def _schedule_decay(self, item_id: int, decay_at: datetime) -> None:
        left = max(0.0, (decay_at - datetime.now(UTC)).total_seconds())
        self.timers.call_later(left, lambda: self._task(self._decay(item_id), "decay"))

    async def _decay(self, item_id: int) -> None:
        info = self.corpses.get(item_id)
        if info is None:
            return
        room = next((r for r in self.world.rooms.values()
                     for i in r.items if i.id == item_id), None)
        if room is None:
            self.corpses.pop(item_id, None)
            await self.store.forget([item_id])
            return
        corpse = next(i for i in room.items if i.id == item_id)
        try:
            async with self.game.economy.turn(room):
                txn = Txn()
                for item in list(corpse.contents):
                    txn.move(item, item.quantity, room)
                txn.ops.append(Delete(corpse.id, room_owner(room.id), 1))
                made = await self.store.decay(txn.ops, corpse.id)
                txn.apply(made)
                detach(corpse)
                self.game.economy.emit([*txn.events, ("remove", room, corpse)])
        except Exception as exc:
            log.warning("corpse_decay_failed", item=item_id, error=repr(exc))
            self.timers.call_later(5.0, lambda: self._task(self._decay(item_id), "decay"))
            return
        self.corpses.pop(item_id, None)
        spilled = " Its contents spill onto the floor." if txn.events else ""
        self.game.to_room(room, f"{_cap(corpse.name)} crumbles into dust.{spilled}")


def corpse_proto(proto: Any, whose: str) -> Any:
    """The corpse prototype named for one body: 'the corpse of a grey rat'."""
    words = tuple(w.lower() for w in whose.replace("-", " ").split()
                  if w.lower() not in ("a", "an", "the"))
    return dataclasses.replace(
        proto, name=f"the corpse of {whose}", keywords=(*proto.keywords, *words),
        long=f"The corpse of {whose} lies here.")


__all__ = ["Npcs", "corpse_proto"]
