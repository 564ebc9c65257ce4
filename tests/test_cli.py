"""The ``mythos`` command line and the server as a process: real subprocesses (``python -m
mythos``), real databases, real telnet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mythos.config import Settings
from mythos.store import Store
from mythos.store.migrate import current, head

from mudclient import MudClient

REPO = Path(__file__).resolve().parents[1]
WORLD_DIR = REPO / "data" / "world"
PASSWORD = "correct-horse"
UNREACHABLE = "postgresql+asyncpg://postgres:secret@127.0.0.1:1/nope"
MASKED = "postgresql+asyncpg://postgres:***@127.0.0.1:1/nope"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: no MYTHOS_* settings from outside the test, no
    asyncio debug mode (its slow-callback warnings would land in the logs), wide help text."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MYTHOS_") and k != "PYTHONASYNCIODEBUG"}
    env.update(COLUMNS="200", TERM="dumb", NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class Result:
    rc: int
    out: str
    err: str


async def mythos(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                 timeout: float = 30) -> Result:
    """Run ``python -m mythos ARGS`` to completion."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mythos", *args, cwd=cwd, env=env or child_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def mythos_sync(*args: str, cwd: Path | None = None, **env: str) -> Result:
    r = subprocess.run([sys.executable, "-m", "mythos", *args], cwd=cwd, env=child_env(**env),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return Result(r.returncode, r.stdout, r.stderr)


def one_line_error(r: Result) -> str:
    """The process failed with exactly one line on stderr and no traceback; that line."""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.err}"
    assert "Traceback" not in r.err
    return lines[0]


# -- a served process ------------------------------------------------------------------------

