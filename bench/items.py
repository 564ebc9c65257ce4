"""Item transaction benchmark: what one economy turn costs the database side.

Every item move (``drop``, ``get``, ``give``, a purchase) is one transaction of conditional
statements (``store/items.py``: ``ItemStore.transact``), run one at a time. On SQLite the
transaction runs whole in the store's writer thread, holding the GIL for its Python part, so
that part is taken from the event loop as well; on PostgreSQL it runs on the loop. Here a
``drop a coin`` and a ``get it back`` (an ``Adjust`` of the purse and one of the coins on the
floor, then the reverse) run ``--transactions`` times on a real database (a temporary SQLite
file, or ``--postgres URL``: a fresh database made on that server and dropped after):

- ``wall_us``: each ``transact`` awaited in turn from the loop, as the economy does;
- ``thread_cpu_us`` (SQLite): the CPU time of the writer thread per transaction, measured
  there (``time.thread_time``): the statements, SQLAlchemy's part, the commit;
- ``sqlite3_cpu_us`` (SQLite): the same statements through Python's ``sqlite3`` alone, for
  scale: what the database itself costs.

Stdout and ``bench/results/items_<utc time>.json``; nothing here is pass/fail:

    .venv/bin/python -m bench.items
    .venv/bin/python -m bench.items --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mythos.store import ItemStore, Store
from mythos.store.items import Adjust, Create
from mythos.store.migrate import upgrade

from .flush import database

RESULTS = Path(__file__).resolve().parent / "results"
PURSE, FLOOR = "char:1", "room:arkham.square"


def _moves(purse: int, floor: int, i: int) -> list[Adjust]:
    d = -1 if i % 2 == 0 else 1  # drop a coin, then get it back
    return [Adjust(purse, PURSE, d), Adjust(floor, FLOOR, -d)]


def _sqlite3_cpu_us(path: str, purse: int, floor: int, n: int) -> float:
    """The same statements through ``sqlite3`` alone (what SQLite itself costs)."""
    conn = sqlite3.connect(path, isolation_level=None)
    sql = ("UPDATE items SET quantity = quantity + ? "
           "WHERE id = ? AND owner = ? AND quantity + ? >= 1")
    try:
        t0 = time.thread_time()
        for i in range(n):
            d = -1 if i % 2 == 0 else 1
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, (d, purse, PURSE, d))
            conn.execute(sql, (-d, floor, FLOOR, -d))
            conn.execute("COMMIT")
        return (time.thread_time() - t0) / n * 1e6
    finally:
        conn.close()


async def measure(url: str, n: int, rounds: int, sqlite_path: str | None) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, url)
    store = await Store.open(url)
    try:
        items = ItemStore.of(store)
        purse, floor = await items.transact([Create("coin", PURSE, 1000),
                                             Create("coin", FLOOR, 1000)])
        assert purse is not None and floor is not None
        rounds_out = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(n):
                await items.transact(_moves(purse, floor, i))
            wall = (time.perf_counter() - t0) / n * 1e6
            row: dict[str, Any] = {"wall_us": round(wall, 1)}
            if sqlite_path is not None:
                # time.thread_time() read in the writer thread itself, before and after
                before = await store.engines.write(lambda conn: time.thread_time())
                for i in range(n):
                    await items.transact(_moves(purse, floor, i))
                after = await store.engines.write(lambda conn: time.thread_time())
                row["thread_cpu_us"] = round((after - before) / n * 1e6, 1)
                row["sqlite3_cpu_us"] = round(await asyncio.to_thread(
                    _sqlite3_cpu_us, sqlite_path, purse, floor, n), 1)
            rounds_out.append(row)
            print(row, flush=True)
    finally:
        await store.close()
    keys = rounds_out[0].keys()
    return {"rounds": rounds_out,
            "median": {k: statistics.median(r[k] for r in rounds_out) for k in keys}}


async def on_postgres(args: argparse.Namespace) -> dict[str, Any]:
    async with database(args.postgres) as url:
        return await measure(url, args.transactions, args.rounds, None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.postgres:
        return {"backend": "postgresql", **asyncio.run(on_postgres(args))}
    with tempfile.TemporaryDirectory(prefix="mythos-items-") as tmp:  # made before the loop
        path = str(Path(tmp) / "items.db")
        return {"backend": "sqlite", **asyncio.run(
            measure(f"sqlite:///{path}", args.transactions, args.rounds, path))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.items", description=__doc__.split("\n")[0])
    p.add_argument("--transactions", type=int, default=2_000, help="per round (default 2000)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--postgres", metavar="URL", help="run on a fresh database made on this "
                   "PostgreSQL server (and dropped after) instead of a temporary SQLite file")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    result = {"benchmark": "items", "at": datetime.now(UTC).isoformat(timespec="seconds"),
              "transactions": args.transactions, **run(args)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"items_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median"]))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
