"""The ``mythos`` command line: serve, db upgrade, world check, account create/role."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mythos.config import Settings

# Plain help text: Rich markup would swallow the "[default: ...]" notes as style tags.
app = typer.Typer(help="Mythos: a MUD server set in Lovecraft's Arkham.", no_args_is_help=True,
                  add_completion=False, rich_markup_mode=None)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
world_app = typer.Typer(help="The world files.", no_args_is_help=True, rich_markup_mode=None)
account_app = typer.Typer(help="Accounts and roles.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(world_app, name="world")
app.add_typer(account_app, name="account")

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db "
                           "[default: sqlite+aiosqlite:///var/mythos.db; env MYTHOS_DATABASE_URL]")]
ROLES = ("player", "builder", "admin")


def settings(**flags: Any) -> Settings:
    """Settings with the command-line flags that were given winning over env and mythos.toml."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"mythos: {message}", err=True)
    raise typer.Exit(code)


def migrate(url: str) -> None:
    """Bring the database schema up to date, or exit 2 with one line naming the database."""
    from mythos.store import DatabaseUnavailable, mask_url
    from mythos.store.migrate import upgrade

    try:
        upgrade(url)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"cannot use the database {mask_url(url)}: {reason}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1]")]
    = None,
    telnet_port: Annotated[int | None, typer.Option(help="Telnet port [default: 4000]")] = None,
    web_port: Annotated[int | None, typer.Option(help="HTTP port [default: 8080]")] = None,
    database_url: DatabaseOpt = None,
    world: Annotated[Path | None, typer.Option(help="World directory [default: data/world]")]
    = None,
) -> None:
    """Migrate the database, load the world and serve telnet and HTTP until Ctrl-C/SIGTERM."""
    from mythos import logs
    from mythos.app import App
    from mythos.store import DatabaseUnavailable
    from mythos.world import WorldError

    s = settings(host=host, telnet_port=telnet_port, web_port=web_port,
                 database_url=database_url, world=world)
    logs.configure(s.log_level, s.log_format)
    migrate(s.db_url)
    try:
        asyncio.run(App(s).run())
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except WorldError as exc:
        fail(f"the world in {s.world} has problems:\n{exc}")
    except OSError as exc:
        fail(f"cannot listen: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        logs.stop()


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None) -> None:
    """Create the database or migrate it to the newest schema."""
    from mythos.store import mask_url

    s = settings(database_url=database_url)
    migrate(s.db_url)
    typer.echo(f"Database {mask_url(s.db_url)} is up to date.")


@world_app.command("check")
def world_check(directory: Annotated[Path | None, typer.Argument(
        help="World directory [default: data/world]")] = None) -> None:
    """Validate the world files; list each problem with its file and id."""
    from mythos.world import check_world

    path = directory or settings().world
    if not path.is_dir():
        fail(f"no world directory at {path}")
    world, problems = check_world(path)
    for p in problems:
        typer.echo(str(p))
    if problems or world is None:
        fail(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {path}", 1)
    assert world is not None
    typer.echo(f"{path}: {len(world.zones)} zones, {len(world.rooms)} rooms, "
               f"{len(world.doors)} doors, {len(world.help_pages)} help pages: no problems.")


@account_app.command("create")
def account_create(
    name: str,
    password: Annotated[str, typer.Option(help="At least 8 characters")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the account the admin role")]
    = False,
    profession: Annotated[str, typer.Option(help="The character's profession")] = "journalist",
    database_url: DatabaseOpt = None,
) -> None:
    """Create an account and its character (name: 3-20 letters)."""
    from mythos.engine.auth import NAME_RE, Hasher, password_problem
    from mythos.rules.character import find_profession, max_hp, starting_kit, starting_stats
    from mythos.store import NameTaken, Store

    s = settings(database_url=database_url)
    if not NAME_RE.match(name):
        fail("a name has 3 to 20 letters and nothing else")
    problem = password_problem(password)
    if problem:
        fail(problem)
    prof = find_profession(profession)
    if prof is None:
        fail(f"no profession {profession!r}")
    assert prof is not None
    migrate(s.db_url)
    start_room = s.start_room or "arkham.square"

    async def create() -> None:
        store = await Store.open(s.db_url)
        try:
            stats = starting_stats(prof.id)
            hp = max_hp(stats, 1)
            await store.create_account_with_character(
                name.capitalize(), await Hasher(1).hash(password),
                "admin" if admin else "player", prof.id, start_room, hp, hp, stats,
                kit=starting_kit(prof.id))
        finally:
            await store.close()

    try:
        asyncio.run(create())
    except NameTaken:
        fail(f"the name {name.capitalize()} is taken")
    typer.echo(f"Created {'admin ' if admin else ''}account {name.capitalize()} "
               f"({prof.name}).")


@account_app.command("role")
def account_role(name: str, role: str, database_url: DatabaseOpt = None) -> None:
    """Set an account's role: player, builder or admin."""
    from mythos.store import Store

    if role not in ROLES:
        fail(f"role must be one of {', '.join(ROLES)}")
    s = settings(database_url=database_url)
    migrate(s.db_url)

    async def set_role() -> bool:
        store = await Store.open(s.db_url)
        try:
            return await store.set_role(name, role)
        finally:
            await store.close()

    if not asyncio.run(set_role()):
        fail(f"no account named {name}", 1)
    typer.echo(f"{name.capitalize()} is now {role}.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
