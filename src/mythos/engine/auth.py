"""Passwords (argon2id, hashed in a thread so the loop never waits) and login throttling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD = 8
MAX_PASSWORD = 128
NAME_RE = re.compile(r"^[A-Za-z]{3,20}$")


#: How much lower the hashing threads' scheduling priority is than the loop's (Linux nice).
HASH_NICENESS = 10


def _lower_priority() -> None:
    """Run in each hashing thread: on Linux a thread has its own nice value, and a nicer one
    leaves the CPU to the event loop (and to everything else) first. A burst of logins then
    waits for its hashes, and nobody already playing waits for the logins."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class Hasher:
    """argon2id hashing off the loop, in ``threads`` threads of their own, of lower priority
    than the loop's (``_lower_priority``)."""

    def __init__(self, threads: int = 2, hasher: PasswordHasher | None = None) -> None:
        self._ph = hasher or PasswordHasher()
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="argon2",
                                        initializer=_lower_priority)
        # A real hash of nothing in particular (made in the worker thread on first use):
        # verifying against it makes an unknown name cost the same as a wrong password.
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._ph.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify, password_hash, password)

    def close(self) -> None:
        """Let the threads go (a hash under way finishes first; none queued is started)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        real = password_hash is not None
        if password_hash is None:
            if self._decoy is None:
                self._decoy = self._ph.hash("decoy password, never matches")
            password_hash = self._decoy
        try:
            return self._ph.verify(password_hash, password) and real
        except (VerifyMismatchError, VerificationError, InvalidHashError,
                UnicodeEncodeError):  # a lone surrogate (JSON "\udfff") is no password
            return False


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return f"A password needs at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"A password may have at most {MAX_PASSWORD} characters."
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in password):
        return "A password may not contain control characters."
    return None


@dataclass
class _Failures:
    count: int = 0
    last: float = field(default_factory=time.monotonic)


class LoginThrottle:
    """Slows repeated login failures from one address: each failure doubles the wait."""

    def __init__(self, base_delay: float = 1.0, max_delay: float = 8.0,
                 forget_after: float = 300.0) -> None:
        self.base = base_delay
        self.max = max_delay
        self.forget_after = forget_after
        self._by_host: dict[str, _Failures] = {}

    def delay(self, host: str) -> float:
        f = self._by_host.get(host)
        if f is None or f.count == 0:
            return 0.0
        if time.monotonic() - f.last > self.forget_after:
            del self._by_host[host]
            return 0.0
        return min(self.max, self.base * 2 ** (f.count - 1))

    def failed(self, host: str) -> None:
        f = self._by_host.setdefault(host, _Failures())
        f.count += 1
        f.last = time.monotonic()

    def succeeded(self, host: str) -> None:
        self._by_host.pop(host, None)

    def prune(self) -> None:
        now = time.monotonic()
        for host in [h for h, f in self._by_host.items() if now - f.last > self.forget_after]:
            del self._by_host[host]
