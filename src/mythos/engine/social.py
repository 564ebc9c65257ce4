"""Talking, ignoring and running the place, as the engine runs it.

``Social`` (one per ``Game``, as ``game.social``) keeps each online character's mutes, staff
silence and last whisperer in memory, decides who hears a line on which channel, rate-limits
talkers, sends every line heard as text and as ``Comm.Channel.Text``, and writes what must be
kept (aliases, mutes, silences, the staff audit log) to the database.

Those writes are small and rare (a player typing ``mute`` or ``alias``), so each is one short
transaction awaited by the command before memory changes and before the player is told: a
change the player saw is kept, across logout and restart, and a change the database refused
is not made ("the archives are unreachable"). The loop never waits on them: only the command
that made them does.

Time: mutes and silences end at a wall-clock time (they survive restarts). Their minutes and
the rate-limit minute are ``settings.minute_seconds`` long (60; tests shorten it).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from mythos.engine import gmcp
from mythos.engine.pulse import Timer
from mythos.engine.session import Session
from mythos.rules.comm import CHANNELS, RateLimiter, describe_left, is_staff
from mythos.rules.staff import SHUTDOWN_NOTICES
from mythos.store import SocialStore
from mythos.store.db import describe_error
from mythos.store.social import SocialRows
from mythos.text import Shared
from mythos.world.model import Character

if TYPE_CHECKING:
    from mythos.engine.game import Game

log = structlog.get_logger(__name__)

UNSAVED = ("{y}The archives are unreachable just now; nothing was changed. "
           "Try again shortly.{x}")
#: How long a social write may take before the player is told it failed.
STORE_TIMEOUT = 10.0
#: Channel sends to many sessions yield to the loop after this many.
CHUNK = 300


@dataclass
class Silence:
    until: datetime | None  # None: until lifted
    by: str


@dataclass
class SocialState:
    """One online character's social memory."""

    #: (kind, target) -> until (None: for good). kind "player" (target: name key) or "channel".
    mutes: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    silence: Silence | None = None
    #: The name of the last player who whispered to this one.
    reply_to: str | None = None


