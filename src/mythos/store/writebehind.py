"""Write-behind of character progress (room, HP, XP, lucidity, level, posture).

The game marks a character dirty when its progress changes (``mark``: sync, O(1)); a background
task flushes what is dirty every ``interval`` seconds, in transactions of ``batch_size`` rows
(more after one that came back slowly: ``_next_size``). Progress is snapshotted with
``Character.progress()`` on the loop right before each write; after the write, a character whose
progress no longer equals the snapshot stays dirty, so a change that lands while a write is in
flight is never lost. A failed write keeps its rows dirty (the ``Character`` objects themselves
are kept, so a character that logged out while the database was down is still saved later) and
the loop retries with a backoff that doubles up to ``max_backoff``. Only one flush runs at a time.

With the progress go the new rows of each character's mind (explored rooms, horrors met, rite
cooldowns, liabilities: ``Character.mind.pending``), in the same transaction; a failed write
puts them back.

Progress flushes never write item ownership or money (that is the economy tier's job, one
transaction per action), so a stale snapshot cannot undo or copy an item.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from .db import describe_error
from .mind import MindSave
from .store import ProgressRow, Store

if TYPE_CHECKING:
    from mythos.metrics import Metrics
    from mythos.world.model import Character

log = structlog.get_logger(__name__)

#: A flush's next batch is ``batch_size`` times the seconds the last took over ``GROW_STEP``
#: (at least one, at most ``GROW_MAX``): see ``WriteBehind._next_size``.
GROW_STEP = 0.05
GROW_MAX = 20


class WriteBehind:
    def __init__(self, store: Store, *, interval: float = 1.0, batch_size: int = 250,
                 metrics: Metrics | None = None, max_backoff: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.store = store
        self.interval = interval
        self.batch_size = batch_size
        self.metrics = metrics
        self.max_backoff = max(max_backoff, interval)
        self._clock = clock
        self._dirty: dict[int, Character] = {}
        self._inflight: dict[int, Character] = {}
        self._last_seen: dict[int, datetime] = {}
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: False while writes are failing; True again after the next successful one.
        self.healthy = True
        #: One line describing the last failure, None while healthy.
        self.last_error: str | None = None
        #: Failed flushes in a row.
        self.failures = 0
        #: Seconds the background loop waits before its next flush (grows while failing).
        self.retry_delay = interval

    # -- called by the game (sync, on the loop) ---------------------------------------------

    def mark(self, char: Character) -> None:
        """``char``'s progress changed: save it with the next flush.

        (The ``dirty`` gauge is refreshed by each flush, not here, to keep this O(1).)"""
        self._dirty[char.id] = char

    def forget(self, char_id: int) -> None:
        """Drop any unsaved progress of ``char_id`` (e.g. the character was deleted)."""
        self._dirty.pop(char_id, None)
        self._inflight.pop(char_id, None)
        self._last_seen.pop(char_id, None)
        self._update_gauge()

    @property
    def dirty_count(self) -> int:
        """Characters whose progress is not yet known to be saved (dirty or being written)."""
        n = len(self._dirty)
        if self._inflight:
            n += sum(1 for cid in self._inflight if cid not in self._dirty)
        return n

    def pending(self, char_id: int) -> Character | None:
        """The ``Character`` whose progress is not yet saved (dirty or being written), or None.

        At login, when this is not None the database row is stale: use this object."""
        return self._dirty.get(char_id) or self._inflight.get(char_id)

    async def settle(self, char_id: int) -> Character | None:
        """Wait for a flush in progress to end, then return ``pending(char_id)``.

        Login calls this before it reads the character's row. A character with nothing
        unsaved (neither dirty nor in the flush under way) is not waited for: its row is
        current, and a flush of thousands of others (seconds, on a busy server) must not hold
        up its login."""
        if self.pending(char_id) is None:
            return None
        async with self._lock:
            return self.pending(char_id)

    # -- the background loop ----------------------------------------------------------------

    def start(self) -> None:
        """Start the background task that flushes every ``interval`` seconds."""
        if self._task is not None and not self._task.done():
            return
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="write-behind")

    async def _run(self) -> None:
        self.retry_delay = self.interval
        while True:
            try:
                async with asyncio.timeout(self.retry_delay):
                    await self._stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:
                log.exception("write_behind_loop_error")
            if self.healthy:
                self.retry_delay = self.interval
            else:
                self.retry_delay = min(self.max_backoff, max(self.retry_delay, self.interval) * 2)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and save everything dirty, retrying within ``timeout`` seconds.

        Call it before ``Store.close``. What cannot be saved in time is logged (and stays in
        ``dirty_count``)."""
        self._stopping.set()
        task, self._task = self._task, None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            async with asyncio.timeout_at(deadline):
                if task is not None:
                    await task
                pause = min(0.1, self.interval)
                while self.dirty_count:
                    await self.flush()
                    if self.dirty_count and not self.healthy:
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 2.0)
        except TimeoutError:
            pass
        if self.dirty_count:
            log.error("progress_unsaved_at_shutdown", characters=self.dirty_count,
                      error=self.last_error, timeout=timeout)

    # -- flushing ---------------------------------------------------------------------------

    async def flush(self) -> int:
        """Save everything dirty now, ``batch_size`` rows per transaction.

        Returns the rows written. Never raises for a database failure: the rows stay dirty,
        ``healthy`` turns False, ``last_error`` says why, and the failure is counted and logged.
        """
        async with self._lock:
            if not self._dirty:
                self._update_gauge()
                return 0
            started = self._clock()
            ids = list(self._dirty)
            written = 0
            ok = True
            i, size = 0, self.batch_size
            while i < len(ids):
                chunk = [c for cid in ids[i:i + size] if (c := self._dirty.get(cid)) is not None]
                i += size
                if not chunk:
                    continue
                sent = self._clock()
                if not await self._write(chunk):
                    ok = False
                    break
                written += len(chunk)
                size = self._next_size(self._clock() - sent)
            if self.metrics is not None:
                self.metrics.flush_duration.observe(self._clock() - started)
            if ok:
                self._succeeded()
            self._update_gauge()
            return written

    def _next_size(self, took: float) -> int:
        """Rows for the next batch of a flush, given how long the last one took to come back.

        ``batch_size`` bounds how long one batch's snapshot holds the loop (about 6 us a row).
        But each batch also waits for its answer, and on a saturated loop every wait is a turn
        of the loop, hundreds of milliseconds: 20 batches of 250 then took seconds, and a crash
        meanwhile would lose that much progress. So a batch whose answer was slow is followed
        by a bigger one, up to ``GROW_MAX`` times the size, its snapshot still a few percent of
        the time the answer took."""
        return self.batch_size * max(1, min(GROW_MAX, int(took / GROW_STEP)))

    async def flush_character(self, char: Character, *,
                              last_seen: datetime | None = None) -> bool:
        """Save ``char`` now (logout), with ``last_seen`` when given.

        True when saved; False when the database failed: it then stays dirty (with its
        ``last_seen``) and the background loop saves it later."""
        async with self._lock:
            if last_seen is not None:
                self._last_seen[char.id] = last_seen
            started = self._clock()
            ok = await self._write([char])
            if self.metrics is not None:
                self.metrics.flush_duration.observe(self._clock() - started)
            if ok:
                self._succeeded()
            self._update_gauge()
            return ok

    async def _write(self, chars: list[Character]) -> bool:
        """Write one batch in one transaction. Caller holds the lock."""
        snaps = []
        rows = []
        minds: list[MindSave] = []
        taken = []  # (character, its mind changes taken for this write)
        for c in chars:
            self._dirty.pop(c.id, None)
            self._inflight[c.id] = c
            snap = c.progress()
            snaps.append(snap)
            room_id, hp, max_hp, lucidity, xp, level, posture = snap
            rows.append(ProgressRow(
                id=c.id, room_id=room_id, hp=hp, max_hp=max_hp, lucidity=lucidity, xp=xp,
                level=level, posture=str(posture), last_seen=self._last_seen.get(c.id)))
            # The second kind of dirty data: the mind's new rows (world/mind.py), taken now
            # and put back if the write fails.
            if c.mind.pending:
                changes = c.mind.take_pending()
                taken.append((c, changes))
                minds.append(MindSave(c.id, sorted(changes.explored), changes.encounters,
                                      changes.cooldowns, changes.liabilities))
        try:
            await self.store.save_progress(rows, minds)
        except BaseException as exc:
            for c, changes in taken:
                c.mind.restore_pending(changes)
            # Not saved: every row is dirty again, unless forgotten meanwhile. A newer mark()
            # already put the (same or a newer) object back; keep that one.
            for c in chars:
                if self._inflight.get(c.id) is c:
                    del self._inflight[c.id]
                    self._dirty.setdefault(c.id, c)
            if not isinstance(exc, Exception):
                raise  # cancelled: the rows are dirty again; let it propagate
            self._failed(exc, len(rows))
            return False
        for c, snap, row in zip(chars, snaps, rows, strict=True):
            if self._inflight.get(c.id) is not c:
                continue  # forgotten while in flight
            del self._inflight[c.id]
            if row.last_seen is not None and self._last_seen.get(c.id) is row.last_seen:
                del self._last_seen[c.id]
            if c.id not in self._dirty and (c.progress() != snap or c.mind.pending):
                self._dirty[c.id] = c  # changed while in flight (and not marked): save again
        if self.metrics is not None:
            self.metrics.flush_rows.inc(len(rows))
        return True

    def _failed(self, exc: Exception, rows: int) -> None:
        self.failures += 1
        self.healthy = False
        self.last_error = describe_error(exc)
        if self.metrics is not None:
            self.metrics.flush_failures.inc()
        log.warning("progress_flush_failed", rows=rows, dirty=self.dirty_count,
                    failures=self.failures, error=self.last_error, db=self.store.url)

    def _succeeded(self) -> None:
        if not self.healthy:
            log.info("progress_flush_recovered", after_failures=self.failures,
                     dirty=self.dirty_count, db=self.store.url)
        self.healthy = True
        self.failures = 0
        self.last_error = None

    def _update_gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.dirty.set(self.dirty_count)
