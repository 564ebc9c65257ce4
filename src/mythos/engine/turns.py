"""Turns: which economy actions may check and move things at the same time.

An economy action holds a turn from its checks against the world in memory to the end of its
commit (``Economy.turn``), so what it checked cannot change under it while it waits for the
database. A turn names its parties, the things whose holdings it reads or changes (the acting
character and the room it stands in, a corpse's room): turns with no party in common run at
once, their transactions queued back to back in the database's writer; turns that share one
take turns, first come, first served. A turn without parties is the whole economy: it waits
for every turn under way, and every later turn waits for it (start-up, seeding).

One lock for the whole game did the same job more simply, but then each action cost the loop
a turnaround or two (a wake-up to take the lock, one for its transaction's answer), one action
after another: on a loop saturated by thousands of players, at tens of milliseconds a
turnaround, the game managed some 40 item actions a second and kept the rest waiting for
seconds, then refused them (docs/PERFORMANCE.md, 2026-12-07).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field


@dataclass(eq=False)
class Turn:
    """One holder's turn. ``keys``: the ``id()`` of each party (kept alive in ``parties``
    while the turn lasts); None: the whole economy."""

    parties: tuple[object, ...]
    keys: frozenset[int] | None
    over: asyncio.Event = field(default_factory=asyncio.Event)


class Turns:
    def __init__(self) -> None:
        self._held: set[int] = set()
        self._whole: Turn | None = None
        self._active: set[Turn] = set()
        self._queue: deque[tuple[Turn, asyncio.Future[None]]] = deque()

    @property
    def active(self) -> list[Turn]:
        """The turns under way now."""
        return list(self._active)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def take(self, *parties: object) -> Turn:
        """Wait for a turn with ``parties`` (none: the whole economy); give it back with
        ``give_back``. Cancelled while waiting, it never holds anything."""
        turn = Turn(parties, frozenset(map(id, parties)) if parties else None)
        if not self._queue and self._free(turn.keys):
            self._grant(turn)  # the usual case: nobody in the way, no wait at all
            return turn
        entry = (turn, asyncio.get_running_loop().create_future())
        self._queue.append(entry)
        self._wake()  # in the way of nobody queued before it: granted at once
        try:
            await entry[1]
        except BaseException:
            if entry[1].done() and not entry[1].cancelled():
                self.give_back(turn)  # granted just as it was cancelled
            else:
                self._queue.remove(entry)
                self._wake()  # it may have been in the way of later ones
            raise
        return turn

    def give_back(self, turn: Turn) -> None:
        if turn not in self._active:
            return
        self._active.remove(turn)
        if turn.keys is None:
            self._whole = None
        else:
            self._held -= turn.keys
        turn.over.set()
        self._wake()

    def _free(self, keys: frozenset[int] | None) -> bool:
        if self._whole is not None:
            return False
        return not self._held if keys is None else self._held.isdisjoint(keys)

    def _grant(self, turn: Turn) -> None:
        self._active.add(turn)
        if turn.keys is None:
            self._whole = turn
        else:
            self._held |= turn.keys

    def _wake(self) -> None:
        """Grant, in order, every queued turn that is free and not behind an earlier queued
        one it shares a party with (so none waits forever behind later ones)."""
        ahead: set[int] = set()  # the parties of queued turns still waiting
        for entry in list(self._queue):
            turn, waiter = entry
            if waiter.done():  # cancelled: it takes itself out of the queue
                continue
            if turn.keys is None:  # the whole economy: after everything before it
                if not ahead and self._free(None):
                    self._queue.remove(entry)
                    self._grant(turn)
                    waiter.set_result(None)
                return  # nothing queued after it goes first
            if ahead.isdisjoint(turn.keys) and self._free(turn.keys):
                self._queue.remove(entry)
                self._grant(turn)
                waiter.set_result(None)
            else:
                ahead |= turn.keys
