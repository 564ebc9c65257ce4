"""Bot players: log in, then play a mix of commands and time each answer.

A bot sends one command, then waits for *its* answer: each action says what the answer looks
like (a unique tag the bot said, the name of the room it looks at, the header of ``who``, the
``Room.Info`` that follows a move), so a crowded room's chatter is never taken for the answer.
The time recorded is from the write to the arrival of the chunk holding the answer: the time to
its first byte, as far as one network read can tell.

What a bot does is a weighted table of actions (``MIXES``); an action that needs a command the
server does not have (``requires``) is left out, so items, channels and fights join the mix by
adding a row once the server has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.transport import TRANSPORTS, LoginRefused, Transport

#: Bytes of earlier text kept, so an answer cut between two reads is still found.
TAIL = 160
#: A password both servers' validators accept.
PASSWORD = "Xq7.Lm3-Vw9r"
COMMAND_TIMEOUT = 10.0
LOGIN_TIMEOUT = 90.0
#: Steps a bot walks away from the start room after its login (the "scatter" mix: idle
#: players, then silent; the ramp's newcomers, before they play).
SCATTER_STEPS = 12
#: The chance that a scattering bot goes on the way it went, where it can.
KEEP_HEADING = 0.75


def scatter_seconds(pace: float) -> float:
    """The longest a scatter takes, its steps ``pace`` seconds apart (jittered up to +50%)."""
    return 1.5 * pace * SCATTER_STEPS


class LoginFailed(Exception):
    pass


def login_failure(bot: Bot, exc: BaseException) -> str:
    """Why a login failed, short and without the bot's name (so equal reasons count together):
    the exception, and the last line the server sent before it."""
    text = exc.__class__.__name__
    detail = str(exc).replace(bot.name, "<bot>").strip()
    if detail:
        text += f": {detail[:100]}"
    last = [ln for ln in re.sub(rb"\x1b\[[0-9;]*m", b"", bot.login_text).decode(
        "utf-8", "replace").replace(bot.name, "<bot>").splitlines() if ln.strip()]
    if last:
        text += f" (last text: {last[-1].strip()[:100]!r})"
    return text


# -- what the servers say -----------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """What a bot must know of one server: how to log in and how its answers look."""

    name: str
    greeting: bytes  # the login screen is up
    who: bytes  # the first line of who's answer
    look: bytes | None  # the first line of look's answer; None: the room name from Room.Info
    refusals: tuple[bytes, ...]  # a command understood but refused ("You can't go that way.")
    errors: tuple[bytes, ...]  # not understood, or dropped ("Huh?", "too fast")
    emote: str = "emote"
    #: The environment (``Room.Info``) of the room the dead wait in, to ``respawn`` from.
    limbo: str | None = None


MYTHOS = Profile(
    name="mythos", greeting=b"By what name", who=b"Investigators in Arkham", look=None,
    refusals=(b"You can't go that way", b" is closed.", b"You need to stand",
              b"Slow down: at most", b"fighting for your life", b"You are mortally wounded"),
    errors=(b"Huh?", b"typing faster than Arkham", b"Something went wrong"),
    limbo="void",
)
EVENNIA = Profile(
    name="evennia", greeting=b"<username>", who=b"Accounts:", look=b"Limbo",
    refusals=(b"You can't go",),
    errors=(b"is not available", b"entered commands too fast"),
)
PROFILES = {p.name: p for p in (MYTHOS, EVENNIA)}


# -- what bots do ---------------------------------------------------------------------------------

@dataclass
class Expect:
    """What the answer to the command just sent looks like."""

    patterns: tuple[bytes, ...] = ()  # any of these in the text
    oob: str | None = None  # or this out-of-band package
    any_text: bool = False  # or whatever text comes first
    refusals: tuple[bytes, ...] = ()
    errors: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Action:
    name: str
    weight: float
    make: Callable[[Bot], tuple[str, Expect] | None]  # None: not possible just now
    requires: str | None = None  # a command word the server must offer
    #: Taken whenever possible, ahead of the weighted pick (fleeing, respawning): a weight
    #: large enough to say so would crowd out the rest while it is not possible.
    urgent: bool = False


def _look(bot: Bot) -> tuple[str, Expect] | None:
    marker = bot.profile.look
    if marker is None:
        if not bot.room_name:
            return None
        marker = bot.room_name.encode()
    return "look", Expect(patterns=(marker,))


def _open_exits(bot: Bot) -> list[str]:
    """The exits of the bot's room (from ``Room.Info``) not behind a closed door."""
    return [d for d in bot.exits if bot.doors.get(d, "open") == "open"]


