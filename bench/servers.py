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
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"


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

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class ExternalServer(Target):
    pass


class MythosServer(Target):
    def __init__(self, workdir: Path, python: str = sys.executable) -> None:
        super().__init__("mythos", "mythos")
        self.workdir = workdir
        self.python = python
        self.proc: asyncio.subprocess.Process | None = None
        self.log = workdir / "mythos-server.log"

    async def start(self, timeout: float = 60) -> None:
        db = self.workdir / "bench.db"
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(p.unlink)
        logf = await asyncio.to_thread(open, self.log, "wb")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.python, "-m", "mythos", "serve", "--host", "127.0.0.1",
                "--telnet-port", "0", "--web-port", "0",
                "--database-url", f"sqlite+aiosqlite:///{db}", "--world",
                str(REPO / "data" / "world"),
                # every bot comes from this machine: lift the per-address cap
                env=child_env(MYTHOS_MAX_CONNECTIONS_PER_ADDRESS="1000000",
                              MYTHOS_MAX_CONNECTIONS="1000000"),
                cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
                stdout=logf, stderr=logf)
        finally:
            await asyncio.to_thread(logf.close)
        self.pids = [self.proc.pid]
        deadline = time.monotonic() + timeout
        while True:
            text = await asyncio.to_thread(self.log.read_text, errors="replace")
            if "Press Ctrl-C to stop." in text:
                break
            if self.proc.returncode is not None or time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(f"mythos serve did not start:\n{text[-3000:]}")
            await asyncio.sleep(0.1)
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
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- Evennia --------------------------------------------------------------------------------------

EVENNIA_VERSION = "5.0.1"
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
        pids = []
        for name in ("portal.pid", "server.pid"):
            path = self.game / "server" / name
            text = await asyncio.to_thread(path.read_text)
            pids.append(int(text.strip()))
        self.pids = pids
        await self._wait_for_login_screen()

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

    def __init__(self, pids: list[int], interval: float = 1.0) -> None:
        import psutil

        self._psutil = psutil
        self.procs = [psutil.Process(p) for p in pids]
        self.interval = interval
        self.samples: list[tuple[float, float, int]] = []  # (monotonic, cpu %, rss bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        for p in self.procs:
            p.cpu_percent(None)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            cpu, rss = 0.0, 0
            for p in self.procs:
                try:
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss
                except self._psutil.Error:
                    continue
            self.samples.append((time.monotonic(), cpu, rss))

    def stop(self) -> None:
        self._stop.set()

    def window(self, t0: float, t1: float) -> dict[str, float | None]:
        """Mean CPU % and the last RSS (MiB) of the samples between t0 and t1."""
        inside = [s for s in self.samples if t0 < s[0] <= t1 + self.interval / 2]
        if not inside:
            return {"cpu_percent": None, "rss_mib": None}
        return {"cpu_percent": round(sum(s[1] for s in inside) / len(inside), 1),
                "rss_mib": round(inside[-1][2] / 2**20, 2)}

    def rss_now(self) -> int | None:
        total = 0
        for p in self.procs:
            try:
                total += p.memory_info().rss
            except self._psutil.Error:
                return None
        return total