@dataclass
class Served:
    proc: asyncio.subprocess.Process
    host: str = ""
    telnet_port: int = 0
    web_port: int = 0
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(self.out)

    @property
    def stderr(self) -> str:
        return "".join(self.err)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` and wait for the process (and its output) to end; its exit code."""
        self.proc.send_signal(sig)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 20) -> int:
        """Wait for the process (and its output) to end; its exit code."""
        rc = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(asyncio.gather(*self.tasks), timeout)
        return rc


async def _drain(stream: asyncio.StreamReader, into: list[str], seen: asyncio.Event) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))
        seen.set()


@contextlib.asynccontextmanager
async def serve(*args: str, cwd: Path, env: dict[str, str] | None = None,
                world: Path = WORLD_DIR) -> AsyncIterator[Served]:
    """``mythos serve --world WORLD ARGS``, until it prints where to connect; the ports are
    read back from that (so ``--telnet-port 0`` etc. give free ports without a race). Killed
    at the end if still running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mythos", "serve", "--world", str(world), *args, cwd=cwd,
        env=env or child_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    s = Served(proc)
    seen = asyncio.Event()
    assert proc.stdout is not None and proc.stderr is not None
    loop = asyncio.get_running_loop()
    s.tasks = [loop.create_task(_drain(proc.stdout, s.out, seen)),
               loop.create_task(_drain(proc.stderr, s.err, seen))]
    try:
        deadline = loop.time() + 30
        while True:
            seen.clear()
            if "Press Ctrl-C to stop." in s.stdout:
                break
            if proc.returncode is not None or all(t.done() for t in s.tasks):
                await proc.wait()
                raise AssertionError(f"mythos serve exited with {proc.returncode}:\n"
                                     f"{s.stdout}\n{s.stderr}")
            left = deadline - loop.time()
            assert left > 0, f"mythos serve did not start:\n{s.stdout}\n{s.stderr}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(seen.wait(), min(left, 0.5))
        m = re.search(r"telnet (\S+) (\d+)", s.stdout)
        w = re.search(r"http://(\S+?):(\d+)/health", s.stdout)
        assert m and w, s.stdout
        s.host, s.telnet_port, s.web_port = m[1], int(m[2]), int(w[2])
        yield s
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for t in s.tasks:
            t.cancel()
        await asyncio.gather(*s.tasks, return_exceptions=True)


async def http_get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head_, _, body = data.decode().partition("\r\n\r\n")
    return int(head_.split()[1]), body


async def read_character(url: str, name: str):
    store = await Store.open(url)
    try:
        return await store.get_character(name)
    finally:
        await store.close()


async def read_account(url: str, name: str):
    store = await Store.open(url)
    try:
        return await store.get_account(name)
    finally:
        await store.close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# -- help ---------------------------------------------------------------------------------------

HELP = {
    "mythos": ["serve", "db", "world", "account"],
    "serve": ["--host", "--telnet-port", "--web-port", "--database-url", "--world",
              "127.0.0.1", "4000", "8080", "MYTHOS_DATABASE_URL", "data/world"],
    "db": ["upgrade"],
    "db upgrade": ["--database-url"],
    "world check": ["DIR", "data/world"],
    "account": ["create", "role"],
    "account create": ["NAME", "--password", "--admin", "--profession", "--database-url"],
    "account role": ["NAME", "ROLE", "--database-url"],
}


@pytest.mark.parametrize("command", list(HELP))
async def test_help_mentions_the_options(command: str):
    args = command.split()[1:] if command == "mythos" else command.split()
    words = HELP[command]
    r = await mythos(*args, "--help")
    assert r.rc == 0, r.err
    assert "Usage:" in r.out and "Traceback" not in r.err
    for word in words:  # case-insensitive: argument names may be shown as NAME or name
        assert word.lower() in r.out.lower(), (
            f"{word!r} not in `mythos {' '.join(args)} --help`:\n{r.out}")


# -- settings -----------------------------------------------------------------------------------

def test_settings_flags_over_env_over_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for key in list(os.environ):
        if key.startswith("MYTHOS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    assert Settings().telnet_port == 4000  # defaults without a mythos.toml
    (tmp_path / "mythos.toml").write_text(
        'telnet_port = 4100\nweb_port = 8100\nhost = "0.0.0.0"\nlog_format = "json"\n'
        'flush_interval = 5.5\n')
    s = Settings()
    assert (s.telnet_port, s.web_port, s.host, s.log_format, s.flush_interval) == (
        4100, 8100, "0.0.0.0", "json", 5.5)
    monkeypatch.setenv("MYTHOS_TELNET_PORT", "4200")
    monkeypatch.setenv("MYTHOS_FLUSH_INTERVAL", "3600")
    s = Settings()
    assert (s.telnet_port, s.web_port, s.flush_interval) == (4200, 8100, 3600.0)
    s = Settings(telnet_port=4300)
    assert (s.telnet_port, s.web_port) == (4300, 8100)
    # The default database lives in data_dir.
    monkeypatch.setenv("MYTHOS_DATA_DIR", str(tmp_path / "state"))
    assert Settings().db_url == sqlite_url(tmp_path / "state" / "mythos.db")


async def test_database_url_from_toml_env_and_flag(tmp_path: Path):
    """Through the real process: mythos.toml in the working directory, then MYTHOS_*, then
    the flag; each upgrade creates the database it was pointed at."""
    dbs = {k: tmp_path / f"{k}.db" for k in ("toml", "env", "flag")}
    await asyncio.to_thread((tmp_path / "mythos.toml").write_text,
                            f'database_url = "{sqlite_url(dbs["toml"])}"\n')
    env = child_env(MYTHOS_DATABASE_URL=sqlite_url(dbs["env"]))
    r1, r2, r3 = await asyncio.gather(
        mythos("db", "upgrade", cwd=tmp_path),
        mythos("db", "upgrade", cwd=tmp_path, env=env),
        mythos("db", "upgrade", "--database-url", sqlite_url(dbs["flag"]), cwd=tmp_path,
               env=env))
    newest = await asyncio.to_thread(head)
    for r, key in ((r1, "toml"), (r2, "env"), (r3, "flag")):
        assert r.rc == 0, r.err
        assert str(dbs[key]) in r.out, (key, r.out)
        assert await asyncio.to_thread(current, sqlite_url(dbs[key])) == newest


def test_make_run_serves_after_setup():
    text = (REPO / "Makefile").read_text()
    m = re.search(r"^run:([^\n]*)\n((?:\t[^\n]*\n)+)", text, re.M)
    assert m, "no run target"
    assert "setup" in m[1].split()
    assert re.search(r"\bmythos serve\b", m[2]), m[2]


# -- db upgrade ---------------------------------------------------------------------------------

async def test_db_upgrade_creates_and_is_idempotent(db_url: str):
    assert await asyncio.to_thread(current, db_url) == ()
    for _ in range(2):
        r = await mythos("db", "upgrade", "--database-url", db_url)
        assert r.rc == 0, r.err
        assert "up to date" in r.out
        assert await asyncio.to_thread(current, db_url) == await asyncio.to_thread(head)


async def test_unreachable_database_is_one_line_and_exit_2(tmp_path: Path):
    results = await asyncio.gather(
        mythos("db", "upgrade", "--database-url", UNREACHABLE),
        mythos("serve", "--database-url", UNREACHABLE, "--telnet-port", "0", "--web-port",
               "0", "--world", str(WORLD_DIR), cwd=tmp_path),
        mythos("serve", cwd=tmp_path, env=child_env(MYTHOS_DATABASE_URL=UNREACHABLE,
                                                    MYTHOS_TELNET_PORT="0",
                                                    MYTHOS_WEB_PORT="0")),
        mythos("account", "create", "Ashley", "--password", PASSWORD,
               "--database-url", UNREACHABLE),
    )
    for r in results:
        assert r.rc == 2, (r.rc, r.err)
        line = one_line_error(r)
        assert MASKED in line
        assert "secret" not in r.err + r.out
        assert "Mythos is listening" not in r.out


# -- world check --------------------------------------------------------------------------------

def test_world_check_passes_the_starter_world():
    r = mythos_sync("world", "check", str(WORLD_DIR))
    assert r.rc == 0, r.out + r.err
    summary = r.out.strip().splitlines()[-1]
    assert re.search(r"\d+ zones, \d+ rooms", summary) and "no problems" in summary, summary
    # Without an argument: data/world of the working directory.
    r = mythos_sync("world", "check", cwd=REPO)
    assert r.rc == 0 and "no problems" in r.out, r.out + r.err


def test_world_check_lists_each_problem_with_file_and_id(tmp_path: Path):
    world = tmp_path / "world"
    shutil.copytree(WORLD_DIR, world)
    arkham = world / "zones" / "arkham.yaml"
    text = arkham.read_text()
    broken = text.replace("      north: arkham.garrison_st\n", "      north: arkham.nowhere\n", 1)
    assert broken != text
    arkham.write_text(broken)
    limbo = world / "zones" / "limbo.yaml"
    limbo.write_text(limbo.read_text().replace("environment: void", "environment: vacuum", 1))
    wy = world / "world.yaml"
    wy.write_text(wy.read_text().replace("respawn_room: sanitarium.foyer",
                                         "respawn_room: sanitarium.gone", 1))

    r = mythos_sync("world", "check", str(world))
    assert r.rc != 0
    assert "no problems" not in r.out
    assert "Traceback" not in r.err
    lines = (r.out + r.err).splitlines()

    def line_with(*parts: str) -> str:
        found = [ln for ln in lines if all(p in ln for p in parts)]
        assert found, f"no line with {parts} in:\n{r.out}{r.err}"
        return found[0]

    line_with("zones/arkham.yaml", "arkham.square", "arkham.nowhere")
    line_with("zones/limbo.yaml", "limbo.void", "vacuum")
    line_with("world.yaml", "sanitarium.gone")
    # A missing directory: one line, non-zero.
    r = mythos_sync("world", "check", str(tmp_path / "nowhere"))
    assert r.rc != 0 and "nowhere" in one_line_error(r)


# -- accounts -----------------------------------------------------------------------------------

async def test_account_create_role_and_connect(tmp_path: Path, busy_port: int):
    db = sqlite_url(tmp_path / "accounts.db")
    r = await mythos("account", "create", "ashley", "--password", PASSWORD, "--admin",
                     "--database-url", db)
    assert r.rc == 0, r.err
    assert "Ashley" in r.out
    assert (await read_account(db, "Ashley")).role == "admin"

    # Bad name, short password, taken name, unknown role: one clear line, non-zero.
    bad = await asyncio.gather(
        mythos("account", "create", "Ashley", "--password", "another-one",
               "--database-url", db),
        mythos("account", "create", "As", "--password", PASSWORD, "--database-url", db),
        mythos("account", "create", "R2d2x", "--password", PASSWORD, "--database-url", db),
        mythos("account", "create", "Bertram", "--password", "short", "--database-url", db),
        mythos("account", "role", "Ashley", "overlord", "--database-url", db),
        mythos("account", "role", "Nobody", "builder", "--database-url", db),
    )
    expected = ["taken", "letters", "letters", "8", "player", "Nobody"]
    for r, word in zip(bad, expected, strict=True):
        assert r.rc != 0, r.out
        assert word in one_line_error(r)
    assert await read_account(db, "Bertram") is None

    r = await mythos("account", "role", "ASHLEY", "builder", "--database-url", db)
    assert r.rc == 0, r.err
    assert (await read_account(db, "ashley")).role == "builder"
    r = await mythos("account", "create", "Bertram", "--password", PASSWORD,
                     "--database-url", db)
    assert r.rc == 0 and (await read_account(db, "bertram")).role == "player"

    # Serve that database (named in mythos.toml) and log in over telnet. The ports also show
    # the precedence: the flag beats MYTHOS_TELNET_PORT and mythos.toml, MYTHOS_WEB_PORT beats
    # mythos.toml; the busy port named by the losers would make the server fail to start.
    await asyncio.to_thread((tmp_path / "mythos.toml").write_text,
                            f'database_url = "{db}"\ntelnet_port = {busy_port}\n'
                            f'web_port = {busy_port}\n')
    env = child_env(MYTHOS_TELNET_PORT=str(busy_port), MYTHOS_WEB_PORT="0")
    async with serve("--telnet-port", "0", cwd=tmp_path, env=env) as srv:
        assert srv.telnet_port not in (0, busy_port) and srv.web_port not in (0, busy_port)
        c = await MudClient.connect("127.0.0.1", srv.telnet_port)
        await c.expect("By what name")
        c.send(f"connect Ashley {PASSWORD}")
        await c.expect("Exits:")
        await c.command("who", "Ashley")
        await c.close()
        assert await srv.stop() == 0


# -- serve and shut down ------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_serve_then_signal_shuts_down_cleanly(db_url: str, tmp_path: Path, sig: int):
    """Migrates a fresh database, serves telnet and HTTP, and on the signal closes the
    listener, tells the players, saves their progress in a final flush (the periodic flush is
    an hour away), closes the database and exits 0. On uvloop (the default where it is
    installed) for SIGTERM, on asyncio's own loop for SIGINT: both loops serve and stop alike."""
    loop = "uvloop" if sig == signal.SIGTERM else "asyncio"
    env = child_env(MYTHOS_FLUSH_INTERVAL="3600",
                    **({} if loop == "uvloop" else {"MYTHOS_EVENT_LOOP": loop}))
    async with serve("--host", "127.0.0.1", "--telnet-port", "0", "--web-port", "0",
                     "--database-url", db_url, cwd=tmp_path, env=env) as srv:
        assert srv.host == "127.0.0.1"
        # migrated first
        assert await asyncio.to_thread(current, db_url) == await asyncio.to_thread(head)
        status, body = await http_get(srv.web_port, "/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert json.loads(body)["event_loop"] == loop

        ann = await MudClient.connect("127.0.0.1", srv.telnet_port)
        await ann.expect("By what name")
        ann.send(f"create Annie {PASSWORD}")
        room = await ann.expect_gmcp("Room.Info")
        start = room["num"]
        assert start == "arkham.square"
        ann.send("north")
        moved = await ann.expect_gmcp("Room.Info", where=lambda d: d["num"] != start)
        assert moved["num"] == "arkham.garrison_st"
        await ann.command("sit", "You sit down.")
        lurker = await MudClient.connect("127.0.0.1", srv.telnet_port)  # still at the login
        await lurker.expect("By what name")
        row = await read_character(db_url, "Annie")
        assert row is not None and (row.room_id, row.posture) == (start, "standing")

        srv.proc.send_signal(sig)
        for c in (ann, lurker):
            await c.expect("shutting down", timeout=10)
        with pytest.raises(OSError):  # the listener closed before the players were told
            _, w = await asyncio.open_connection("127.0.0.1", srv.telnet_port)
            w.close()
        for c in (ann, lurker):
            await c.wait_closed(timeout=10)
        assert await srv.wait() == 0
        assert "Traceback" not in srv.stderr and "Logging error" not in srv.stderr, srv.stderr
        assert "server_stopped" in srv.stderr

    row = await read_character(db_url, "Annie")
    assert row is not None
    assert (row.room_id, row.posture) == (moved["num"], "sitting")
    if db_url.startswith("sqlite"):  # every connection closed: SQLite removed its WAL file
        path = Path(db_url.split("///", 1)[1])
        assert not await asyncio.to_thread(Path(f"{path}-wal").exists)


async def test_serve_refuses_a_broken_world_and_a_busy_port(tmp_path: Path, busy_port: int):
    world = tmp_path / "world"
    await asyncio.to_thread(shutil.copytree, WORLD_DIR, world)
    wy = world / "world.yaml"
    text = await asyncio.to_thread(wy.read_text)
    await asyncio.to_thread(wy.write_text, text.replace("start_room: arkham.square",
                                                        "start_room: arkham.gone", 1))
    db = tmp_path / "m.db"
    broken, busy = await asyncio.gather(
        mythos("serve", "--world", str(world), "--database-url", sqlite_url(db),
               "--telnet-port", "0", "--web-port", "0", cwd=tmp_path),
        mythos("serve", "--world", str(WORLD_DIR), "--database-url",
               sqlite_url(tmp_path / "busy.db"), "--telnet-port", "0",
               "--web-port", str(busy_port), cwd=tmp_path))
    assert broken.rc == 2 and "arkham.gone" in broken.err and "Traceback" not in broken.err
    # (a log line may come first: the telnet listener opened before the web one failed)
    assert busy.rc == 2 and "Traceback" not in busy.err
    assert str(busy_port) in busy.err.strip().splitlines()[-1]
    for r in (broken, busy):
        assert "Mythos is listening" not in r.out
    # The database was closed on the way out.
    assert not await asyncio.to_thread(Path(f"{tmp_path / 'busy.db'}-wal").exists)


def test_sqlite3_is_what_the_wal_check_assumes(tmp_path: Path):
    """The WAL check above relies on SQLite deleting the -wal file on the last clean close
    and keeping it otherwise."""
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    assert Path(f"{path}-wal").exists()
    conn.close()
    assert not Path(f"{path}-wal").exists()