def _walk(bot: Bot) -> tuple[str, Expect] | None:
    exits = _open_exits(bot)
    if not exits or bot.combat is not None:  # no walking away from a fight but by fleeing
        return None
    return bot.rng.choice(exits), Expect(oob="Room.Info")


def _say(bot: Bot) -> tuple[str, Expect]:
    tag = bot.tag()
    return f"say {tag} the stars are nearly right", Expect(patterns=(tag.encode(),))


def _emote(bot: Bot) -> tuple[str, Expect]:
    tag = bot.tag()
    return f"{bot.profile.emote} glances at the window ({tag})", Expect(patterns=(tag.encode(),))


def _drop(bot: Bot) -> tuple[str, Expect] | None:
    """Put one coin down (every character starts with some): one economy transaction."""
    if bot.coin_room is not None:
        return None
    bot.coin_room = str(bot.room.get("num", ""))
    return "drop 1 coin", Expect(patterns=(b"You drop",),
                                 refusals=(b"You aren't carrying", b"You can't"))


def _get(bot: Bot) -> tuple[str, Expect] | None:
    """Pick a coin up again where this bot dropped one."""
    if bot.coin_room is None or bot.coin_room != str(bot.room.get("num", "")):
        return None
    bot.coin_room = None
    return "get 1 coin", Expect(patterns=(b"You get",),
                                refusals=(b"You don't see", b"You can't"))


def _scatter(bot: Bot) -> tuple[str, Expect] | None:
    """Walk a few steps away from where characters appear, mostly straight on (a random walk
    would stay near its start), then nothing more: newcomers spread over the world, not all
    standing in its first room."""
    if bot.scatter_left <= 0 or bot.combat is not None:
        return None
    exits = _open_exits(bot)
    if not exits:
        return None
    keep = bot.heading in exits and bot.rng.random() < KEEP_HEADING
    bot.heading = bot.heading if keep else bot.rng.choice(exits)
    bot.scatter_left -= 1
    return bot.heading, Expect(oob="Room.Info")


def _local(bot: Bot) -> tuple[str, Expect]:
    tag = bot.tag()
    return f"local {tag} has anyone seen the professor", Expect(patterns=(tag.encode(),))


def _fight(bot: Bot) -> tuple[str, Expect] | None:
    """Pick a fight with something in the room that may be fought (``Room.Npcs``), when
    not fighting already and in good health. The fight goes on by itself, a round every few
    seconds, while the bot does other things (but walk)."""
    if bot.combat is not None or bot.hurt:
        return None
    foes = [n for n in bot.npcs if n.get("attrib") == "m"]
    if not foes:
        return None
    word = str(bot.rng.choice(foes).get("name", "")).split()[-1:]  # "a stray dog": "dog"
    if not word:
        return None
    return f"attack {word[0]}", Expect(patterns=(b"You attack",), refusals=(
        b"You see nothing like that", b"You are already fighting", b"You think better of it",
        b"nothing here to fight"))


def _flee(bot: Bot) -> tuple[str, Expect] | None:
    """Run from a fight going badly: a move to a random exit, or no luck."""
    if bot.combat is None or not bot.hurt:
        return None
    return "flee", Expect(oob="Room.Info", refusals=(b"cannot get away", b"not fighting"))


def _respawn(bot: Bot) -> tuple[str, Expect] | None:
    """Back from the dead (the room the dead wait in)."""
    if not bot.dead:
        return None
    return "respawn", Expect(oob="Room.Info", refusals=(b"You are not dead",))


