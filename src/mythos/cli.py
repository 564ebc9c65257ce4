"""The ``mythos`` command line: serve, world, gateway, db upgrade, world check, account
create/role."""

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
world_app = typer.Typer(
    help="The world process (mythos world: the game and its database, serving gateways over "
         "NATS), and the world files (mythos world check).",
    invoke_without_command=True, rich_markup_mode=None)
account_app = typer.Typer(help="Accounts and roles.", no_args_is_help=True,
                          rich_markup_mode=None)
app.add_typer(db_app, name="db")
app.add_typer(world_app, name="world")
app.add_typer(account_app, name="account")

DatabaseOpt = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL, e.g. postgresql+asyncpg://user@host/db "
                           "[default: sqlite:///var/mythos.db; env MYTHOS_DATABASE_URL]")]
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


HostOpt = Annotated[str | None, typer.Option(help="Address to listen on [default: 127.0.0.1]")]
NatsOpt = Annotated[str | None, typer.Option(
    help="NATS server URL, credentials in it if any [default: nats://127.0.0.1:4222; env "
         "MYTHOS_NATS_URL]. The shared token is MYTHOS_BUS_TOKEN (env or mythos.toml only)")]
PrefixOpt = Annotated[str | None, typer.Option(
    help="First token of the NATS subjects; the world and its gateways must agree "
         "[default: mythos]")]


def raise_file_limit() -> None:
    """Every connection is a file descriptor: take the most the system allows (a soft limit of
    1024, common under systemd, would refuse players near a thousand)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def loop_factory(choice: str) -> Any:
    """The event loop to run a server process on (``event_loop``): None for asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            fail("event_loop is uvloop, but uvloop is not installed (pip install uvloop)")
        return None
    return uvloop.new_event_loop


def run_process(make: Any, s: Settings) -> Any:
    """Run a server process until it stops; one line for what went wrong."""
    from mythos import logs
    from mythos.bus.wire import check_token
    from mythos.store import DatabaseUnavailable
    from mythos.world import WorldError

    logs.configure(s.log_level, s.log_format)
    raise_file_limit()
    try:
        check_token(s.bus_prefix, "bus prefix", dots=True)
        check_token(s.gateway_name, "gateway name")
        process = make(s)
        with asyncio.Runner(loop_factory=loop_factory(s.event_loop)) as runner:
            runner.run(process.run())
        return process
    except ValueError as exc:
        fail(str(exc))
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except WorldError as exc:
        fail(f"the world in {s.world} has problems:\n{exc}")
    except OSError as exc:
        fail(f"cannot listen or connect: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        logs.stop()
    return None


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
    """Migrate the database, load the world and serve telnet and HTTP until Ctrl-C/SIGTERM:
    the world and a gateway in one process."""
    from mythos.app import App

    s = settings(host=host, telnet_port=telnet_port, web_port=web_port,
                 database_url=database_url, world=world)
    migrate(s.db_url)
    run_process(App, s)


@world_app.callback()
def world_process(
    ctx: typer.Context,
    host: HostOpt = None,
    web_port: Annotated[int | None, typer.Option(
        help="HTTP port of /health and /metrics [default: 8080]")] = None,
    database_url: DatabaseOpt = None,
    world: Annotated[Path | None, typer.Option(help="World directory [default: data/world]")]
    = None,
    nats_url: NatsOpt = None,
    bus_prefix: PrefixOpt = None,
) -> None:
    """Run the world: migrate the database, load the world and serve gateways over NATS until
    Ctrl-C/SIGTERM, which restarts it without dropping players once it is started again
    (the staff's 'reload' starts it again in place)."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from mythos.app import WorldApp

    s = settings(host=host, web_port=web_port, database_url=database_url, world=world,
                 nats_url=nats_url, bus_prefix=bus_prefix)
    migrate(s.db_url)
    process = run_process(WorldApp, s)
    if process is not None and process.reexec:
        sys.stdout.flush()
        # The staff's reload: this very command again, with the code on disk now.
        os.execv(sys.executable, [sys.executable, "-m", "mythos", *sys.argv[1:]])


@app.command()
def gateway(
    host: HostOpt = None,
    telnet_port: Annotated[int | None, typer.Option(help="Telnet port [default: 4000]")] = None,
    web_port: Annotated[int | None, typer.Option(help="HTTP port [default: 8080]")] = None,
    nats_url: NatsOpt = None,
    bus_prefix: PrefixOpt = None,
    name: Annotated[str | None, typer.Option(
        help="This gateway's name in logs and subjects [default: gw]")] = None,
) -> None:
    """Run a gateway: telnet, the browser's page and /ws, with the world across NATS
    ('mythos world'). Run several; players on any of them share one world."""
    from mythos.app import GatewayApp

    s = settings(host=host, telnet_port=telnet_port, web_port=web_port, nats_url=nats_url,
                 bus_prefix=bus_prefix, gateway_name=name)
    run_process(GatewayApp, s)


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
        hasher = Hasher(1)
        store = await Store.open(s.db_url)
        try:
            stats = starting_stats(prof.id)
            hp = max_hp(stats, 1)
            await store.create_account_with_character(
                name.capitalize(), await hasher.hash(password),
                "admin" if admin else "player", prof.id, start_room, hp, hp, stats,
                kit=starting_kit(prof.id))
        finally:
            hasher.close()
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
