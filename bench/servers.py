"""The servers under test: started, watched (CPU and memory) and stopped by the harness.

- ``MythosServer``: ``python -m mythos serve`` on free ports and a fresh SQLite file, as a
  separate process; the ports are read from what it prints.
- ``ExternalServer``: one somebody else started (``--connect``), e.g. a test's own server.
- ``EvenniaServer``: Evennia from PyPI in its own virtual environment under ``bench/``, with a
  game directory of its own; nothing of it enters the repository.

``Sampler`` reads the CPU and resident memory of the server's processes once a second, in a
thread (psutil calls block).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
#: The world the server loads unless the run asks for a bigger one (`bench/world.py`).
STARTER_WORLD = REPO / "data" / "world"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The server's environment: no MYTHOS_* settings and no asyncio debug mode from outside,
    so it runs as an operator would run it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MYTHOS_") and k != "PYTHONASYNCIODEBUG"}
    env.update(PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class Target:
    """Where the bots go and what to watch."""

    name: str  # "mythos" or "evennia"
    profile: str  # bots' Profile name
    host: str = "127.0.0.1"
    port: int = 0
    metrics_url: str | None = None  # Prometheus text, when the server has it
    web_port: int | None = None  # HTTP: the WebSocket bots log in and play there
    pids: list[int] = field(default_factory=list)
    version: str = ""
    #: (telnet port, web port) of each front door: a cluster has a gateway each; the load
    #: generators spread over them. Empty: (port, web_port).
    endpoints: list[tuple[int, int | None]] = field(default_factory=list)
    #: What each of ``pids`` is ("serve", "world", "gateway g0" ...), for the per-process figures.
    roles: list[str] = field(default_factory=list)
    #: Where ``bench.loopprobe`` writes what the server's loop did (``--loop-probe``), if it runs.
    probe_file: Path | None = None

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def current_pids(self) -> list[int]:
        """``pids`` as they are now (a server that restarts its processes says so here);
        called in the sampler's thread."""
        return self.pids


class ExternalServer(Target):
    pass