def _who(bot: Bot) -> tuple[str, Expect]:
    return "who", Expect(patterns=(bot.profile.who,))


def _inventory(bot: Bot) -> tuple[str, Expect]:
    # Mythos: "You are carrying:"; Evennia: "You are carrying:" / "You are not carrying".
    return "inventory", Expect(patterns=(b"You are carrying", b"You are not carrying"))


LOOK = Action("look", 3, _look)
WALK = Action("walk", 4, _walk)
SAY = Action("say", 2, _say)
EMOTE = Action("emote", 1, _emote)
WHO = Action("who", 0.2, _who)
INVENTORY = Action("inventory", 1, _inventory, requires="inventory")
LOCAL = Action("local", 0.5, _local, requires="local")
DROP = Action("drop", 0.5, _drop, requires="drop")
GET = Action("get", 1, _get, requires="get")
FIGHT = Action("fight", 1, _fight, requires="attack")
FLEE = Action("flee", 0, _flee, requires="flee", urgent=True)
RESPAWN = Action("respawn", 0, _respawn, requires="respawn", urgent=True)

#: The mixes, by name. Weights are relative; extend a mix by adding a row.
MIXES: dict[str, tuple[Action, ...]] = {
    # Bots wander the whole world and talk to whoever is there.
    "spread": (LOOK, WALK, SAY, EMOTE, WHO, INVENTORY, LOCAL, DROP, GET, FIGHT, FLEE, RESPAWN),
    # Everyone stays in one room: every say and emote is heard by all. At one command a
    # second, says and emotes stay under the game's 15 lines a minute (RULES.md).
    "crowded": (Action("say", 0.2, _say), Action("emote", 0.15, _emote),
                Action("look", 0.6, _look), Action("who", 0.05, _who)),
    # What Mythos and Evennia both understand (side by side): nobody walks.
    "common": (LOOK, SAY, EMOTE, WHO),
    # Idle players: a few steps away from the start room, then not a word more.
    "scatter": (Action("walk", 1, _scatter),),
    # The probe of a login storm: look, again and again.
    "probe": (Action("look", 1, _look),),
}


@functools.cache
def _split(actions: tuple[Action, ...]) -> tuple[tuple[Action, ...], tuple[Action, ...],
                                                  list[float]]:
    """A mix's urgent actions, the others, and their weights."""
    usual = tuple(a for a in actions if not a.urgent)
    return tuple(a for a in actions if a.urgent), usual, [a.weight for a in usual]


def usable(mix: str, available: set[str] | None) -> tuple[Action, ...]:
    """The actions of ``mix`` the server can do (``available``: its command words)."""
    return tuple(a for a in MIXES[mix]
                 if a.requires is None or available is None or a.requires in available)


# -- statistics ---------------------------------------------------------------------------------

@dataclass
class Stats:
    """What the bots of one process saw since the last reset. Latencies in microseconds."""

    started: float = field(default_factory=time.monotonic)
    latency: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # group/action
    by_transport: dict[str, list[int]] = field(default_factory=dict)  # "group:transport"
    outcomes: Counter[str] = field(default_factory=Counter)  # "group:action:outcome"
    errors: Counter[str] = field(default_factory=Counter)  # "group:kind"
    logins: dict[str, list[int]] = field(default_factory=dict)  # group -> login times
    loop_lag: list[int] = field(default_factory=list)
    cpu0: float = field(default_factory=time.process_time)

    def answered(self, group: str, action: str, outcome: str, micros: int,
                 transport: str = "telnet") -> None:
        self.latency.setdefault(group, {}).setdefault(action, []).append(micros)
        self.by_transport.setdefault(f"{group}:{transport}", []).append(micros)
        self.outcomes[f"{group}:{action}:{outcome}"] += 1

    def error(self, group: str, kind: str) -> None:
        self.errors[f"{group}:{kind}"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": time.monotonic() - self.started,
            "cpu_seconds": time.process_time() - self.cpu0,
            "latency_us": self.latency,
            "by_transport_us": self.by_transport,
            "outcomes": dict(self.outcomes),
            "errors": dict(self.errors),
            "logins_us": self.logins,
            "loop_lag_us": self.loop_lag,
        }


