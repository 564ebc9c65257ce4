"""The command table: one record per command feeds the parser, abbreviations, help and checks.

Each command is a function registered with ``@command(...)``; its docstring is its help (first
line: the usage). The table is ordered: when a prefix fits several commands, the one registered
first wins (so ``n`` is north and ``l`` is look), as in tbaMUD's ``cmd_info``. Posture and role
are checked here, once, before any handler runs.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mythos.rules.aliases import expand as expand_aliases
from mythos.world.model import Character, Posture, Room

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.session import Session

ROLES = ("player", "builder", "admin")
_POSTURE_RANK = {Posture.LYING: 0, Posture.SITTING: 1, Posture.STANDING: 2}
_POSTURE_REFUSAL = {
    Posture.STANDING: "You need to stand up first.",
    Posture.SITTING: "You need to at least sit up first.",
}


@dataclass
class Ctx:
    """What a command handler gets: who typed it, and the world they typed it in."""

    game: Game
    session: Session
    char: Character
    verb: str  # the word as typed

    @property
    def room(self) -> Room:
        return self.game.world.rooms[self.char.room_id]

    def send(self, text: str) -> None:
        self.session.write(text)


Handler = Callable[[Ctx, str], Awaitable[None] | None]


@dataclass
class Command:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    category: str = "general"
    min_posture: Posture | None = None
    role: str = "player"
    usage: str = ""
    help: str = ""
    hidden: bool = False  # left out of the command list (still in help by name)

    def allowed(self, role: str) -> bool:
        return ROLES.index(role if role in ROLES else "player") >= ROLES.index(self.role)


@dataclass
class CommandTable:
    commands: list[Command] = field(default_factory=list)
    _exact: dict[str, Command] = field(default_factory=dict)

    def add(self, cmd: Command) -> None:
        for word in (cmd.name, *cmd.aliases):
            if word in self._exact:
                raise ValueError(f"command word {word!r} is taken by {self._exact[word].name}")
            self._exact[word] = cmd
        self.commands.append(cmd)

    def words(self) -> set[str]:
        """Every name and alias: a character may not be named one of these."""
        return set(self._exact)

    def find(self, word: str, role: str = "admin") -> Command | None:
        """Exact name or alias first, then the first command (in table order) the word begins."""
        w = word.lower()
        cmd = self._exact.get(w)
        if cmd is not None and cmd.allowed(role):
            return cmd
        for cmd in self.commands:
            if cmd.allowed(role) and cmd.name.startswith(w):
                return cmd
        return None

    def nearest(self, word: str, role: str) -> str | None:
        names = [c.name for c in self.commands if c.allowed(role) and not c.hidden]
        close = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
        return close[0] if close else None

    def visible(self, role: str) -> list[Command]:
        return [c for c in self.commands if c.allowed(role) and not c.hidden]

    async def dispatch(self, session: Session, line: str, *, misfired: bool = False) -> None:
        """Parse one line and run its command, after the checks every command shares.

        ``misfired``: the line is what a deranged mind did instead of what was typed."""
        char = session.char
        assert char is not None
        line = line.strip()
        if not line:
            return
        if char.aliases and not misfired:  # the player's aliases, expanded here and only here
            expansion = expand_aliases(char.aliases, line,
                                       max_length=session.game.settings.max_line)
            if expansion.error:
                session.write(expansion.error)
                return
            line = expansion.line.strip()
            if not line:
                return
        verb, args = split_verb(line)
        cmd = self.find(verb, char.role)
        if cmd is None:
            near = self.nearest(verb, char.role)
            session.write(f"Huh? (Did you mean '{near}'?)" if near else "Huh?")
            return
        if not session.game.npcs.may_act(char, cmd.name):  # mortally wounded: unconscious
            session.write("You are mortally wounded, slipping in and out of the dark; you "
                          "can do nothing but bleed.")
            return
        lucidity = session.game.lucidity  # the catatonic lock, a deranged mind's misfires
        if not lucidity.may_act(session, char, cmd.name):
            return
        if not misfired and (instead := lucidity.misfire(char, cmd.name)) is not None:
            session.write("{m}Your body does something else entirely.{x}")
            await self.dispatch(session, instead, misfired=True)
            return
        if cmd.min_posture is not None and (
                _POSTURE_RANK[char.posture] < _POSTURE_RANK[cmd.min_posture]):
            session.write(_POSTURE_REFUSAL[cmd.min_posture])
            return
        session.game.metrics.command_handled(cmd.name)
        result = cmd.handler(Ctx(session.game, session, char, verb), args)
        if inspect.isawaitable(result):
            await result


def split_verb(line: str) -> tuple[str, str]:
    """"say hi" -> ("say", "hi"); "'hi" -> ("say", "hi"); ":waves" -> ("emote", "waves")."""
    if line[0] in "'\"":
        return "say", line[1:].strip()
    if line[0] == ":":
        return "emote", line[1:].strip()
    verb, _, args = line.partition(" ")
    return verb.lower(), args.strip()


TABLE = CommandTable()


def command(name: str, *aliases: str, category: str = "general",
            min_posture: Posture | None = None, role: str = "player",
            hidden: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler in the table. Its docstring is its help; the first line, its usage."""

    def register(fn: Handler) -> Handler:
        doc = inspect.cleandoc(fn.__doc__ or name)
        usage, _, body = doc.partition("\n")
        TABLE.add(Command(name, fn, aliases, category, min_posture, role, usage.strip(),
                          body.strip(), hidden))
        return fn

    return register


def load_table() -> CommandTable:
    """The table with every family of commands registered (in the order of this import list)."""
    from mythos.commands import (
        comm,  # noqa: F401
        info,  # noqa: F401
        movement,  # noqa: F401  (first: n, s, e, w ...)
        posture,  # noqa: F401
        social,  # noqa: F401  (after info and movement: 'lo' stays look, 'g' go, 'wh' who)
        staff,  # noqa: F401
    )

    # Registered after the families above, so the abbreviations they had stay theirs.
    from mythos.commands import items as _items  # noqa: F401
    from mythos.commands import shops as _shops  # noqa: F401

    importlib.import_module("mythos.commands.account")  # password: last, so 'p' stays pose
    from mythos.commands import combat as _combat  # noqa: F401
    from mythos.commands import lucidity as _lucidity  # noqa: F401  (time, map, rites ...)

    return TABLE
