"""Mythos split over processes, for tests: ``mythos world`` and ``mythos gateway`` as real child
processes on the real NATS server, each on a bus prefix of its own test (so tests never hear
each other on the shared server).

    cluster = Cluster(tmp_path, db_url, token="s3cret")
    world = await cluster.start_world()
    gw = await cluster.start_gateway("alpha")
    c = await login(gw, "Ashley")          # mudclient.login: gw has .telnet_port
    ...
    await cluster.close()                  # kills whatever still runs

Every process writes its log to a file in the test's folder (``Node.log``); ``Node.tail()``
gives its end for an assertion message.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import shutil
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from test_cli import child_env

from mudclient import http_get

REPO = Path(__file__).resolve().parents[1]
WORLD_DIR = REPO / "data" / "world"
MYTHOS = str(Path(sys.executable).parent / "mythos")
NATS_URL = os.environ.get("MYTHOS_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or shutil.which("/usr/sbin/nats-server")

_WORLD_BANNER = re.compile(r"Mythos world is up on .*\n\s+http://[^\s:]+:(\d+)/health")
_GATEWAY_BANNER = re.compile(
    r"Mythos gateway (\S+) is listening.*\n\s+telnet \S+ (\d+)\n\s+http://[^\s:]+:(\d+)/")


class Node:
    """One ``mythos world`` or ``mythos gateway`` process."""

    def __init__(self, kind: str, name: str, args: list[str], env: dict[str, str], cwd: Path,
                 log: Path) -> None:
        self.kind = kind
        self.name = name
        self.args = args
        self.env = env
        self.cwd = cwd
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.out = ""  # its standard output so far (the banners)
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._logfile: IO[bytes] | None = None
        self.web_port = 0
        self.telnet_port = 0  # a gateway's
        self.gateway_id = ""  # a gateway's id on the bus (its subjects)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 40) -> Node:
        self._logfile = await asyncio.to_thread(open, self.log, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            MYTHOS, self.kind, *self.args, cwd=self.cwd, env=self.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=self._logfile)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.started(1, timeout)
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            self.out += line.decode(errors="replace")
            self._changed.set()
            self._changed = asyncio.Event()
        self._changed.set()

    @property
    def banners(self) -> int:
        """How many times it said it is up (a world that re-execs itself says it again)."""
        return len(self._banners())

    def _banners(self) -> list[tuple[str, ...]]:
        rx = _WORLD_BANNER if self.kind == "world" else _GATEWAY_BANNER
        return [m.groups() for m in rx.finditer(self.out)]

    async def started(self, count: int = 1, timeout: float = 40) -> None:
        """Wait until the process has printed its ``count``-th banner (a world that re-execs
        itself prints one more); take its ports from the last one."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._banners()) < count:
                    changed = self._changed
                    if self._reader is not None and self._reader.done():
                        raise AssertionError(
                            f"mythos {self.kind} ended before it was up:\n{self.out}\n"
                            f"{await self.tail()}")
                    await changed.wait()
        except TimeoutError:
            raise AssertionError(f"mythos {self.kind} did not start:\n{self.out}\n"
                                 f"{await self.tail()}") from None
        last = self._banners()[-1]
        if self.kind == "world":
            self.web_port = int(last[0])
        else:
            self.gateway_id, self.telnet_port, self.web_port = last[0], int(last[1]), int(last[2])

    async def health(self) -> tuple[int, str]:
        return await http_get(self.web_port, "/health")

    async def healthy(self, timeout: float = 20) -> str:
        """Wait until ``/health`` answers 200 (a gateway: when it sees the world)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        status, body = 0, ""
        while loop.time() < deadline:
            with contextlib.suppress(OSError):
                status, body = await self.health()
                if status == 200:
                    return body
            await asyncio.sleep(0.1)
        raise AssertionError(f"mythos {self.kind} not healthy ({status}: {body})\n"
                             f"{await self.tail()}")

    async def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when it is not there yet)."""
        status, body = await http_get(self.web_port, "/metrics")
        assert status == 200, body
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        sample = f"{name}{{{want}}}" if want else name
        for line in body.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 20) -> int:
        assert self.proc is not None
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"mythos {self.kind} did not end\n{await self.tail()}") from None
        await self._done()
        return rc

    async def kill(self) -> None:
        if self.running:
            self.signal(signal.SIGKILL)
        if self.proc is not None:
            await self.proc.wait()
        await self._done()

    async def _done(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 5)
        if self._logfile is not None:
            await asyncio.to_thread(self._logfile.close)
            self._logfile = None

    async def tail(self, lines: int = 40) -> str:
        """The end of its log, for an assertion message."""
        def read() -> str:
            try:
                return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                return ""
        return f"--- {self.log.name} ---\n{await asyncio.to_thread(read)}"


