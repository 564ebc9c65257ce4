"""The login screen: ``create NAME PASSWORD`` and ``connect NAME PASSWORD`` on one line for
scripted clients, and a guided dialogue for people.

A wrong password reads the same as an unknown name. Failures from one address slow that
address down. Passwords are hashed and checked in a worker thread.

The rules and their messages live in the module-level functions (``name_problem``,
``authenticate``, ``create_account``, ``enter_game``), which the telnet dialogue and the
browser's login API (``net/webauth.py``) both call: one set of rules for every front door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import structlog

from mythos.engine.auth import NAME_RE, password_problem
from mythos.rules.character import (
    DEFAULT_PROFESSION,
    PROFESSIONS,
    find_profession,
    max_hp,
    starting_stats,
)
from mythos.store import AccountRow, CharacterRow, NameTaken
from mythos.store.db import describe_error

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.session import Session

log = structlog.get_logger(__name__)
T = TypeVar("T")

BANNER = r"""{G}
        M  Y  T  H  O  S{x}
   {g}Arkham, Massachusetts - the year is 1926{x}

 The gambrel roofs lean together against a sky the colour of old bruises.
 Somewhere past the river a bell is ringing, though no church claims it.
"""
PROMPT = ("Type {W}create NAME PASSWORD{x} for a new character, "
          "{W}connect NAME PASSWORD{x} to return,\nor just your name to be guided.")
BAD_LOGIN = "That name and password do not match anyone we know."
UNREACHABLE = "{y}The archives are unreachable just now; try again shortly.{x}"
#: How long a login waits for the database (SQLite's busy timeout and PostgreSQL's connect
#: timeout are shorter; this bounds the pool wait as well) before it gives up with UNREACHABLE.
STORE_TIMEOUT = 10.0
RESERVED = {"create", "connect", "new", "quit", "self", "someone", "all", "admin", "staff",
            "mythos", "arkham", "limbo", "nobody", "everyone"}
BANNED = "This account has been barred from Arkham."
NAME_TAKEN = "That name is already taken."
NO_CHARACTER = "That account has no character. Ask the staff for help."


def welcome_new(name: str) -> str:
    return f"{{G}}Welcome to Arkham, {name}.{{x}}"


def welcome_back(name: str) -> str:
    return f"{{G}}Welcome back, {name}.{{x}}"


class ArchivesUnreachable(Exception):
    """The database did not answer a login in time (or failed): tell the player, not a trace."""


class LoginRefused(Exception):
    """A login or creation that cannot go on. ``message`` is what the player is told (the same
    words on every front door); ``reason`` names the case: ``failed`` (wrong name or
    password), ``banned``, ``invalid`` (a name or password against the rules), ``taken``,
    ``no_character``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


async def store_call(call: Awaitable[T]) -> T:
    """Await a database call of a login, at most ``STORE_TIMEOUT`` seconds.

    ``NameTaken`` passes through; any other failure becomes ``ArchivesUnreachable``."""
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            return await call
    except NameTaken:
        raise
    except Exception as exc:
        raise ArchivesUnreachable(describe_error(exc)) from exc


def name_problem(game: Game, name: str) -> str | None:
    """Why ``name`` cannot be a new character's name, or None."""
    if not NAME_RE.match(name):
        return "A name has 3 to 20 letters and nothing else."
    if name.lower() in RESERVED or name.lower() in game.commands.words():
        return "That name is a word of the game; choose another."
    return None


async def authenticate(game: Game, name: str, password: str, host: str,
                       peer: str = "") -> AccountRow:
    """The account of ``name`` if ``password`` is its password; else ``LoginRefused``.

    A wrong password and an unknown name cost the same and read the same. Each failure from
    ``host`` makes its next attempt wait longer (``Game.throttle``); a success clears that."""
    account_key = "account:" + name.lower()[:20]  # failures are counted per account too
    delay = max(game.throttle.delay(host), game.throttle.delay(account_key))
    if delay:
        await asyncio.sleep(delay)
    account = await store_call(game.store.get_account(name)) if NAME_RE.match(name) else None
    ok = await game.hasher.verify(account.password_hash if account else None, password)
    if not ok or account is None:
        game.throttle.failed(host)
        game.throttle.failed(account_key)
        game.metrics.logins.labels("failed").inc()
        log.info("login_failed", name=name[:20], peer=peer or host)
        raise LoginRefused(BAD_LOGIN, "failed")
    if account.banned:
        game.metrics.logins.labels("banned").inc()
        raise LoginRefused(BANNED, "banned")
    game.throttle.succeeded(host)
    game.throttle.succeeded(account_key)
    return account


async def create_account(game: Game, name: str, password: str,
                         profession: str = DEFAULT_PROFESSION,
                         ) -> tuple[AccountRow, CharacterRow]:
    """A new account and its character, or ``LoginRefused`` (``invalid`` or ``taken``)."""
    problem = name_problem(game, name) or password_problem(password)
    if problem:
        raise LoginRefused(problem, "invalid")
    if profession not in PROFESSIONS:
        raise LoginRefused("No such profession.", "invalid")
    name = name.capitalize()
    password_hash = await game.hasher.hash(password)
    stats = starting_stats(profession)
    hp = max_hp(stats, 1)
    try:
        account, row = await store_call(game.store.create_account_with_character(
            name, password_hash, "player", profession, game.start_room, hp, hp, stats,
            kit=game.economy.starting_kit(profession)))
    except NameTaken:
        raise LoginRefused(NAME_TAKEN, "taken") from None
    log.info("character_created", name=name, profession=profession)
    return account, row


