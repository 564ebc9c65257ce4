"""The chaos soak: the test of ``tests/test_chaos.py`` with more kills, more bots and longer
bursts. Bots give, drop, get, put, buy and walk while ``python -m mythos serve`` is killed with
SIGKILL at random moments and restarted; after every kill the database is checked against every
acknowledged action (see the test's docstring). Run it small and niced on a shared machine::

    nice -n 19 .venv/bin/python -m bench.chaos --kills 50 --bots 5 --burst 0.5 3
    nice -n 19 .venv/bin/python -m bench.chaos --database-url postgresql+asyncpg://.../db

An empty database is needed (a fresh SQLite file is made in a temporary folder by default; a
PostgreSQL database given here must be empty and is left as it ends). Prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=30)
    p.add_argument("--bots", type=int, default=4)
    p.add_argument("--burst", type=float, nargs=2, default=(0.3, 2.0), metavar=("MIN", "MAX"),
                   help="seconds of play before each kill, drawn uniformly")
    p.add_argument("--seed", type=int, default=1926)
    p.add_argument("--database-url", default="", help="default: a new SQLite file")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from test_chaos import run_chaos  # the same bots, checks and kill loop as the test

    with tempfile.TemporaryDirectory(prefix="mythos-chaos-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'chaos.db'}"
        started = time.monotonic()
        chaos = asyncio.run(run_chaos(url, Path(tmp), kills=args.kills,
                                      burst=tuple(args.burst), seed=args.seed,
                                      nbots=args.bots))
        took = time.monotonic() - started
    print(f"chaos soak: {chaos.kills} SIGKILLs survived, {len(chaos.bots)} bots, "
          f"{chaos.actions} actions acknowledged ({chaos.effective} economy moves or walks "
          f"done and checked), every invariant held; {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