class MythosServer(Target):
    def __init__(self, workdir: Path, python: str = sys.executable,
                 event_loop: str = "auto", world: Path = STARTER_WORLD,
                 loop_probe: bool = False) -> None:
        super().__init__("mythos", "mythos")
        self.workdir = workdir
        self.event_loop = "asyncio" if loop_probe else event_loop
        self.world = world
        self.python = python
        self.proc: asyncio.subprocess.Process | None = None
        self.log = workdir / "mythos-server.log"
        if loop_probe:
            self.probe_file = workdir / "loop-probe.json"

    async def start(self, timeout: float = 60) -> None:
        db = self.workdir / "bench.db"
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(p.unlink)
        probe = {} if self.probe_file is None else {
            "BENCH_LOOP_PROBE": str(self.probe_file),
            "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
        self.proc, text = await spawn_mythos(
            self.python, ["serve", "--host", "127.0.0.1", "--telnet-port", "0", "--web-port", "0",
                          "--database-url", f"sqlite:///{db}", "--world",
                          str(self.world)],
            # every bot comes from this machine: lift the per-address cap (as Evennia's
            # throttles are raised); the total cap stays the server's default
            self.workdir, self.log, child_env(MYTHOS_MAX_CONNECTIONS_PER_ADDRESS="1000000",
                                              MYTHOS_EVENT_LOOP=self.event_loop, **probe),
            "Press Ctrl-C to stop.", timeout, module="bench.loopprobe" if probe else "mythos")
        self.pids = [self.proc.pid]
        self.roles = ["serve"]
        m = re.search(r"telnet (\S+) (\d+)", text)
        w = re.search(r"http://(\S+?):(\d+)/", text)
        if not (m and w):
            await self.stop()
            raise RuntimeError(f"no ports in what mythos serve printed:\n{text[-3000:]}")
        self.host, self.port, self.web_port = m[1], int(m[2]), int(w[2])
        self.metrics_url = f"http://{w[1]}:{w[2]}/metrics"
        from mythos import __version__

        self.version = __version__

    async def stop(self) -> None:
        await terminate(self.proc)


async def spawn_mythos(python: str, args: list[str], workdir: Path, log: Path,
                       env: dict[str, str], ready: str, timeout: float = 60,
                       module: str = "mythos") -> tuple[asyncio.subprocess.Process, str]:
    """``python -m mythos ARGS`` (or another ``module`` that runs it) with its output in
    ``log``; waits until it prints ``ready``. Returns the process and what it printed so far."""
    logf = await asyncio.to_thread(open, log, "wb")
    try:
        proc = await asyncio.create_subprocess_exec(
            python, "-m", module, *args, env=env, cwd=workdir,
            stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf)
    finally:
        await asyncio.to_thread(logf.close)
    deadline = time.monotonic() + timeout
    while True:
        text = await asyncio.to_thread(log.read_text, errors="replace")
        if ready in text:
            return proc, text
        if proc.returncode is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise RuntimeError(f"mythos {args[0]} did not start:\n{text[-3000:]}")
        await asyncio.sleep(0.1)


async def terminate(proc: asyncio.subprocess.Process | None, timeout: float = 60) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


class MythosCluster(Target):
    """The world and ``gateways`` gateways over NATS (``mythos world``, ``mythos gateway``),
    each its own process, on a fresh SQLite file; the bots spread over the gateways."""

    def __init__(self, workdir: Path, gateways: int, nats_url: str,
                 python: str = sys.executable, event_loop: str = "auto",
                 world: Path = STARTER_WORLD) -> None:
        super().__init__("mythos", "mythos")
        self.workdir = workdir
        self.event_loop = event_loop
        self.world = world
        self.gateways = max(1, gateways)
        self.nats_url = nats_url
        self.python = python
        self.procs: list[asyncio.subprocess.Process] = []
        self.log = workdir / "mythos-world.log"

    async def start(self, timeout: float = 60) -> None:
        db = self.workdir / "bench.db"
        env = child_env(MYTHOS_MAX_CONNECTIONS_PER_ADDRESS="1000000",
                        MYTHOS_NATS_URL=self.nats_url, MYTHOS_EVENT_LOOP=self.event_loop,
                        MYTHOS_BUS_PREFIX=f"bench{os.getpid()}x{int(time.time())}")
        world, text = await spawn_mythos(
            self.python, ["world", "--host", "127.0.0.1", "--web-port", "0", "--database-url",
                          f"sqlite:///{db}", "--world", str(self.world)],
            self.workdir, self.log, env, "Gateways: mythos gateway", timeout)
        self.procs.append(world)
        w = re.search(r"http://(\S+?):(\d+)/health", text)
        if not w:
            await self.stop()
            raise RuntimeError(f"no port in what mythos world printed:\n{text[-3000:]}")
        self.metrics_url = f"http://{w[1]}:{w[2]}/metrics"
        self.roles = ["world"]
        for i in range(self.gateways):
            gw, text = await spawn_mythos(
                self.python, ["gateway", "--host", "127.0.0.1", "--telnet-port", "0",
                              "--web-port", "0", "--name", f"g{i}"],
                self.workdir, self.workdir / f"mythos-gateway-{i}.log", env,
                "Press Ctrl-C to stop.", timeout)
            self.procs.append(gw)
            m = re.search(r"telnet (\S+) (\d+)", text)
            h = re.search(r"http://(\S+?):(\d+)/", text)
            if not (m and h):
                await self.stop()
                raise RuntimeError(f"no ports in what mythos gateway printed:\n{text[-3000:]}")
            self.host = m[1]
            self.endpoints.append((int(m[2]), int(h[2])))
            self.roles.append(f"gateway g{i}")
        self.port, self.web_port = self.endpoints[0]
        self.pids = [p.pid for p in self.procs]
        await self._wait_for_world(timeout)
        from mythos import __version__

        self.version = f"{__version__} (world + {self.gateways} gateway"
        self.version += "s)" if self.gateways > 1 else ")"

    async def _wait_for_world(self, timeout: float) -> None:
        """Until every gateway's /health says it hears the world."""
        deadline = time.monotonic() + timeout
        for _, web in self.endpoints:
            while True:
                try:
                    reader, writer = await asyncio.open_connection(self.host, web)
                    writer.write(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
                    status = (await reader.readline()).split()
                    writer.close()
                    if len(status) > 1 and status[1] == b"200":
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the gateways never saw the world")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for proc in reversed(self.procs):  # the gateways, then the world
            await terminate(proc)


# -- Evennia --------------------------------------------------------------------------------------

EVENNIA_VERSION = "6.1.0"
EVENNIA_PYTHON = os.environ.get("EVENNIA_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python3.12")
EVENNIA_VENV = BENCH / ".evennia-venv"
EVENNIA_GAME = BENCH / "evennia-game"
#: Raised for a load test from one address; everything else stays Evennia's default.
EVENNIA_SETTINGS = """
# -- written by bench/servers.py: loopback ports, and no throttles for a load test -----------
TELNET_PORTS = [{telnet}]
TELNET_INTERFACES = ["127.0.0.1"]
WEBSERVER_PORTS = [({web}, {web_internal})]
WEBSERVER_INTERFACES = ["127.0.0.1"]
WEBSOCKET_CLIENT_PORT = {websocket}
WEBSOCKET_CLIENT_INTERFACE = "127.0.0.1"
AMP_PORT = {amp}
AMP_INTERFACE = "127.0.0.1"
MAX_CONNECTION_RATE = 100000
CREATION_THROTTLE_LIMIT = None
LOGIN_THROTTLE_LIMIT = None
"""


class EvenniaServer(Target):
    def __init__(self, venv: Path = EVENNIA_VENV, game: Path = EVENNIA_GAME,
                 python: str = EVENNIA_PYTHON) -> None:
        super().__init__("evennia", "evennia")
        self.venv = venv
        self.game = game
        self.python = python
        self.version = EVENNIA_VERSION

    @property
    def evennia(self) -> str:
        return str(self.venv / "bin" / "evennia")

    async def _run(self, *args: str, cwd: Path | None = None, timeout: float = 900,
                   env: dict[str, str] | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, env=env or child_env(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{text[-3000:]}")
        return text

    async def install(self) -> None:
        """The virtual environment and the game directory, made once and kept (gitignored)."""
        if not await asyncio.to_thread((self.venv / "bin" / "evennia").exists):
            if not await asyncio.to_thread(Path(self.python).exists):
                raise RuntimeError(f"no Python for Evennia at {self.python} (set EVENNIA_PYTHON)")
            print(f"Installing Evennia {EVENNIA_VERSION} into {self.venv} ...", flush=True)
            await self._run(self.python, "-m", "venv", str(self.venv))
            # setuptools brings back distutils, which Evennia's launcher imports on 3.12.
            await self._run(str(self.venv / "bin" / "pip"), "install", "-q",
                            f"evennia=={EVENNIA_VERSION}", "setuptools")
        if not await asyncio.to_thread((self.game / "server" / "conf" / "settings.py").exists):
            print(f"Initialising the Evennia game directory {self.game} ...", flush=True)
            await asyncio.to_thread(self.game.parent.mkdir, parents=True, exist_ok=True)
            await self._run(self.evennia, "--init", self.game.name, cwd=self.game.parent,
                            env=self._env())

    async def _configure(self) -> None:
        """Fresh loopback ports each start; the throttles raised."""
        path = self.game / "server" / "conf" / "settings.py"
        text = await asyncio.to_thread(path.read_text)
        text = text.split("\n# -- written by bench/servers.py")[0].rstrip("\n") + "\n"
        ports = dict(telnet=free_port(), web=free_port(), web_internal=free_port(),
                     websocket=free_port(), amp=free_port())
        text += EVENNIA_SETTINGS.format(**ports)
        await asyncio.to_thread(path.write_text, text)
        self.port = ports["telnet"]

    def _env(self) -> dict[str, str]:
        # The launcher runs ``twistd`` from PATH: the one of Evennia's environment.
        path = f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return child_env(PATH=path, EVENNIA_SUPERUSER_USERNAME="Benchadmin",
                         EVENNIA_SUPERUSER_PASSWORD="Adm-7qLx.92vK",
                         EVENNIA_SUPERUSER_EMAIL="bench@example.invalid")

    async def start(self) -> None:
        await self.install()
        await self.stop()  # one left running by an interrupted run
        await self._configure()
        await self._run(self.evennia, "migrate", cwd=self.game, env=self._env())
        await self._run(self.evennia, "start", cwd=self.game, env=self._env(), timeout=180)
        self.pids = await asyncio.to_thread(self.current_pids)
        await self._wait_for_login_screen()

    def current_pids(self) -> list[int]:
        """The Portal's and the Server's pids, from their pid files."""
        return [int((self.game / "server" / name).read_text().strip())
                for name in ("portal.pid", "server.pid")]

    async def _wait_for_login_screen(self, timeout: float = 120) -> None:
        """The portal accepts connections before the server can greet anyone: wait until a
        connection gets the login screen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            writer = None
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                seen = b""
                async with asyncio.timeout(10):
                    while b"<username>" not in seen:
                        chunk = await reader.read(4096)
                        if not chunk:
                            break
                        seen += chunk
                if b"<username>" in seen:
                    return
            except (OSError, TimeoutError):
                pass
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(1)
        raise RuntimeError(f"Evennia on port {self.port} never showed its login screen")

    async def stop(self) -> None:
        pids = [self.game / "server" / n for n in ("server.pid", "portal.pid")]
        if any([await asyncio.to_thread(p.exists) for p in pids]):
            with contextlib.suppress(RuntimeError, TimeoutError):
                await self._run(self.evennia, "stop", cwd=self.game, env=self._env(),
                                timeout=120)

    async def remove_game(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.game, True)


# -- CPU and memory -----------------------------------------------------------------------------

class Sampler:
    """CPU % (of one core) and resident memory of some processes, summed, once a second."""

    def __init__(self, pids: list[int], interval: float = 1.0,
                 resolve: Callable[[], list[int]] | None = None) -> None:
        import psutil

        self._psutil = psutil
        #: Where to find the processes again when one is gone (a restart, in the same order).
        self._resolve = resolve
        self.procs = [psutil.Process(p) for p in pids]
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []  # (monotonic, cpu %, rss bytes)
        #: The same, for each process on its own (in the order of ``pids``).
        self.each: list[list[tuple[float, float, int]]] = [[] for _ in pids]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        for p in self.procs:
            p.cpu_percent(None)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            cpu, rss = 0.0, 0
            now = time.monotonic()
            for i, (p, mine) in enumerate(zip(self.procs, self.each, strict=True)):
                try:
                    one_cpu, one_rss = p.cpu_percent(None), p.memory_info().rss
                except self._psutil.Error:
                    self._find_again(i)
                    continue
                cpu += one_cpu
                rss += one_rss
                mine.append((now, one_cpu, one_rss))
            self.samples.append((now, cpu, rss))

    def _find_again(self, i: int) -> None:
        """Process ``i`` is gone: follow its successor (Evennia restarts its Server once after
        the first start of a new game directory, under a new pid)."""
        if self._resolve is None:
            return
        try:
            proc = self._psutil.Process(self._resolve()[i])
            proc.cpu_percent(None)  # the first reading only starts the count
        except Exception:
            return
        self.procs[i] = proc

    def stop(self) -> None:
        self._stop.set()

    def window(self, t0: float, t1: float,
               samples: list[tuple[float, float, int]] | None = None) -> dict[str, float | None]:
        """Mean CPU % and the last RSS (MiB) of the samples between t0 and t1."""
        inside = [s for s in (self.samples if samples is None else samples)
                  if t0 < s[0] <= t1 + self.interval / 2]
        if not inside:
            return {"cpu_percent": None, "rss_mib": None}
        return {"cpu_percent": round(sum(s[1] for s in inside) / len(inside), 1),
                "rss_mib": round(inside[-1][2] / 2**20, 2)}

    def windows(self, t0: float, t1: float) -> list[dict[str, float | None]]:
        """``window`` for each process on its own."""
        return [self.window(t0, t1, mine) for mine in self.each]

    def rss_now(self) -> int | None:
        total = 0
        for p in self.procs:
            try:
                total += p.memory_info().rss
            except self._psutil.Error:
                return None
        return total