@dataclass
class PrivateNats:
    """A NATS server of a test's own: its URL and process."""

    conf: Path
    url: str = ""
    monitor: str = ""  # http://host:port of its monitoring endpoint, when its config has one
    proc: asyncio.subprocess.Process | None = None
    _drain: asyncio.Task[bytes] | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            NATS_SERVER or "nats-server", "-c", str(self.conf),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        assert self.proc.stderr is not None
        said = ""
        async with asyncio.timeout(10):
            while (m := re.search(r"client connections on (\S+:\d+)", said)) is None:
                line = await self.proc.stderr.readline()
                assert line, f"nats-server ended:\n{said}"
                said += line.decode(errors="replace")
        self.url = f"nats://{m[1]}"
        if (http := re.search(r"Starting http monitor on (\S+:\d+)", said)) is not None:
            self.monitor = f"http://{http[1]}"
        self._drain = asyncio.get_running_loop().create_task(self.proc.stderr.read())

    async def send(self, sig: int) -> None:
        """Send the server a signal (SIGSTOP: it stops answering, connections stay open;
        returned once it has stopped, not while it may still answer for a moment)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig != signal.SIGSTOP:
            return
        stat = Path(f"/proc/{self.proc.pid}/stat")
        async with asyncio.timeout(5):
            while True:  # its state, the field after its name in parentheses: T, stopped
                text = await asyncio.to_thread(stat.read_text)
                if text.rpartition(")")[2].split()[0] == "T":
                    return
                await asyncio.sleep(0.001)

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
            await self.proc.wait()
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None

    async def restart_in_place(self) -> None:
        """Start it again after a stop, on the same port: its clients reconnect by
        themselves, as to a NATS server that was restarted."""
        port = self.url.rsplit(":", 1)[1]
        text = await asyncio.to_thread(self.conf.read_text)
        await asyncio.to_thread(self.conf.write_text, re.sub(
            r'listen: "127\.0\.0\.1:-?\d+"', f'listen: "127.0.0.1:{port}"', text))
        await self.start()


@contextlib.asynccontextmanager
async def private_nats(tmp: Path, config: str = "") -> AsyncIterator[PrivateNats]:
    """A NATS server of the test's own (on a free port, with ``config`` lines, e.g.
    ``max_payload: 4MB``). For what the shared server's settings cannot show, and for
    stopping (and starting again) a server."""
    if NATS_SERVER is None:
        pytest.skip("no nats-server program to run a NATS server of the test's own")
    conf = tmp / f"nats-{uuid.uuid4().hex[:8]}.conf"
    await asyncio.to_thread(conf.write_text, f'listen: "127.0.0.1:-1"\n{config}\n')
    server = PrivateNats(conf)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


def with_logs(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A test on a ``shared`` cluster whose failures carry the end of the processes' logs."""
    @functools.wraps(test)
    async def run(shared: Cluster, **kwargs: Any) -> None:
        try:
            await test(shared, **kwargs)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{await shared.tails()}") from None
    return run


class Cluster:
    """A world and its gateways on a bus prefix of their own."""

    def __init__(self, tmp: Path, db_url: str, *, token: str = "", nats_url: str = NATS_URL,
                 **env: str) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.prefix = f"test{uuid.uuid4().hex[:12]}"
        self.token = token
        self.env = child_env(
            MYTHOS_NATS_URL=nats_url, MYTHOS_BUS_PREFIX=self.prefix, MYTHOS_DATA_DIR=str(tmp),
            MYTHOS_ARGON2_TIME_COST="1", MYTHOS_ARGON2_MEMORY_KIB="8192",
            MYTHOS_ARGON2_PARALLELISM="1", MYTHOS_LOGIN_FAILURE_DELAY="0.05",
            MYTHOS_COMMANDS_PER_SECOND="1000", MYTHOS_NPCS="false", MYTHOS_LOG_LEVEL="INFO",
            MYTHOS_SHUTDOWN_GRACE="5", **env)
        if token:
            self.env["MYTHOS_BUS_TOKEN"] = token
        self.nodes: list[Node] = []
        self._worlds = 0

    async def start_world(self) -> Node:
        """``mythos world`` on this cluster's database, healthy."""
        self._worlds += 1
        args = ["--world", str(WORLD_DIR), "--host", "127.0.0.1", "--web-port", "0",
                "--database-url", self.db_url]
        log = self.tmp / f"world-{self._worlds}.log"
        node = Node("world", "world", args, self.env, self.tmp, log)
        self.nodes.append(node)
        await node.start()
        await node.healthy()
        return node

    async def start_gateway(self, name: str, *, healthy: bool = True) -> Node:
        """``mythos gateway --name NAME``; ``healthy``: wait until it sees the world."""
        args = ["--host", "127.0.0.1", "--telnet-port", "0", "--web-port", "0", "--name", name]
        node = Node("gateway", name, args, self.env, self.tmp, self.tmp / f"gateway-{name}.log")
        self.nodes.append(node)
        await node.start()
        if healthy:
            await node.healthy()
        return node

    def node(self, kind: str, name: str = "") -> Node:
        """The running node of ``kind`` (a gateway: the one started as ``name``)."""
        for n in reversed(self.nodes):
            if n.kind == kind and n.running and (not name or n.name == name):
                return n
        raise AssertionError(f"no {kind} {name} running")

    async def tails(self) -> str:
        return "\n".join([await n.tail() for n in self.nodes])

    async def __aenter__(self) -> Cluster:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: object) -> None:
        """Kill whatever still runs; a failed assertion carries the ends of the logs."""
        try:
            if isinstance(exc, AssertionError):
                raise AssertionError(f"{exc}\n{await self.tails()}") from None
        finally:
            await self.close()

    async def close(self) -> None:
        """Kill whatever still runs (gateways first)."""
        for node in sorted(self.nodes, key=lambda n: n.kind == "world"):
            await node.kill()