async def enter_game(game: Game, session: Session, name: str, role: str,
                     welcome: Callable[[str], str] = welcome_back, *, motd: bool = True,
                     announce: bool = True) -> bool:
    """Load the character of ``name`` and put it in the world on ``session`` (taking over any
    other session of it; ``motd`` and ``announce`` as ``Game.enter_world``). False if the
    session went away meanwhile; ``LoginRefused`` (``no_character``) if there is no character
    to play."""
    kept = await store_call(game.social.fetch(name))  # aliases, mutes: before the load
    char = await store_call(game.load_character(name))
    # No await between the load and enter_world: no other login can slip in between.
    if session.closed:
        return False
    if char is None:
        raise LoginRefused(NO_CHARACTER, "no_character")
    game.social.apply(char, kept)
    session.write(welcome(char.name))
    game.enter_world(session, char, role, motd=motd, announce=announce)
    return True


class LoginDialogue:
    def __init__(self, game: Game) -> None:
        self.game = game
        self.session: Session = None  # type: ignore[assignment]  # set by Game.connect
        self.step = "name"
        self.name = ""
        self.password = ""

    def greet(self) -> None:
        self.session.write(BANNER)
        self.ask_name()

    def ask_name(self) -> None:
        self.step = "name"
        self.session.write(PROMPT)
        self.session.write("By what name are you known?")

    # -- input --------------------------------------------------------------------------------
    async def handle(self, line: str) -> None:
        try:
            await self._handle(line)
        except ArchivesUnreachable as exc:
            self.game.metrics.logins.labels("unavailable").inc()
            log.warning("login_database_unreachable", peer=self.session.conn.peer,
                        error=str(exc))
            self.password = ""
            self.session.conn.set_echo(True)
            if not self.session.closed:
                self.session.write(UNREACHABLE)
                self.ask_name()

    async def _handle(self, line: str) -> None:
        text = line.strip()
        step = self.step
        if step == "name":
            words = text.split()
            if not words:
                return self.ask_name()
            verb = words[0].lower()
            if verb in ("create", "connect") and len(words) == 3:
                return await (self.create if verb == "create" else self.connect)(
                    words[1], words[2])
            if verb in ("create", "connect"):
                return self.session.write(f"Usage: {verb} NAME PASSWORD")
            if verb == "quit":
                return self.session.close("Farewell.")
            return await self.guided_name(words[0])
        if step == "password":
            self.session.conn.set_echo(True)
            return await self.connect(self.name, text, guided=True)
        if step == "confirm_new":
            if text.lower() in ("y", "yes"):
                self.step = "new_password"
                self.session.write("Choose a password (at least 8 characters):")
                self.session.conn.set_echo(False)
            else:
                self.ask_name()
            return None
        if step == "new_password":
            problem = password_problem(text)
            if problem:
                return self.session.write(problem + " Try again:")
            self.password = text
            self.step = "repeat_password"
            return self.session.write("Repeat the password:")
        if step == "repeat_password":
            self.session.conn.set_echo(True)
            if text != self.password:
                self.password = ""
                self.step = "new_password"
                self.session.conn.set_echo(False)
                return self.session.write("The passwords differ. Choose a password:")
            self.step = "profession"
            names = ", ".join(p.name for p in PROFESSIONS.values())
            return self.session.write(
                f"What is your profession? ({names})\n"
                f"Press Enter for {PROFESSIONS[DEFAULT_PROFESSION].name}.")
        if step == "profession":
            prof = find_profession(text) if text else PROFESSIONS[DEFAULT_PROFESSION]
            if prof is None:
                return self.session.write("No such profession. Choose one from the list:")
            password, self.password = self.password, ""
            return await self.create(self.name, password, prof.id)
        return None

    async def guided_name(self, name: str) -> None:
        problem = self.name_problem(name)
        if problem:
            self.session.write(problem)
            return self.ask_name()
        self.name = name.capitalize()
        account = await store_call(self.game.store.get_account(name))
        if account is not None:
            self.step = "password"
            self.session.write("Password:")
            self.session.conn.set_echo(False)
        else:
            self.step = "confirm_new"
            self.session.write(f"No one named {self.name} walks these streets. "
                               f"Create a new character named {self.name}? (yes/no)")
        return None

    # -- the two ways in ----------------------------------------------------------------------
    def name_problem(self, name: str) -> str | None:
        return name_problem(self.game, name)

    async def create(self, name: str, password: str, profession: str = DEFAULT_PROFESSION,
                     ) -> None:
        try:
            account, row = await create_account(self.game, name, password, profession)
        except LoginRefused as refused:
            self.session.write(refused.message)
            return self.ask_name()
        if self.session.closed:
            return None
        self.session.write(welcome_new(row.name))
        self.game.enter_world(self.session, self.game.character_from_row(row), account.role)
        return None

    async def connect(self, name: str, password: str, guided: bool = False) -> None:
        try:
            account = await authenticate(self.game, name, password, self.session.peer_host,
                                         self.session.conn.peer)
        except LoginRefused as refused:
            if self.session.closed:
                return None
            if refused.reason == "banned":
                return self.session.close(refused.message)
            self.session.write(refused.message)
            return self.ask_name()
        if self.session.closed:
            return None
        try:
            await enter_game(self.game, self.session, account.name, account.role)
        except LoginRefused as refused:
            self.session.write(refused.message)
            return self.ask_name()
        return None