# -- one bot ------------------------------------------------------------------------------------

def bot_name(prefix: str, index: int) -> str:
    """A name of letters only: prefix + the index in base 26 (at least 4 letters)."""
    letters = ""
    n = index
    for _ in range(4):
        letters = chr(ord("a") + n % 26) + letters
        n //= 26
    while n:
        letters = chr(ord("a") + n % 26) + letters
        n //= 26
    return (prefix + letters)[:20].capitalize()


class Bot:
    def __init__(self, name: str, profile: Profile, *, group: str = "main",
                 transport: str = "telnet", seed: int | None = None) -> None:
        self.name = name
        self.profile = profile
        self.group = group
        self.rng = random.Random(seed if seed is not None else name)
        self.t: Transport = TRANSPORTS[transport](self._on_text, self._on_oob, self._on_close)
        self.room: dict[str, Any] = {}
        self.room_known = asyncio.Event()
        #: The NPCs in the room (``Room.Npcs``), the fight (``Char.Combat``: None when not
        #: fighting) and HP (``Char.Vitals``), as the server last said.
        self.npcs: list[dict[str, Any]] = []
        self.combat: dict[str, Any] | None = None
        self.hp: int | None = None
        self.max_hp: int | None = None
        self.logged_in = False
        self.closed = False
        self._counter = 0
        #: Where this bot left a coin lying (to pick it up again), if it did.
        self.coin_room: str | None = None
        #: Steps left to walk in the "scatter" mix.
        self.scatter_left = SCATTER_STEPS
        self.heading = ""
        self._tail = b""
        self._expect: Expect | None = None
        self._answer: asyncio.Future[tuple[str, float]] | None = None
        self._capture: bytearray | None = None
        #: The last text that arrived before the login completed (why a login failed).
        self.login_text = b""
        self.task: asyncio.Task[None] | None = None

    # -- what the server sends ------------------------------------------------------------------
    def _on_text(self, data: bytes, now: float) -> None:
        if self._capture is not None:
            self._capture += data
        if not self.logged_in:
            self.login_text = (self.login_text + data)[-TAIL:]
        e = self._expect
        if e is None:
            return
        buf = self._tail + data
        if e.any_text:
            return self._resolve("ok", now)
        for p in e.patterns:
            if p in buf:
                return self._resolve("ok", now)
        for p in e.refusals:
            if p in buf:
                return self._resolve("refused", now)
        for p in e.errors:
            if p in buf:
                return self._resolve("error", now)
        self._tail = buf[-TAIL:]
        return None

    def _on_oob(self, package: str, payload: bytes, now: float) -> None:
        follow = _FOLLOWED.get(package.lower())
        if follow is not None:
            try:
                follow(self, orjson.loads(payload))
            except ValueError:
                return
        e = self._expect
        if e is not None and e.oob is not None and package.lower() == e.oob.lower():
            self._resolve("ok", now)

    def _on_close(self) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError("connection closed"))

    def _resolve(self, outcome: str, now: float) -> None:
        self._expect = None
        self._tail = b""
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((outcome, now))

    def _room_info(self, info: Any) -> None:
        if isinstance(info, dict):
            self.room = info
            self.room_known.set()

    def _room_npcs(self, npcs: Any) -> None:
        self.npcs = [n for n in npcs if isinstance(n, dict)] if isinstance(npcs, list) else []

    def _char_combat(self, combat: Any) -> None:
        self.combat = combat if isinstance(combat, dict) else None

    def _char_vitals(self, vitals: Any) -> None:
        if isinstance(vitals, dict):
            self.hp, self.max_hp = vitals.get("hp"), vitals.get("maxhp")

    # -- what the bot knows -----------------------------------------------------------------------
    @property
    def dead(self) -> bool:
        """In the room the dead wait in."""
        return self.profile.limbo is not None and self.room.get("environment") == self.profile.limbo

    @property
    def hurt(self) -> bool:
        """Below half its HP."""
        return self.hp is not None and bool(self.max_hp) and self.hp * 2 < self.max_hp

    @property
    def unconscious(self) -> bool:
        """Mortally wounded (no HP left, not yet dead): nothing to do but bleed."""
        return self.hp is not None and self.hp <= 0 and not self.dead

    @property
    def room_name(self) -> str:
        return str(self.room.get("name", ""))

    @property
    def exits(self) -> dict[str, str]:
        ex = self.room.get("exits")
        return ex if isinstance(ex, dict) else {}

    @property
    def doors(self) -> dict[str, str]:
        d = self.room.get("doors")
        return d if isinstance(d, dict) else {}

    def tag(self) -> str:
        """A word no other line will contain: q<bot>z<counter>q."""
        self._counter += 1
        return f"q{self.name.lower()}z{self._counter}q"

    # -- doing things -----------------------------------------------------------------------------
    async def ask(self, line: str, expect: Expect, timeout: float = COMMAND_TIMEOUT,
                  ) -> tuple[str, float]:
        """Send ``line``; the outcome ("ok", "refused", "error") and seconds to the answer.
        Raises TimeoutError or ConnectionError."""
        if self.closed:
            raise ConnectionError("connection closed")
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._expect = expect
        self._tail = b""
        t0 = time.perf_counter()
        self.t.send_line(line)
        try:
            async with asyncio.timeout(timeout):
                outcome, t1 = await self._answer
        finally:
            self._expect = None
            self._answer = None
        return outcome, max(0.0, t1 - t0)

    async def wait_text(self, patterns: tuple[bytes, ...], timeout: float) -> None:
        """Wait for text without sending anything (the login screen)."""
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._expect = Expect(patterns=patterns)
        try:
            async with asyncio.timeout(timeout):
                await self._answer
        finally:
            self._expect = None
            self._answer = None

    async def login(self, host: str, port: int, timeout: float = LOGIN_TIMEOUT, *,
                    web_port: int | None = None) -> float:
        """Connect and log in (create the character, or connect to it when it exists).
        Seconds it took. ``web_port``: the HTTP port, for a transport that logs in there.
        Raises LoginFailed, TimeoutError, ConnectionError or OSError."""
        t0 = time.perf_counter()
        async with asyncio.timeout(timeout):
            if self.t.logs_in:
                if web_port is None:
                    raise LoginFailed(f"{self.t.name} needs the server's HTTP port")
                try:
                    await self.t.connect(host, web_port, timeout, name=self.name,
                                         password=PASSWORD)
                except LoginRefused as exc:
                    raise LoginFailed(str(exc)) from exc
                await self._room_known()
            else:
                self._expect = Expect(patterns=(self.profile.greeting,))
                self._answer = asyncio.get_running_loop().create_future()
                await self.t.connect(host, port, timeout)
                await self._answer
                self._expect = self._answer = None
                if self.profile is EVENNIA:
                    await self._login_evennia(timeout)
                else:
                    await self._login_mythos(timeout)
        self.logged_in = True
        return time.perf_counter() - t0

    async def _room_known(self) -> None:
        """The room arrives right after a login (GMCP Room.Info); walking and looking need it.
        A server that sends none (Evennia) is waited for a moment only."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5 if self.profile.look is None else 0.01):
                await self.room_known.wait()

    async def _login_mythos(self, timeout: float) -> None:
        outcome, _ = await self.ask(
            f"create {self.name} {PASSWORD}",
            Expect(patterns=(b"Welcome to Arkham",), refusals=(b"already taken",),
                   errors=(b"A name has", b"A password", b"word of the game", b"unreachable")),
            timeout)
        if outcome == "refused":
            outcome, _ = await self.ask(
                f"connect {self.name} {PASSWORD}",
                Expect(patterns=(b"Welcome back",), errors=(b"do not match", b"unreachable")),
                timeout)
        if outcome != "ok":
            raise LoginFailed(f"{self.name}: {outcome}")
        await self._room_known()

    async def _login_evennia(self, timeout: float) -> None:
        outcome, _ = await self.ask(f"create {self.name} {PASSWORD}",
                                    Expect(patterns=(b"[Y]/N?",), errors=(b"Usage",)), timeout)
        if outcome == "ok":
            # Created, or the name exists already (a run before this one): connect either way.
            await self.ask("y", Expect(patterns=(b"was created", b"already taken"),
                                       errors=(b"error", b"too many", b"banned")), timeout)
        outcome, _ = await self.ask(f"connect {self.name} {PASSWORD}",
                                    Expect(patterns=(b"You become",),
                                           errors=(b"incorrect", b"Too many")), timeout)
        if outcome != "ok":
            raise LoginFailed(f"{self.name}: {outcome}")

    async def collect(self, line: str, seconds: float, quiet: float = 0.3) -> bytes:
        """Send ``line`` and return the text that arrives: until nothing more has come for
        ``quiet`` seconds, ``seconds`` at most."""
        self._capture = bytearray()
        self.t.send_line(line)
        deadline = time.monotonic() + seconds
        seen, last = 0, time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if len(self._capture) != seen:
                seen, last = len(self._capture), time.monotonic()
            elif seen and time.monotonic() - last >= quiet:
                break
        out, self._capture = bytes(self._capture), None
        return out

    def pick(self, actions: tuple[Action, ...]) -> tuple[Action, str, Expect] | None:
        """The first urgent action possible, else a weighted pick; an action not possible
        just now (no exits) is picked again."""
        urgent, usual, weights = _split(actions)
        for action in urgent:
            made = action.make(self)
            if made is not None:
                return action, made[0], made[1]
        for _ in range(4 if usual else 0):
            action = self.rng.choices(usual, weights=weights)[0]
            made = action.make(self)
            if made is not None:
                return action, made[0], made[1]
        return None

    async def act(self, actions: tuple[Action, ...], stats: Stats) -> None:
        """One command of the mix, timed and counted (none while unconscious)."""
        if self.unconscious:
            return
        picked = self.pick(actions)
        if picked is None:
            return
        action, line, expect = picked
        expect.refusals = expect.refusals or self.profile.refusals
        expect.errors = expect.errors or self.profile.errors
        try:
            outcome, seconds = await self.ask(line, expect)
        except TimeoutError:
            stats.error(self.group, "timeout")
            return
        stats.answered(self.group, action.name, outcome, int(seconds * 1e6), self.t.name)
        if outcome == "error":
            stats.error(self.group, f"answer:{action.name}")

    async def play(self, actions: tuple[Action, ...], pace: float, running: asyncio.Event,
                   stats: Callable[[], Stats], *, scatter: bool = False) -> None:
        """Act every ``pace`` seconds (with +-50% jitter) while ``running`` is set; with
        ``scatter``, first walk away from the start room (``SCATTER_STEPS``, twice as fast),
        whether ``running`` is set or not."""
        if scatter:
            walk = MIXES["scatter"]
            for _ in range(2 * SCATTER_STEPS):  # a step may be refused (a locked door)
                if self.closed or self.scatter_left <= 0:
                    break
                await self.act(walk, stats())
                await asyncio.sleep(pace / 2 * self.rng.uniform(0.5, 1.5))
        await asyncio.sleep(self.rng.uniform(0, pace))  # bots do not start in step
        while not self.closed:
            if not running.is_set():
                await running.wait()
            try:
                await self.act(actions, stats())
            except ConnectionError:
                return  # counted by the load generator as a bot that lost its connection
            await asyncio.sleep(pace * self.rng.uniform(0.5, 1.5))

    def quit(self) -> None:
        if not self.closed:
            self.t.send_line("quit")
        self.t.close()


#: The out-of-band messages a bot follows (lower case), and what it does with each.
_FOLLOWED: dict[str, Callable[[Bot, Any], None]] = {
    "room.info": Bot._room_info, "room.npcs": Bot._room_npcs,
    "char.combat": Bot._char_combat, "char.vitals": Bot._char_vitals,
}