class Social:
    def __init__(self, game: Game) -> None:
        self.game = game
        self.settings = game.settings
        self.db = SocialStore.of(game.store)
        self.rates = RateLimiter(window=game.settings.minute_seconds)
        self.states: dict[int, SocialState] = {}
        #: The pending shutdown: when it is due (loop time), who asked, and its timers.
        self.shutdown_due: float | None = None
        self.shutdown_by = ""
        self._shutdown_timers: list[Timer] = []
        game.pulse.add("social", self.housekeeping, seconds=10)

    # -- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC)

    def until(self, minutes: int | None) -> datetime | None:
        """When something lasting ``minutes`` (None: for good) ends, from now."""
        if minutes is None:
            return None
        return self.now() + timedelta(seconds=minutes * self.settings.minute_seconds)

    def active(self, until: datetime | None) -> bool:
        return until is None or until > self.now()

    def left(self, until: datetime | None) -> str:
        """'for 3 more minutes', or 'until lifted'."""
        seconds = math.inf if until is None else (until - self.now()).total_seconds()
        return describe_left(seconds, self.settings.minute_seconds)

    # -- state ----------------------------------------------------------------------------------
    def state(self, char: Character) -> SocialState:
        st = self.states.get(char.id)
        if st is None:
            st = self.states[char.id] = SocialState()
        return st

    async def fetch(self, name: str) -> SocialRows | None:
        """Read what is kept of the character ``name`` (aliases, mutes, silence), at login,
        before its character is loaded; expired rows are deleted on the way. None for an
        unknown name. Raises when the database fails; the login tells the player."""
        now = self.now()
        rows = await self.db.load_by_name(name, now)
        if rows is not None and rows.expired:
            await self.db.delete_expired(rows.character_id, now)
        return rows

    def apply(self, char: Character, rows: SocialRows | None) -> None:
        """Put fetched rows on a character about to enter the world (sync: nothing may slip
        in between this and ``enter_world``). A character online already (a takeover) keeps
        what is in memory: every change reached the database before it reached memory."""
        if rows is None or rows.character_id != char.id or self.game.online.get(
                char.name.lower()) is char:
            return
        st = SocialState()
        for m in rows.mutes:
            st.mutes[(m.kind, m.target)] = m.until
        if rows.silence is not None:
            st.silence = Silence(rows.silence.until, rows.silence.by_name)
        char.aliases = dict(rows.aliases)
        self.states[char.id] = st

    def entered(self, session: Session) -> None:
        """A character entered the world: its client learns the channels; a silenced player
        is reminded."""
        char = session.char
        assert char is not None
        self.send_channel_list(session)
        silence = self.silenced(char)
        if silence is not None:
            session.write(f"{{y}}You are silenced by the staff {self.left(silence.until)}.{{x}}")

    def housekeeping(self) -> None:
        """Forget the state of characters no longer online, and old rate-limit windows."""
        online = {c.id for c in self.game.online.values()}
        for cid in [cid for cid in self.states if cid not in online]:
            del self.states[cid]
        self.rates.prune()

    # -- who hears what -------------------------------------------------------------------------
    def muted(self, listener: Character, kind: str, target: str) -> bool:
        """Whether ``listener`` has muted the channel or player ``target`` (a name key) now."""
        st = self.states.get(listener.id)
        if st is None or (kind, target) not in st.mutes:
            return False
        if self.active(st.mutes[(kind, target)]):
            return True
        del st.mutes[(kind, target)]  # its time is up (the row goes at the next login)
        return False

    def hears(self, listener: Character, talker: Character, channel: str) -> bool:
        if not CHANNELS[channel].mutable:
            return True
        return not (self.muted(listener, "channel", channel)
                    or self.muted(listener, "player", talker.name.lower()))

    def silenced(self, char: Character) -> Silence | None:
        st = self.states.get(char.id)
        if st is None or st.silence is None:
            return None
        if self.active(st.silence.until):
            return st.silence
        st.silence = None
        return None

    def may_talk(self, session: Session, char: Character, channel: str) -> bool:
        """Whether ``char`` may send a line on ``channel`` now; if not, says why. Counts the
        line against the channel's rate limit when it may."""
        ch = CHANNELS[channel]
        silence = self.silenced(char)
        if silence is not None and not ch.staff:
            session.write(f"{{y}}You are silenced by the staff {self.left(silence.until)}.{{x}}")
            return False
        if self.muted(char, "channel", channel):
            session.write(f"You have {channel} turned off; 'channels {channel} on' turns it "
                          f"back on.")
            return False
        if ch.per_minute is not None and self.settings.channel_rate_limits:
            wait = self.rates.take((char.id, channel), ch.per_minute)
            if wait:
                secs = math.ceil(wait)
                session.write(f"{{y}}Slow down: at most {ch.per_minute} lines a minute on "
                              f"{channel}. Try again in {secs} second{'s' if secs != 1 else ''}."
                              f"{{x}}")
                return False
        return True

    def reach(self, channel: str, talker: Character) -> list[Character]:
        """Everyone a line of ``talker`` on a room, zone or world channel could reach."""
        reach = CHANNELS[channel].reach
        room = self.game.room_of(talker)
        if reach == "room":
            return list(room.characters)
        if reach == "zone":  # a walk over the zone's rooms, not over everyone online
            return [c for r in room.zone.rooms for c in r.characters]
        return list(self.game.online.values())

    async def deliver(self, channel: str, talker: Character, receivers: Iterable[Character],
                      line: str, own: str | None = None) -> int:
        """Send ``line`` to each receiver who hears ``talker`` on ``channel``, as text and as
        ``Comm.Channel.Text``; the talker always sees its own (``own``, if it reads otherwise:
        "You say"). Returns how many others heard."""
        heard = 0
        # Everyone gets the same line and the same Comm.Channel.Text, built, encoded and
        # rendered once (a zone channel reaches hundreds).
        data = gmcp.Encoded(gmcp.channel_text(channel, talker.name, line))
        shared = Shared(line)
        for i, c in enumerate(list(receivers)):
            s = c.link
            if not isinstance(s, Session) or not s.playing:
                continue
            if c is talker:
                if own is not None:
                    s.write(own)
                    s.oob("Comm.Channel.Text",
                          gmcp.Encoded(gmcp.channel_text(channel, talker.name, own)))
                    continue
            else:
                if not self.hears(c, talker, channel):
                    continue
                heard += 1
            s.write(shared)
            s.oob("Comm.Channel.Text", data)
            if i % CHUNK == CHUNK - 1:
                await asyncio.sleep(0)
        return heard

    async def tell(self, session: Session, talker: Character, target: Character,
                   text: str) -> None:
        """A whisper from ``talker`` to ``target``, wherever they are."""
        silence = self.silenced(talker)
        if silence is not None:
            session.write(f"{{y}}You are silenced by the staff {self.left(silence.until)}.{{x}}")
            return
        if not self.hears(target, talker, "whisper"):
            session.write(f"{target.name} is not listening to you.")
            return
        if not self.may_talk(session, talker, "whisper"):
            return
        await self.deliver("whisper", talker, [talker, target],
                           f"{{m}}{talker.name} whispers to you, '{text}'{{x}}",
                           own=f"{{m}}You whisper to {target.name}, '{text}'{{x}}")
        self.state(target).reply_to = talker.name

    def find_online(self, word: str) -> Character | None:
        """The online character named ``word``, or the only one whose name begins with it."""
        key = word.strip().lower()
        if not key:
            return None
        if key in self.game.online:
            return self.game.online[key]
        found = [c for k, c in self.game.online.items() if k.startswith(key)]
        return found[0] if len(found) == 1 else None

    # -- channels for clients -------------------------------------------------------------------
    def channel_list(self, char: Character) -> list[dict[str, Any]]:
        staff = is_staff(char.role)
        return gmcp.channel_list([
            (ch, staff or not ch.staff, not self.muted(char, "channel", ch.name))
            for ch in CHANNELS.values()])

    def send_channel_list(self, session: Session) -> None:
        if session.char is not None:
            session.oob("Comm.Channel.List", self.channel_list(session.char))

    # -- keeping things -------------------------------------------------------------------------
    async def save(self, session: Session | None, call: Awaitable[Any]) -> bool:
        """Await one write; on failure log it, tell ``session`` nothing changed, return False."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await call
        except Exception as exc:
            log.warning("social_write_failed", error=describe_error(exc))
            if session is not None:
                session.write(UNSAVED)
            return False
        return True

    async def set_alias(self, session: Session, char: Character, name: str,
                        command: str) -> bool:
        if not await self.save(session, self.db.put_alias(char.id, name, command)):
            return False
        char.aliases[name] = command
        return True

    async def remove_alias(self, session: Session, char: Character, name: str) -> bool:
        if not await self.save(session, self.db.delete_alias(char.id, name)):
            return False
        char.aliases.pop(name, None)
        return True

    async def mute(self, session: Session, char: Character, kind: str, target: str,
                   minutes: int | None) -> datetime | bool | None:
        """Mute ``target`` for ``minutes`` (None: for good). False when it could not be kept;
        else when it ends (None: never)."""
        until = self.until(minutes)
        if not await self.save(session, self.db.put_mute(char.id, kind, target, until)):
            return False
        self.state(char).mutes[(kind, target)] = until
        if kind == "channel":
            self.send_channel_list(session)
        return until

    async def unmute(self, session: Session, char: Character, kind: str, target: str) -> bool:
        if not await self.save(session, self.db.delete_mute(char.id, kind, target)):
            return False
        self.state(char).mutes.pop((kind, target), None)
        if kind == "channel":
            self.send_channel_list(session)
        return True

    def mutes_of(self, char: Character) -> list[tuple[str, str, datetime | None]]:
        """(kind, target, until) of the mutes in force, channels first."""
        st = self.state(char)
        live = [(k, t) for (k, t) in list(st.mutes) if self.muted(char, k, t)]
        return sorted(((k, t, st.mutes[(k, t)]) for k, t in live),
                      key=lambda m: (m[0] != "channel", m[1]))

    async def silence(self, session: Session, char_id: int, online: Character | None,
                      minutes: int | None, by: str) -> datetime | bool | None:
        until = self.until(minutes)
        if not await self.save(session, self.db.put_silence(char_id, until, by)):
            return False
        if online is not None:
            self.state(online).silence = Silence(until, by)
        return until

    async def unsilence(self, session: Session, char_id: int, online: Character | None) -> bool:
        if not await self.save(session, self.db.delete_silence(char_id)):
            return False
        if online is not None:
            self.state(online).silence = None
        return True

    async def audit(self, session: Session | None, actor: str, action: str,
                    target: str | None = None, **details: Any) -> bool:
        """Write a staff action to the audit log (awaited). A failure is logged as an error and
        the staff member is told; the action itself stands."""
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                await self.db.audit(actor, action, target, details or None)
        except Exception as exc:
            log.error("audit_write_failed", actor=actor, action=action, target=target,
                      details=details, error=describe_error(exc))
            if session is not None:
                session.write("{r}The audit log could not be written; the action stands and "
                              "the server log has it.{x}")
            return False
        log.info("staff_action", actor=actor, action=action, target=target, **details)
        return True

    # -- shutdown -------------------------------------------------------------------------------
    def schedule_shutdown(self, seconds: int, by: str) -> None:
        """Close the server in ``seconds``, telling everyone now and at the notice marks."""
        self.cancel_shutdown()
        timers = self.game.pulse.timers
        self.shutdown_due = timers.clock() + seconds
        self.shutdown_by = by
        self._notice(seconds)
        self._shutdown_timers = [
            timers.call_later(seconds - mark, lambda m=mark: self._notice(m))
            for mark in SHUTDOWN_NOTICES if mark < seconds]
        self._shutdown_timers.append(timers.call_later(seconds, self._shutdown_now))

    def cancel_shutdown(self) -> bool:
        """Call off a pending shutdown; False when none was pending."""
        for t in self._shutdown_timers:
            t.cancel()
        self._shutdown_timers = []
        pending = self.shutdown_due is not None
        self.shutdown_due = None
        return pending

    def _notice(self, seconds: int) -> None:
        unit = "second" if seconds == 1 else "seconds"
        self._tell_all(f"{{R}}** Arkham closes its doors in {seconds} {unit} "
                       f"(shutdown by {self.shutdown_by}). **{{x}}")

    def _shutdown_now(self) -> None:
        self._shutdown_timers = []
        log.info("shutdown_by_staff", by=self.shutdown_by)
        self.game.stop_requested.set()

    def _tell_all(self, text: str) -> None:
        for s in list(self.game.sessions):
            s.write(text)
