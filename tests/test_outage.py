"""The database goes away during play and comes back, on both backends (PostgreSQL: the test's
own database stops taking connections and its backends are killed; SQLite: another connection
holds the write lock, since file permissions do not stop root; see docs/RELIABILITY.md).

Beside tests/test_engine.py (moving and sitting kept in memory and saved after, /health, logins
refused clearly) and tests/test_economy.py (a drop refused): here gives, buys, puts and a
password change during the outage are refused with a clear message and leave nothing half
done, in memory or in the database; afterwards the same actions go through without a restart.
"""

from __future__ import annotations

import json
from collections import Counter

from test_items import char_of, db_items, walk
from test_store import outage

from mudclient import http_get, login, wait_until

REFUSED = "The archives are unreachable just now; nothing moved."


def _totals(rows) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in rows:
        out[r.proto] += r.quantity
    return out


def _memory(app, *names: str) -> dict[int, tuple[str, int]]:
    from mythos.world.items import owner_key
    from mythos.world.items import walk as walk_items

    out = {}
    for n in names:
        for item in walk_items(char_of(app, n).items):
            out[item.id] = (owner_key(item.parent), item.quantity)
    return out


async def test_economy_is_refused_cleanly_during_an_outage(db_url, start_server):
    app = await start_server(db_url, commands_per_second=1000, db_busy_timeout=0.3,
                             flush_interval=0.2, channel_rate_limits=False)
    world = app.game.world
    a = await login(app, "Outagea")
    b = await login(app, "Outageb")
    await walk(a, world, world.start_room, "arkham.general_store")
    await walk(b, world, world.start_room, "arkham.general_store")
    await a.expect("Outageb arrives|Outageb has arrived|Outageb", timeout=5)
    before_rows = await db_items(app.store)
    before_memory = _memory(app, "Outagea", "Outageb")
    async with outage(db_url):
        for line in ("give 3 coins to Outageb", "give journal to Outageb", "buy candle",
                     "put pencil in satchel", "drop camera"):
            await a.command(line, REFUSED, timeout=15)
        await a.command("password miskatonic1928 brandnewpass", "password is unchanged",
                        timeout=15)
        await a.command("look", "Exits:")  # the game still answers
        assert _memory(app, "Outagea", "Outageb") == before_memory  # nothing moved in memory
        # Progress to save (a posture): its flush fails as well, and /health says so. (Without
        # it, whether a flush fell inside the outage was a race with the walk's last save.)
        await a.command("sit", "You sit down.")
        await a.command("stand", "You stand up.")
        await wait_until(lambda: not app.writebehind.healthy, timeout=15, what="a failed flush")
        status, body = await http_get(app.web_port, "/health")
        assert status == 503 and json.loads(body)["status"] == "degraded"
    after_rows = await db_items(app.store)
    assert sorted(after_rows) == sorted(before_rows)  # nor in the database, not half of it
    await wait_until(lambda: app.writebehind.healthy, timeout=30, what="flushing again")
    # Back: the same actions go through, with no restart.
    await a.command("give 3 coins to Outageb", "You give 3 coins to Outageb", timeout=15)
    await a.command("buy candle", "You buy a tallow candle", timeout=15)
    rows = await db_items(app.store)
    want = _totals(before_rows)
    want.update({"candle": 1, "coins": -1})
    assert _totals(rows) == +want
    status, body = await http_get(app.web_port, "/health")
    assert status == 200
    await a.close()
    await b.close()
