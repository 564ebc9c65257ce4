"""The game: who is connected, who is in the world, and how they enter, leave and hear things.

``Game`` is owned by the event loop. It keeps the online characters in memory, sends each
session the out-of-band state it needs, and hands progress to the write-behind flusher.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import structlog
from argon2 import PasswordHasher

from mythos import __version__
from mythos.commands.table import CommandTable
from mythos.config import Settings
from mythos.engine import gmcp, guard
from mythos.engine.auth import Hasher, LoginThrottle
from mythos.engine.connection import Connection
from mythos.engine.economy import Economy
from mythos.engine.login import LoginDialogue
from mythos.engine.lucidity import Lucidity
from mythos.engine.npcs import Npcs
from mythos.engine.pulse import Pulse
from mythos.engine.session import Session
from mythos.engine.social import Social
from mythos.engine.views import room_text
from mythos.metrics import Metrics
from mythos.rules import movement
from mythos.store import CharacterRow, MindRows, Store, WriteBehind
from mythos.text import Shared
from mythos.world.model import Character, Posture, Room, World

log = structlog.get_logger(__name__)

#: Sends to many sessions yield to the loop after this many.
BROADCAST_CHUNK = 300
#: The output pulse flushes this many sessions, then lets the loop run before the next ones
#: (each turn of the loop also hands the chunk before to the sockets: a turn stays a few ms).
FLUSH_CHUNK = 25


class Game:
    def __init__(self, settings: Settings, world: World, store: Store, commands: CommandTable,
                 metrics: Metrics, writebehind: WriteBehind, pulse: Pulse) -> None:
        self.settings = settings
        self.world = world
        self.store = store
        self.commands = commands
        self.metrics = metrics
        self.writebehind = writebehind
        self.pulse = pulse
        self.hasher = Hasher(settings.hash_threads, PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism))
        self.throttle = LoginThrottle(settings.login_failure_delay)
        self.started_at = time.time()
        self.sessions: set[Session] = set()
        #: Sessions per client address (the per-address cap: engine/guard.py).
        self.per_host: Counter[str] = Counter()
        self.online: dict[str, Character] = {}  # name key -> character in the world
        self._online_sorted: list[str] | None = None  # its keys in order (online_names)
        #: Logout saves in flight.
        self._saving: set[asyncio.Task[bool]] = set()
        self.pending_output: set[Session] = set()
        self.shutting_down = False
        #: Set to ask the App for a clean shutdown (the staff's ``shutdown`` command)...
        self.stop_requested = asyncio.Event()
        #: ...or, with this, for a restart of the world that keeps connections (``reload``).
        self.restart_requested = False
        self.start_room = settings.start_room or world.start_room
        pulse.add("output", self.flush_output)
        pulse.add("housekeeping", self.housekeeping, seconds=10)
        pulse.add("idle", lambda: guard.reap_idle(self), seconds=1)
        #: Channels, mutes, aliases kept, staff silences and shutdowns (engine/social.py).
        self.social = Social(self)
        #: Items: every move between owners, and the items in memory (engine/economy.py).
        self.economy = Economy(self)
        #: NPCs, combat, health, death, Limbo and corpses (engine/npcs.py).
        self.npcs = Npcs(self)
        #: Lucidity, exploration and the Mythos clock (engine/lucidity.py).
        self.lucidity = Lucidity(self)

    # -- connections --------------------------------------------------------------------------
    def connect(self, conn: Connection, *, greet: bool = True, **terminal: Any) -> Session:
        """A new client; ``terminal`` holds what is known of it already (see
        ``Session.update_terminal``), so even the greeting is rendered for it. ``greet=False``:
        a client that logged in elsewhere (the browser's login API) gets no login screen; its
        network side calls ``login.enter_game`` next."""
        session = Session(self, conn, LoginDialogue(self))
        session.login.session = session
        if terminal:
            session.update_terminal(**terminal)
        self.sessions.add(session)
        self.per_host[session.peer_host] += 1
        self.metrics.sessions.labels("all").set(len(self.sessions))
        if self.shutting_down:
            session.close("Arkham is closing its doors for now. Come back soon.")
            return session
        refusal = guard.admit(self, session)  # connection caps (engine/guard.py)
        if refusal is not None:
            session.close(refusal)
            return session
        if greet:
            session.login.greet()
            session.flush()
        return session

    def session_gone(self, session: Session) -> None:
        """A session ended (hang-up, quit, takeover): take its body out of the world."""
        if session in self.sessions:
            self.sessions.remove(session)
            host = session.peer_host
            self.per_host[host] -= 1
            if self.per_host[host] <= 0:
                del self.per_host[host]
        self.pending_output.discard(session)
        self.metrics.sessions.labels("all").set(len(self.sessions))
        char = session.char
        session.char = None
        if char is not None and char.link is session:
            char.link = None
            self.leave_world(char)

    # -- entering and leaving -----------------------------------------------------------------
    async def load_character(self, name: str) -> Character | None:
        """The character to play: the object in memory if its last progress is not saved yet
        (it left moments ago, or the database was down), else a fresh one from its row.

        Waits for a save in flight first, so memory and database never disagree."""
        key = name.lower()
        if key in self.online:
            return self.online[key]
        row = await self.store.get_character(name)
        if row is None:
            return None
        unsaved = await self.writebehind.settle(row.id)
        if key in self.online:  # another login won the race while we waited
            return self.online[key]
        if unsaved is not None:
            return unsaved
        # No item move of this character may be between its commit and its change in memory
        # while its items are read with the row.
        await self.economy.settled()
        row = await self.store.get_character(name)  # re-read: a save may have just landed
        if key in self.online:
            return self.online[key]
        if row is None:
            return None
        mind = await self.lucidity.load(row.id)  # explored rooms, horrors met, cooldowns
        if key in self.online:
            return self.online[key]
        return self.writebehind.pending(row.id) or self.character_from_row(row, mind)

    def character_from_row(self, row: CharacterRow, mind: MindRows | None = None) -> Character:
        room_id = row.room_id if row.room_id in self.world.rooms else self.start_room
        try:
            posture = Posture(row.posture)
        except ValueError:
            posture = Posture.STANDING
        char = Character(
            id=row.id, account_id=row.account_id, name=row.name, profession=row.profession,
            room_id=room_id, hp=row.hp, max_hp=row.max_hp, lucidity=row.lucidity, xp=row.xp,
            level=row.level, posture=posture, stats=dict(row.stats or {}))
        self.economy.attach_character(char, row.items)  # what it carries, read with the row
        self.lucidity.attach(char, mind)
        return char

    def enter_world(self, session: Session, char: Character, role: str, *, motd: bool = True,
                    announce: bool = True) -> None:
        """Put a logged-in player's character in the world, taking over any older session.
        ``motd``: show the message of the day; ``announce``: tell the room it entered the
        game (not when it comes back from a world that restarted: nobody saw it go)."""
        key = char.name.lower()
        old = char.link if key in self.online else None
        char.role = role
        session.char = char
        session.state = "playing"
        if isinstance(old, Session) and old is not session:
            # Never two bodies: the new connection takes over the same character.
            old.char = None
            old.close("{y}Someone has connected as you from elsewhere. Goodbye.{x}")
            char.link = session
            session.write("{y}You take over your body, which was already here.{x}")
            self.to_room(self.room_of(char), f"{char.name} shudders, as if waking.",
                         exclude=(char,))
        else:
            char.link = session
            self.online[key] = char
            self._online_sorted = None
            room = self.world.rooms[char.room_id]
            movement.place(self.world, char, room)
            if announce:
                self.to_room(room, f"{char.name} has entered the game.", exclude=(char,))
            self.oob_room(room, "Room.AddPlayer", gmcp.player_entry(char), exclude=(char,))
        session.conn.entered(char.name)
        self.metrics.players_online.set(len(self.online))
        self.metrics.logins.labels("ok").inc()
        log.info("player_entered", name=char.name, peer=session.conn.peer)
        if motd and self.world.motd:
            session.write(self.world.motd)
        self.lucidity.send_map(session)  # Room.Map: the rooms explored before
        self.show_room(session)
        self.send_state(session)
        self.lucidity.send_time(session)
        self.social.entered(session)
        self.npcs.player_arrived(char, self.room_of(char))

    def online_names(self) -> list[str]:
        """The keys of ``online`` in order (``who``); sorted again only after someone came or
        went, not at every ``who`` (with thousands online that was a millisecond each)."""
        names = self._online_sorted
        if names is None or len(names) != len(self.online):
            names = self._online_sorted = sorted(self.online)
        return names

    def leave_world(self, char: Character) -> None:
        """Take a character out of the world and save it now (the re-login waits for that)."""
        key = char.name.lower()
        if self.online.get(key) is not char:
            return
        del self.online[key]
        self._online_sorted = None
        self.npcs.stop_fighting(char)
        room = self.world.rooms.get(char.room_id)
        movement.remove(self.world, char)
        if room is not None and not self.shutting_down:  # all go: each is told why, once
            self.to_room(room, f"{char.name} has left the game.")
            self.oob_room(room, "Room.RemovePlayer", char.name)
        self.metrics.players_online.set(len(self.online))
        # Dirty at once (a re-login finds this object), then saved now rather than next flush.
        self.writebehind.mark(char)
        saving = asyncio.get_running_loop().create_task(
            self.writebehind.flush_character(char, last_seen=datetime.now(UTC)),
            name=f"save-{char.name}")
        self._saving.add(saving)
        saving.add_done_callback(self._saving.discard)
        log.info("player_left", name=char.name)

    # -- what players see ---------------------------------------------------------------------
    def room_of(self, char: Character) -> Room:
        return self.world.rooms[char.room_id]

    def show_room(self, session: Session) -> None:
        char = session.char
        assert char is not None
        text = room_text(self.room_of(char), char, session.width)
        session.write(self.lucidity.perceive_room(char, text))  # a fractured mind sees wrong

    def send_state(self, session: Session, *, walked: bool = False) -> None:
        """Everything a client shows of its character and room: at login, when it asks, after
        being moved; after a step (``walked``) what a step changes: the status (its area),
        the room, who and what is there. Vitals and the inventory go when they change
        (``changed``, the economy's Char.Items.*), as GMCP.md has it."""
        char = session.char
        assert char is not None
        room = self.room_of(char)
        self.lucidity.visit(char)  # exploration: the first visit of each room is kept
        if not walked:
            session.oob("Char.Vitals", gmcp.vitals(char))
        session.oob("Char.Status", gmcp.status(char, room))
        session.oob("Room.Info", gmcp.room_info(room))
        session.oob("Room.Players", gmcp.room_players(room))
        session.oob("Room.Npcs", gmcp.room_npcs(room))
        self.economy.send_lists(session, inventory=not walked)  # Char.Items.List

    def relocate(self, char: Character, room: Room, *, leaves: str = "vanishes.",
                 arrives: str = "appears.") -> None:
        """Move a character to ``room`` by other means than walking (death, respawn, a
        summons): the rooms are told, its client gets the new room, NPCs there see it."""
        here = self.world.rooms.get(char.room_id)
        char.pose = ""
        if here is not None and here is not room:
            movement.remove(self.world, char)
            self.to_room(here, f"{char.name} {leaves}")
            self.oob_room(here, "Room.RemovePlayer", char.name)
        self.to_room(room, f"{char.name} {arrives}", exclude=(char,))
        movement.place(self.world, char, room)
        self.oob_room(room, "Room.AddPlayer", gmcp.player_entry(char), exclude=(char,))
        self.writebehind.mark(char)
        session = char.link
        if isinstance(session, Session):
            self.show_room(session)
            self.send_state(session)
        self.npcs.player_arrived(char, room)

    def changed(self, char: Character, *, vitals: bool = False, status: bool = False) -> None:
        """A character's progress changed: save it write-behind and tell its client."""
        self.writebehind.mark(char)
        session = char.link
        if isinstance(session, Session):
            if vitals:
                session.oob("Char.Vitals", gmcp.vitals(char))
            if status:
                session.oob("Char.Status", gmcp.status(char, self.room_of(char)))

    def sessions_in(self, room: Room, exclude: Iterable[Character] = ()) -> list[Session]:
        skip = set(map(id, exclude))
        return [c.link for c in room.characters
                if id(c) not in skip and isinstance(c.link, Session)]

    def to_room(self, room: Room, text: str, exclude: Iterable[Character] = ()) -> None:
        sessions = self.sessions_in(room, exclude)
        line = Shared(text) if len(sessions) > 1 else text  # rendered once for the room
        for s in sessions:
            s.write(line)

    def oob_room(self, room: Room, package: str, data: Any,
                 exclude: Iterable[Character] = ()) -> None:
        sessions = self.sessions_in(room, exclude)
        if len(sessions) > 1:
            data = gmcp.Encoded(data)  # once for the room, not once per listener
        for s in sessions:
            s.oob(package, data)

    async def broadcast(self, text: str) -> None:
        """Tell every session, yielding to the loop every few hundred sends."""
        line = Shared(text)
        for i, s in enumerate(list(self.sessions)):
            s.write(line)
            if i % BROADCAST_CHUNK == BROADCAST_CHUNK - 1:
                await asyncio.sleep(0)

    def mssp(self) -> dict[str, str | list[str]]:
        s = self.settings
        return {
            "NAME": s.name, "PLAYERS": str(len(self.online)), "UPTIME": str(int(self.started_at)),
            "CODEBASE": f"Mythos {__version__}", "CONTACT": "", "CREATED": "2026",
            "GENRE": "Horror", "GAMEPLAY": "Adventure", "SUBGENRE": "Lovecraftian",
            "LANGUAGE": "English", "PORT": str(s.telnet_port), "ANSI": "1", "GMCP": "1",
            "MCCP": "0", "UTF-8": "1", "XTERM 256 COLORS": "0", "ROOMS": str(len(self.world.rooms)),
        }

    # -- pulse subsystems ---------------------------------------------------------------------
    def flush_output(self) -> None:
        """The output pulse: every session with news queued writes it, unless it wrote less
        than ``output_interval`` ago (then at a later pulse, or at once with the answer to its
        own next command): in a busy zone each client gets one write a few times a second,
        not one per line it hears. ``FLUSH_CHUNK`` sessions per turn of the loop, so reading
        commands and waking timers go on in between (a thousand sessions with news take tens
        of milliseconds)."""
        pending = self.pending_output
        if not pending:
            return
        s = self.settings
        # Due: written at least an interval ago, give or take half a pulse (the pulse nearest
        # to the interval's end, not the one after it).
        cutoff = time.monotonic() - s.output_interval + s.pulse_seconds / 2
        due = [session for session in pending if session.flushed_at <= cutoff]
        if due:
            self._flush_chunk(asyncio.get_running_loop(), due, 0)

    def _flush_chunk(self, loop: asyncio.AbstractEventLoop, sessions: list[Session],
                     start: int) -> None:
        end = start + FLUSH_CHUNK
        written = 0
        for session in sessions[start:end]:
            written += session.flush()  # nothing to do if it flushed on its own meanwhile
        if written:
            self.metrics.output_pulse_writes.inc(written)
        if end < len(sessions):
            loop.call_soon(self._flush_chunk, loop, sessions, end)

    def housekeeping(self) -> None:
        self.throttle.prune()

    # -- shutdown -----------------------------------------------------------------------------
    async def close_all(self, message: str) -> None:
        """Tell everyone, take every character out of the world, hang up."""
        self.shutting_down = True
        for session in list(self.sessions):
            if session.playing:
                session.write("")
            session.close(message)
        for session in list(self.pending_output):
            session.flush()
        if self._saving:
            await asyncio.wait(set(self._saving), timeout=self.settings.shutdown_grace)
