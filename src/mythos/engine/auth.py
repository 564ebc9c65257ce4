"""Passwords (argon2id, hashed in a thread so the loop never waits) and login throttling."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD = 8
MAX_PASSWORD = 128
NAME_RE = re.compile(r"^[A-Za-z]{3,20}$")


class Hasher:
    """argon2id hashing off the loop, at most ``threads`` at a time."""

    def __init__(self, threads: int = 2, hasher: PasswordHasher | None = None) -> None:
        self._ph = hasher or PasswordHasher()
        self._sem = asyncio.Semaphore(threads)
        # A real hash of nothing in particular (made in the worker thread on first use):
        # verifying against it makes an unknown name cost the same as a wrong password.
        self._decoy: str | None = None

    async def hash(self, password: str) -> str:
        async with self._sem:
            return await asyncio.to_thread(self._ph.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._sem:
            return await asyncio.to_thread(self._verify, password_hash, password)

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
