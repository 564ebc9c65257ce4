"""Beyond one process (issue #10): ``mythos world`` and ``mythos gateway`` as separate processes
(``tests/cluster.py``) on the real NATS server. Players on two gateways share the world, a
takeover crosses gateways, the world hears only trusted gateways and takes no oversized message,
the world restarts (SIGTERM, the staff's ``reload``, a crash) while players stay connected, and
a gateway killed drops only its own players. Last, ``reload`` in the single process (``mythos
serve``).

Every cluster has a bus prefix of its own, so tests never hear each other on the shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.msg import Msg

from cluster import NATS_URL, Cluster, Node, PrivateNats, private_nats, with_logs
from mythos.bus.nats import MAX_MESSAGE, TOKEN_HEADER, NatsBus, decode, encode
from mythos.store import Store
from test_cli import mythos, sqlite_url
from test_store import outage

from mudclient import PASSWORD, MudClient, http_get, login, staff, wait_until

TOKEN = f"trusted-{uuid.uuid4().hex}"
RESTARTING = "the world is restarting"
WAITING = re.escape("(The world is not back yet; your command will run when it is.")
#: The world needs its moment after a restart: replies then may take longer than usual.
BACK = 30


def steadies(name: str) -> str:
    return re.escape(f"The world steadies around you again, {name}. You are where you were.")


async def who(c: MudClient) -> str:
    c.send("who")
    return (await c.expect(r"Investigators in Arkham(?s:.*?)\d+ investigators? online")).group()


async def room_of(c: MudClient, num: str) -> None:
    await c.expect_gmcp("Room.Info", where=lambda info: info["num"] == num)


async def inventory(c: MudClient) -> str:
    """What the client carries, as ``inventory`` lists it (weights included)."""
    return (await c.command("inventory", r"You are carrying:(?s:.*?)lb in all\.\)")).group()


async def close(*clients: MudClient) -> None:
    await asyncio.gather(*(c.close() for c in clients))


# -- one cluster for most cases: a world, gateways alpha and beta ------------------------------

module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """A world and two gateways, trusting one another by a shared token; an admin, Warden.
    The cases that share it leave it as they found it, but for the last (a gateway killed)."""
    tmp = tmp_path_factory.mktemp("cluster")
    db = sqlite_url(tmp / "mythos.db")
    cluster = Cluster(tmp, db, token=TOKEN)
    made = await mythos("account", "create", "Warden", "--password", PASSWORD, "--admin",
                        "--database-url", db, cwd=tmp, env=cluster.env)
    assert made.rc == 0, made.err
    try:
        await asyncio.gather(cluster.start_world(), cluster.start_gateway("alpha"),
                             cluster.start_gateway("beta"))
        yield cluster
    finally:
        await cluster.close()


@module_loop
@with_logs
async def test_players_on_two_gateways_see_and_hear_each_other(shared: Cluster) -> None:
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    ann = await login(alpha, "Ashcroft")
    bob = await login(beta, "Blackwood")
    await ann.expect("Blackwood has entered the game.")
    await ann.command("look", "Blackwood")
    await ann.command("say Can you hear me across the river?", "You say")
    await bob.expect(re.escape("Ashcroft says, 'Can you hear me across the river?'"))
    await bob.command("say Loud and clear.", "You say")
    await ann.expect(re.escape("Blackwood says, 'Loud and clear.'"))
    for c in (ann, bob):
        listed = await who(c)
        assert "Ashcroft the" in listed and "Blackwood the" in listed, listed
    # Both gateways see the world (their /health says so).
    for gw in (alpha, beta):
        status, body = await gw.health()
        assert status == 200 and '"world_up": true' in body, body
    await close(ann, bob)


@module_loop
@with_logs
async def test_a_login_on_another_gateway_takes_the_character_over(shared: Cluster) -> None:
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    first = await login(alpha, "Tremaine")
    await first.command("lie", "You lie down.")
    second = await MudClient.connect("127.0.0.1", beta.telnet_port)
    await second.expect("By what name")
    second.send(f"connect Tremaine {PASSWORD}")
    await first.expect("Someone has connected as you from elsewhere")
    await first.wait_closed()  # gateway alpha hung up on it
    await second.expect("You take over your body")
    status = await second.expect_gmcp("Char.Status")
    assert status["posture"] == "lying"  # the same body, not a fresh copy
    listed = await who(second)
    assert listed.count("Tremaine the") == 1, listed
    await second.close()


@module_loop
@with_logs
async def test_the_world_hears_only_trusted_gateways(shared: Cluster) -> None:
    world = shared.node("world")
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    p = shared.prefix
    victim = await login(alpha, "Victor")
    watcher = await login(beta, "Wilhelmina")
    nc = await nats.connect(NATS_URL)
    try:
        inbound: list[Msg] = []
        outbound: dict[str, list[Msg]] = {"forger": [], "probe": []}

        async def on_in(msg: Msg) -> None:
            inbound.append(msg)

        def on_out(gateway: str):
            async def cb(msg: Msg) -> None:
                outbound[gateway].append(msg)
            return cb

        await nc.subscribe(f"{p}.in.>", cb=on_in)
        for gateway in outbound:
            await nc.subscribe(f"{p}.out.{gateway}", cb=on_out(gateway))
        await nc.flush()
        # Learn the victim's session from its gateway's own traffic: that subject is what a
        # stranger would forge. The real gateway signs its messages with the token.
        await victim.command("say tracing", "You say")
        await wait_until(lambda: any(b"say tracing" in m.data for m in inbound), 10,
                         "the victim's line on the bus")
        real = next(m for m in inbound if b"say tracing" in m.data)
        assert real.subject.startswith(f"{p}.in.{alpha.gateway_id}.")
        assert (real.headers or {}).get(TOKEN_HEADER) == TOKEN

        untrusted = await world.metric("mythos_bus_dropped_total", reason="untrusted")
        forged = [
            # a line for the real player's session: no token, then a wrong one
            (real.subject, {"k": "line", "t": "say forged without a token"}, None),
            (real.subject, {"k": "line", "t": "say forged with a wrong token"},
             {TOKEN_HEADER: "not-" + TOKEN}),
            # a whole client of a made-up gateway
            (f"{p}.in.forger.1", {"k": "connect", "kind": "telnet", "peer": "6.6.6.6:666",
                                  "term": {}, "oob": [], "login": {"name": "Victor"}}, None),
            (f"{p}.in.forger.1", {"k": "line", "t": "say forged from nowhere"}, None),
        ]
        for subject, message, headers in forged:
            await nc.publish(subject, encode(message), headers=headers)
        await nc.flush()
        await until_metric(world, untrusted + len(forged), "mythos_bus_dropped_total",
                           reason="untrusted")

        # A connect of a made-up gateway, signed: the world takes it (it greets the client),
        # which shows the forged ones failed for want of the token alone.
        await nc.publish(f"{p}.in.probe.1", encode(
            {"k": "connect", "kind": "telnet", "peer": "127.0.0.1:1", "term": {}, "oob": []}),
            headers={TOKEN_HEADER: TOKEN})
        await nc.flush()
        await wait_until(lambda: any(b"By what name" in m.data for m in outbound["probe"]),
                         10, "the world's greeting to a trusted gateway")
        await nc.publish(f"{p}.in.probe.1", encode({"k": "gone"}),
                         headers={TOKEN_HEADER: TOKEN})

        # Nothing forged was said; the real player still talks.
        await victim.command("say genuine", "You say")
        await watcher.expect(re.escape("Victor says, 'genuine'"))
        for c in (victim, watcher):
            assert "forged" not in c.text_plain, c.text_plain[-2000:]
        assert not victim.closed  # the forged login as Victor took nothing over
        assert outbound["forger"] == []  # the world never answered the made-up gateway
        listed = await who(watcher)
        assert listed.count("Victor the") == 1, listed

        # Too big: NATS's own limit (max_payload, 1 MiB by default) is the world's
        # (MAX_MESSAGE), so the client refuses it before anything is sent.
        big = encode({"k": "line", "t": "x" * MAX_MESSAGE})
        with pytest.raises(nats.errors.MaxPayloadError):
            await nc.publish(real.subject, big, headers={TOKEN_HEADER: TOKEN})
    finally:
        await nc.close()
    await close(victim, watcher)


@module_loop
@with_logs
async def test_the_world_speaks_each_gateway_its_own_wire_version(shared: Cluster) -> None:
    """A gateway of this release gets a session's text and GMCP of one flush in one op
    (``s``), the GMCP as JSON encoded once by the world; a gateway of wire 2 (an older release,
    still running while the world was restarted on a newer one) the text (``t``) and each GMCP
    message as JSON (``j``); one that does not name its version (wire 1) GMCP as plain data
    (``o``). Each gets only what it understands, and the same."""
    p = shared.prefix
    nc = await nats.connect(NATS_URL)
    try:
        ops: dict[str, list[list]] = {"1": [], "2": [], "3": [], "5": []}

        async def on_out(msg: Msg) -> None:
            for op in decode(msg.data)["ops"]:
                ops[op[1]].append(op)

        await nc.subscribe(f"{p}.out.elder", cb=on_out)
        await nc.flush()
        signed = {TOKEN_HEADER: TOKEN}
        connect = {"k": "connect", "kind": "telnet", "peer": "127.0.0.1:1", "term": {},
                   "oob": []}
        for sid, extra, name in (("1", {}, "Oldwire"), ("2", {"wire": 2}, "Midwire"),
                                 ("3", {"wire": 3}, "Newwire"), ("5", {"wire": 5}, "Countwire")):
            await nc.publish(f"{p}.in.elder.{sid}", encode({**connect, **extra}),
                             headers=signed)
            await nc.publish(f"{p}.in.elder.{sid}", encode(
                {"k": "line", "t": f"create {name} {PASSWORD}"}), headers=signed)
        await nc.flush()

        def vitals(sid: str) -> list:
            found = [op[3] for op in ops[sid] if op[0] in "oj" and op[2] == "Char.Vitals"]
            for op in ops[sid]:
                if op[0] == "s":
                    found += [op[4][i + 1] for i in range(0, len(op[4]), 2)
                              if op[4][i] == "Char.Vitals"]
            return found

        def texts(sid: str) -> str:
            return "".join(op[2] for op in ops[sid] if op[0] in "ts")

        await wait_until(lambda: vitals("1") and vitals("2") and vitals("3") and vitals("5"),
                         15, "Char.Vitals for all four")
        old, mid, new = vitals("1")[0], vitals("2")[0], vitals("3")[0]
        assert old["hp"] == old["maxhp"] > 0, old
        assert decode(mid.encode()) == decode(new.encode()) == old, (mid, new)
        assert {op[0] for op in ops["1"]} <= {"t", "o", "e", "b"}, ops["1"]
        assert {op[0] for op in ops["2"]} <= {"t", "j", "e", "b"}, ops["2"]
        assert {op[0] for op in ops["3"]} <= {"s", "e", "b"}, ops["3"]
        assert all(len(op) == 5 for op in ops["3"] if op[0] == "s"), ops["3"]  # no line
        for sid, name in (("1", "Oldwire"), ("2", "Midwire"), ("3", "Newwire"),
                          ("5", "Countwire")):
            assert f"Welcome to Arkham, {name}" in texts(sid), texts(sid)[-500:]
        # Wire 5: every s op numbered from 1; a resync after n gets the ops after n again,
        # the same ops (on NATS the world keeps the last few of each session).
        counted = [op for op in ops["5"] if op[0] == "s"]
        assert [op[6] for op in counted] == list(range(1, len(counted) + 1)), counted
        assert len(counted) >= 2, counted
        mark = len(ops["5"])
        await nc.publish(f"{p}.in.elder.5", encode({"k": "resync", "after": len(counted) - 2}),
                         headers=signed)
        await wait_until(lambda: len(ops["5"]) >= mark + 2, 10, "two ops sent again")
        await asyncio.sleep(0.2)
        assert ops["5"][mark:] == counted[-2:], ops["5"][mark:]
        # Without ``after`` (or after ops no longer kept) it is sent its state again.
        await nc.publish(f"{p}.in.elder.5", encode({"k": "resync"}), headers=signed)
        await wait_until(lambda: any("Room.Info" in op[4] for op in ops["5"][mark + 2:]
                                     if op[0] == "s"), 10, "the state sent again")
        assert ops["5"][-1][6] == len(counted) + 1, ops["5"][-1]
        for sid in ops:
            await nc.publish(f"{p}.in.elder.{sid}", encode({"k": "gone"}), headers=signed)
        await nc.flush()
    finally:
        await nc.close()


@module_loop
@with_logs
async def test_each_line_runs_once(shared: Cluster) -> None:
    """Lines are numbered (wire 4). Before an item moves, the world tells the gateway which
    line began and flushes that to NATS (``n``), so a gateway never sends that line to a new
    world; every ``s`` op carries the last line begun too. A world sent again a line it
    began (the gateway took the session up again in the same world) skips it; the player it
    had let go comes back in where the others see it."""
    p = shared.prefix
    watcher = await login(shared.node("gateway", "alpha"), "Wakeful")
    nc = await nats.connect(NATS_URL)
    try:
        ops: list[tuple[int, list]] = []  # (the message it came in, the op)

        async def on_out(msg: Msg) -> None:
            for op in decode(msg.data)["ops"]:
                ops.append((id(msg), op))

        await nc.subscribe(f"{p}.out.numbered", cb=on_out)
        await nc.flush()
        subject, signed = f"{p}.in.numbered.1", {TOKEN_HEADER: TOKEN}

        async def send(message: dict) -> None:
            await nc.publish(subject, encode(message), headers=signed)
            await nc.flush()

        def texts() -> str:
            return "".join(op[2] for _, op in ops if op[0] == "s")

        connect = {"k": "connect", "kind": "telnet", "peer": "127.0.0.1:1", "term": {},
                   "oob": [], "wire": 4}
        await send(connect)
        await send({"k": "line", "t": f"create Numbra {PASSWORD}", "n": 1})
        await wait_until(lambda: "Exits:" in texts(), 15, "Numbra in the game")
        entered = next(op for _, op in ops if op[0] == "b")
        assert entered[2] == "Numbra" and isinstance(entered[3], str), entered
        await send({"k": "line", "t": "drop journal", "n": 2})
        await wait_until(lambda: "You drop a leather-bound journal" in texts(), 10, "the drop")
        began = next((i for i, (_, op) in enumerate(ops) if op[0] == "n"), None)
        assert began is not None, f"no 'n' op before the drop: {ops}"
        dropped = next(i for i, (_, op) in enumerate(ops)
                       if op[0] == "s" and "You drop" in op[2])
        assert ops[began][1] == ["n", "1", 2], ops[began]
        assert began < dropped and ops[began][0] != ops[dropped][0], ops[began:dropped + 1]
        assert ops[dropped][1][5] == 2, ops[dropped]

        # The gateway takes the session up again in the same world and sends line 2 again:
        # it was begun, so it is skipped; line 3 runs.
        mark = len(ops)
        await send({**connect, "login": {"name": "Numbra", "resume": True,
                                         "epoch": entered[3]}})
        await send({"k": "line", "t": "drop journal", "n": 2})
        await send({"k": "line", "t": "say Only once.", "n": 3})
        await wait_until(lambda: "You say, 'Only once.'" in texts(), 15, "line 3")
        again = "".join(op[2] for _, op in ops[mark:] if op[0] == "s")
        assert "drop" not in again and "carrying" not in again, again
        said = next(op for _, op in ops[mark:] if op[0] == "s" and "Only once" in op[2])
        assert said[5] == 3, said
        await watcher.expect("Numbra has left the game.")
        await watcher.expect("Numbra has entered the game.")  # it was let go by this world
        await watcher.expect(re.escape("Numbra says, 'Only once.'"))
        await send({"k": "gone"})
    finally:
        await nc.close()
    await close(watcher)


@module_loop
@with_logs
async def test_staff_reload_reexecs_the_world_process(shared: Cluster) -> None:
    """``reload`` under ``mythos world``: the process starts itself again in place (the same
    pid, a new program), the players on both gateways stay connected and carry on."""
    world = shared.node("world")
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    pid = world.pid
    cmdline = Path(f"/proc/{pid}/cmdline")
    before = await asyncio.to_thread(cmdline.read_bytes)
    banners = world.banners
    warden = await login(alpha, "Warden", create=False)
    pilgrim = await login(beta, "Pilgrim")
    pilgrim.send("north")
    await room_of(pilgrim, "arkham.garrison_st")

    warden.send("reload")
    await pilgrim.expect("Warden restarts the world")
    await pilgrim.expect(RESTARTING)
    await world.started(count=banners + 1)  # the new program's banner, on the same output
    await world.healthy()
    assert world.running and world.pid == pid
    # started as the ``mythos`` script, it came back as ``python -m mythos`` (cli.py)
    after = await asyncio.to_thread(cmdline.read_bytes)
    assert after != before and b"-m\x00mythos\x00world" in after, (before, after)

    await pilgrim.expect(steadies("Pilgrim"), timeout=BACK)
    await room_of(pilgrim, "arkham.garrison_st")
    await warden.expect(steadies("Warden"), timeout=BACK)
    listed = await who(warden)
    assert "Pilgrim the" in listed and "Warden the" in listed, listed
    for gw in (alpha, beta):
        await gw.healthy()
    await close(warden, pilgrim)


@module_loop
@with_logs
async def test_a_crashed_world_takes_its_players_back(shared: Cluster) -> None:
    """SIGKILL the world: the gateways notice its silence and tell their players, who stay
    connected; a world started again takes them back into the game where they were saved.
    A line typed before the gateways noticed is not lost: it runs in the new world. Nobody
    sees the others come back (nobody saw them go), and the message of the day is not shown
    again."""
    world = shared.node("world")
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    ida = await login(alpha, "Ida")
    jonas = await login(beta, "Jonas")
    for c in (ida, jonas):
        c.send("south")
        await room_of(c, "arkham.south_garrison")
    await ida.expect("Jonas arrives")
    store = await Store.open(shared.db_url)
    try:  # a crash loses what is not saved yet: wait for the walk to be
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (row := await store.get_character("Jonas")) is None or (
                row.room_id != "arkham.south_garrison"):
            assert loop.time() < deadline, "the walk was never saved"
            await asyncio.sleep(0.1)
    finally:
        await store.close()

    await world.kill()
    marks = {c: len(c.text_plain) for c in (ida, jonas)}
    jonas.send("say Still there?")  # into the silence: the gateway does not know yet
    for c in (ida, jonas):
        await c.expect("The world has gone quiet", timeout=15)
    ida.send("say Is anyone there?")
    await ida.expect(WAITING)
    await shared.start_world()  # the same database, the same prefix
    await ida.expect(steadies("Ida"), timeout=BACK)
    await ida.expect(re.escape("You say, 'Is anyone there?'"))  # typed while it was down
    await jonas.expect(steadies("Jonas"), timeout=BACK)
    await jonas.expect(re.escape("You say, 'Still there?'"))  # typed as it died
    assert await beta.metric("mythos_gateway_lines_resent_total") >= 1
    await room_of(jonas, "arkham.south_garrison")
    listed = await who(jonas)
    assert "Ida the" in listed and "Jonas the" in listed, listed
    await ida.command("say One more.", "You say")
    await jonas.expect(re.escape("Ida says, 'One more.'"))
    for c in (ida, jonas):
        since = c.text_plain[marks[c]:]
        assert "has entered the game" not in since and "A R K H A M" not in since, since
    await close(ida, jonas)


@module_loop
@with_logs
async def test_a_killed_gateway_drops_only_its_players(shared: Cluster) -> None:
    """SIGKILL a gateway: the world reaps it when it falls silent, its players leave the game
    (the others see them go), and they log in again through the other gateway. (Last of the
    cases on the shared cluster: gateway alpha is gone after it.)"""
    alpha, beta = shared.node("gateway", "alpha"), shared.node("gateway", "beta")
    doomed = await login(alpha, "Dorian")
    watcher = await login(beta, "Winifred")
    await alpha.kill()
    await doomed.wait_closed()  # its socket died with its gateway
    await watcher.expect("Dorian has left the game.", timeout=15)
    status, _ = await beta.health()
    assert status == 200
    again = await login(beta, "Dorian", create=False)
    await watcher.expect("Dorian has entered the game.")
    listed = await who(again)
    assert listed.count("Dorian the") == 1 and "Winifred the" in listed, listed
    await close(again, watcher)


# -- a world restarted while players stay connected --------------------------------------------

async def test_world_restart_keeps_players_connected(db_url: str, tmp_path: Path) -> None:
    """SIGTERM the world with players on two gateways; they are told and stay connected, a
    command typed meanwhile waits; the world started again takes them up where they were."""
    async with Cluster(tmp_path, db_url) as cluster:
        world, alpha, beta = await asyncio.gather(
            cluster.start_world(), cluster.start_gateway("alpha"), cluster.start_gateway("beta"))
        xav = await login(alpha, "Xavier")
        yol = await login(beta, "Yolanda")
        xav.send("east")
        await room_of(xav, "arkham.main_street")
        await xav.command("drop journal", re.escape("You drop a leather-bound journal."))
        xav_items = await inventory(xav)
        assert "journal" not in xav_items and "camera" in xav_items, xav_items
        yol.send("west")
        await room_of(yol, "arkham.main_w")
        yol_items = await inventory(yol)

        world.signal(signal.SIGTERM)
        for c in (xav, yol):
            await c.expect(RESTARTING, timeout=10)
        assert await world.wait() == 0
        # The gap: connections open, a command waits, the gateways say the world is gone.
        xav.send("inventory")
        await xav.expect(WAITING)
        for gw in (alpha, beta):
            status, body = await gw.health()
            assert status != 200 and '"world_up": false' in body, body
        assert not xav.closed and not yol.closed

        await cluster.start_world()  # the same database, the same prefix
        await xav.expect(steadies("Xavier"), timeout=BACK)
        await room_of(xav, "arkham.main_street")
        await xav.expect(r"Main Street(?s:.*?)leather-bound journal")  # what is seen on return
        # the inventory typed while it was down, answered now, and nothing lost
        queued = await xav.expect(r"You are carrying:(?s:.*?)lb in all\.\)")
        assert queued.group() == xav_items
        await yol.expect(steadies("Yolanda"), timeout=BACK)
        await room_of(yol, "arkham.main_w")
        assert await inventory(yol) == yol_items
        # And they still share one world across the gateways.
        listed = await who(yol)
        assert "Xavier the" in listed and "2 investigators online" in listed, listed
        yol.send("east")
        await room_of(yol, "arkham.square")
        yol.send("east")
        await room_of(yol, "arkham.main_street")
        await yol.command("say Back again.", "You say")
        await xav.expect(re.escape("Yolanda says, 'Back again.'"))
        await close(xav, yol)


async def until_metric(node: Node, value: float, name: str, **labels: str) -> None:
    """Wait until ``/metrics`` of ``node`` shows ``name`` at ``value`` or more."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (got := await node.metric(name, **labels)) < value:
        assert loop.time() < deadline, f"{name}{labels} stayed at {got}, not {value}"
        await asyncio.sleep(0.1)


async def until_logged(node: Node, event: str) -> None:
    """Wait until ``node``'s log has ``event``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while event not in await asyncio.to_thread(node.log.read_text):
        assert loop.time() < deadline, f"{node.kind} {node.name} never logged {event}"
        await asyncio.sleep(0.05)


#: A private NATS server that gives up on a process that answers no pings within half a second.
QUICK_TO_DROP = 'http: "127.0.0.1:-1"\nping_interval: "200ms"\nping_max: 1'


async def connections(server: PrivateNats) -> int:
    """How many clients ``server`` has (its monitoring port)."""
    status, body = await http_get(int(server.monitor.rsplit(":", 1)[1]), "/connz")
    assert status == 200, body
    return int(json.loads(body)["num_connections"])


@contextlib.asynccontextmanager
async def dropped_by_nats(server: PrivateNats, node: Node, left: int) -> AsyncIterator[None]:
    """``node`` stopped (SIGSTOP) until ``server`` gives up on it (``left`` clients remain),
    and kept so for the body of the ``with``; then it goes on (SIGCONT)."""
    node.signal(signal.SIGSTOP)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await connections(server) != left:
            assert loop.time() < deadline, f"NATS never dropped the stopped {node.kind}"
            await asyncio.sleep(0.05)
        yield
    finally:
        node.signal(signal.SIGCONT)


async def test_lines_outlive_the_world_dropping_off_nats(tmp_path: Path) -> None:
    """NATS stays up, but drops the world's connection (stopped with SIGSTOP, it answers no
    pings): a line typed then finds nobody listening. The world, back on NATS, says so (its
    ``link`` in its status) and the gateway sends the line again, well before the gateway
    would take the world for gone (no "gone quiet"), and asks for the ops after the last it
    had (wire 5): the stopped world sent nothing meanwhile, so nothing is sent again, not even
    the client's state (a world of wire 4 would have sent that)."""
    async with private_nats(tmp_path, QUICK_TO_DROP) as server:
        async with Cluster(tmp_path, sqlite_url(tmp_path / "mythos.db"),
                           nats_url=server.url) as cluster:
            world, gateway = await asyncio.gather(cluster.start_world(),
                                                  cluster.start_gateway("solo"))
            c = await login(gateway, "Ulrich")
            await c.expect_gmcp("Room.Info")
            mark = len(c.text_plain)
            rooms = sum(1 for package, _ in c.gmcp if package == "Room.Info")
            assert await connections(server) == 2
            async with dropped_by_nats(server, world, 1):
                c.send("say Anyone home?")
                await asyncio.sleep(0.2)  # published, and dropped: nobody listens
            await c.expect(re.escape("You say, 'Anyone home?'"), timeout=BACK)
            await until_logged(world, "output_replayed")
            await c.command("look", "Exits:")
            assert sum(1 for package, _ in c.gmcp if package == "Room.Info") == rooms
            since = c.text_plain[mark:]
            assert since.count("You say, 'Anyone home?'") == 1, since
            assert "gone quiet" not in since, since  # the link told the gateway, not silence
            assert await gateway.metric("mythos_gateway_lines_resent_total") >= 1
            await c.close()


async def test_what_the_world_said_while_a_gateway_was_off_nats_arrives_once(
        tmp_path: Path) -> None:
    """NATS drops one gateway (stopped with SIGSTOP, it answers no pings) while a player on
    the other speaks: what the world published for the stopped gateway's player finds nobody
    listening. Back on NATS, the gateway asks the world for what came after the last op it
    had (wire 5), and the player reads the line, once, with nothing else sent twice."""
    async with private_nats(tmp_path, QUICK_TO_DROP) as server:
        async with Cluster(tmp_path, sqlite_url(tmp_path / "mythos.db"),
                           nats_url=server.url) as cluster:
            _, near, far = await asyncio.gather(
                cluster.start_world(), cluster.start_gateway("near"),
                cluster.start_gateway("far"))
            speaker, listener = await login(near, "Speaker"), await login(far, "Listener")
            await speaker.expect("Listener has entered the game.")
            await listener.command("look", "Speaker the journalist is standing here")
            mark = len(listener.text_plain)
            rooms = sum(1 for package, _ in listener.gmcp if package == "Room.Info")
            assert await connections(server) == 3
            async with dropped_by_nats(server, far, 2):
                await speaker.command("say Did you hear that?", "You say, 'Did you hear that")
                await speaker.command("emote listens at the door.", "Speaker listens at")
                await asyncio.sleep(0.6)  # the world's output pulse wrote the listener's news
            await listener.expect(re.escape("Speaker says, 'Did you hear that?'"), timeout=BACK)
            await listener.expect("Speaker listens at the door.")
            await listener.command("look", "Exits:")
            since = listener.text_plain[mark:]
            assert since.count("Speaker says, 'Did you hear that?'") == 1, since
            assert since.count("Speaker listens at the door.") == 1, since
            # Everything came again: no need for the whole state (Room.Info) as well.
            assert sum(1 for package, _ in listener.gmcp if package == "Room.Info") == rooms
            assert "gone quiet" not in since, since
            await close(speaker, listener)


async def test_a_client_the_new_world_asked_for_is_taken_up_once(tmp_path: Path) -> None:
    """A world started again so fast that a line reaches it before the gateway has seen its
    status: it answers ``x`` (naming its epoch), the gateway takes the client up there, and the
    world's status that follows does not take it up a second time (which would log the player
    out and in again). The world is played by the test, on the real NATS server."""
    nc = await nats.connect(NATS_URL)
    try:
        async with Cluster(tmp_path, sqlite_url(tmp_path / "mythos.db")) as cluster:
            p = cluster.prefix
            inbound: list[tuple[str, dict]] = []

            async def on_in(msg: Msg) -> None:
                inbound.append((msg.subject, decode(msg.data)))

            await nc.subscribe(f"{p}.in.>", cb=on_in)

            async def status(epoch: str) -> None:
                await nc.publish(f"{p}.world.status", encode(
                    {"state": "up", "epoch": epoch, "wire": 4, "link": 1, "restarting": False,
                     "mssp": {}}))
                await nc.flush()

            gateway = await cluster.start_gateway("quick", healthy=False)
            await status("first")
            await gateway.healthy()
            c = await MudClient.connect("127.0.0.1", gateway.telnet_port)
            await wait_until(lambda: any(m["k"] == "connect" for _, m in inbound), 10, "a connect")
            subject = next(sub for sub, m in inbound if m["k"] == "connect")
            sid = subject.rsplit(".", 1)[1]
            out = f"{p}.out.{gateway.gateway_id}"
            await nc.publish(out, encode({"ops": [["s", sid, "Welcome, Xavi.\n", True, [], 0],
                                                   ["b", sid, "Xavi", "first"]]}))
            await c.expect("Welcome, Xavi.")
            # Numbered ops (wire 5): one the gateway had already (a world sends them again
            # after NATS was away) is not written twice.
            for n, text in ((1, "Only once.\n"), (1, "Only once.\n"), (2, "Then this.\n")):
                await nc.publish(out, encode({"ops": [["s", sid, text, True, [], 0, n]]}))
            await c.expect("Then this.")
            assert c.text_plain.count("Only once.") == 1, c.text_plain

            def connects() -> list[dict]:
                return [m for sub, m in inbound if sub == subject and m["k"] == "connect"]

            c.send("look")  # to a world that no longer knows the session
            await wait_until(lambda: any(m.get("t") == "look" for _, m in inbound), 10, "look")
            await nc.publish(out, encode({"ops": [["x", sid, "second"]]}))
            await wait_until(lambda: len(connects()) == 2, 10, "the client taken up again")
            again = connects()[1]
            assert again["login"] == {"name": "Xavi", "resume": True, "epoch": "first"}, again
            await status("second")  # the new world's status, just after
            await until_logged(gateway, "epoch=second")
            await asyncio.sleep(0.3)
            assert len(connects()) == 2, connects()
            looks = [m for sub, m in inbound if sub == subject and m.get("t") == "look"]
            assert [m["n"] for m in looks] == [1, 1], looks  # sent again after the connect, once
            await c.close()
    finally:
        await nc.close()


async def test_the_bus_says_whether_nats_has_what_was_sent(tmp_path: Path) -> None:
    """``NatsBus.flush`` is what an item move waits on before it commits (its line is never run
    twice, ``bus/wire.py``): True once the server has every message published so far; False
    when the server does not answer in time (stopped with SIGSTOP) or is gone."""
    async with private_nats(tmp_path) as server:
        bus = NatsBus(server.url, name="probe")
        await bus.start()
        try:
            got: list[object] = []
            await bus.subscribe("probe.lines", lambda _subject, msg: got.append(msg))
            bus.publish("probe.lines", {"n": 1})
            assert await bus.flush(2.0) is True
            await server.send(signal.SIGSTOP)
            try:
                bus.publish("probe.lines", {"n": 2})
                assert await bus.flush(0.5) is False
            finally:
                await server.send(signal.SIGCONT)
            assert await bus.flush(5.0) is True  # the server caught up: it has both
            await wait_until(lambda: len(got) == 2, 5, "both messages back")
            assert got == [{"n": 1}, {"n": 2}]
            await server.stop(signal.SIGKILL)
            bus.publish("probe.lines", {"n": 3})
            assert await bus.flush(0.5) is False
        finally:
            await bus.close()


async def test_an_item_move_waits_for_nats_and_lines_outlive_it(tmp_path: Path) -> None:
    """An item move whose line the gateway cannot be told began (NATS went away while the
    line waited its turn) is refused and moves nothing, so that no gateway ever sends the
    world a line whose move was made. Line 1 waits on the database (locked by the test), line
    2 waits behind it; NATS is killed; then the database is let go: line 1 had told its
    gateway and goes through, line 2 is refused. A line typed while NATS is away runs once it
    is back on its port; the player carries the pencil and not the camera."""
    async with private_nats(tmp_path) as server:
        db = tmp_path / "mythos.db"
        async with Cluster(tmp_path, sqlite_url(db), nats_url=server.url) as cluster:
            world, gateway = await asyncio.gather(cluster.start_world(),
                                                  cluster.start_gateway("solo"))
            c = await login(gateway, "Tilda")
            async with outage(sqlite_url(db)):
                c.send("drop camera")  # its line began, told; then it waits for the database
                c.send("drop pencil")  # waits behind it, in the world
                await asyncio.sleep(0.5)  # (nothing to watch: both are in the world by now)
                await server.stop(signal.SIGKILL)
            await until_logged(world, "item_move_unconfirmed")
            c.send("say Still with us?")  # typed while NATS is away
            # The world held back (SIGSTOP) while NATS comes back, so that the line, flushed
            # by the gateway as soon as it reconnects, finds nobody listening and is lost.
            world.signal(signal.SIGSTOP)
            try:
                await server.restart_in_place()
                await until_logged(gateway, "nats_reconnected")
                await asyncio.sleep(0.3)
            finally:
                world.signal(signal.SIGCONT)
            # What the world said while NATS was away is lost with it (NATS keeps nothing
            # for subscribers that are not back yet); what was typed is not: the gateway
            # sends again what the world had not begun once it hears it again, and the world
            # runs each line once.
            await c.expect(re.escape("You say, 'Still with us?'"), timeout=BACK)
            carried = await inventory(c)
            assert "pencil" in carried and "camera" not in carried, carried
            assert c.text_plain.count("You say, 'Still with us?'") == 1, c.text_plain
            assert await gateway.metric("mythos_gateway_lines_resent_total") >= 1
            log = await asyncio.to_thread(world.log.read_text)
            assert log.count("item_move_unconfirmed") == 1, log
            await c.close()


async def test_a_message_over_the_size_limit_is_dropped_unread(tmp_path: Path) -> None:
    """On the shared NATS server its own limit (max_payload, 1 MiB) equals the world's, so
    NATS refuses first (see the trust test). On a server that takes bigger messages the
    world's limit still holds: a trusted but oversized message is dropped unread, counted."""
    async with private_nats(tmp_path, "max_payload: 4MB") as server:
        url = server.url
        nc = None
        try:
            async with Cluster(tmp_path, sqlite_url(tmp_path / "mythos.db"), token=TOKEN,
                               nats_url=url) as cluster:
                world = await cluster.start_world()
                nc = await nats.connect(url)
                assert nc.max_payload > MAX_MESSAGE
                replies: list[Msg] = []

                async def on_out(msg: Msg) -> None:
                    replies.append(msg)

                p = cluster.prefix
                await nc.subscribe(f"{p}.out.probe", cb=on_out)
                await nc.flush()
                signed = {TOKEN_HEADER: TOKEN}
                connect = {"k": "connect", "kind": "telnet", "peer": "127.0.0.1:1", "term": {},
                           "oob": []}
                big = encode({**connect, "pad": "x" * MAX_MESSAGE})
                assert MAX_MESSAGE < len(big) < nc.max_payload
                await nc.publish(f"{p}.in.probe.1", big, headers=signed)
                await nc.flush()
                await until_metric(world, 1, "mythos_bus_dropped_total", reason="too_big")
                # The same connect within the limit is taken (greeted): only the size mattered.
                await nc.publish(f"{p}.in.probe.2", encode(connect), headers=signed)
                await nc.flush()
                await wait_until(lambda: any(b"By what name" in m.data for m in replies), 10,
                                 "the world's greeting")
                sids = {op[1] for m in replies for op in decode(m.data)["ops"]}
                assert sids == {"2"}, sids  # never a word to the oversized one
                assert await world.metric("mythos_bus_dropped_total", reason="untrusted") == 0
        finally:
            if nc is not None:
                await nc.close()


# -- the single process ------------------------------------------------------------------------

async def test_reload_in_one_process_keeps_the_connection(server) -> None:
    """``reload`` in ``mythos serve``: a new world in the same process (App.restart_world),
    the telnet connection kept, the player where it was. Players in one room see nobody
    leave or come back, and the message of the day is not shown again."""
    keeper = await staff(server, "Keeper")
    guest = await login(server, "Guest")
    for c in (guest, keeper):
        c.send("east")
        await room_of(c, "arkham.main_street")
    await guest.expect("Keeper arrives")
    mark = len(guest.text_plain)
    old = server.world
    keeper.send("reload")
    await guest.expect("Keeper restarts the world")
    await guest.expect(RESTARTING)
    await guest.expect(steadies("Guest"), timeout=BACK)
    assert server.world is not old and server.world.started
    await room_of(guest, "arkham.main_street")
    await guest.command("look", "Main Street")
    listed = await who(keeper)
    assert "Guest the" in listed and "2 investigators online" in listed, listed
    await keeper.command("say Still here.", "You say")
    await guest.expect(re.escape("Keeper says, 'Still here.'"))
    since = guest.text_plain[mark:]
    for unwanted in ("has left the game", "has entered the game", "A R K H A M"):
        assert unwanted not in since, since
    await close(keeper, guest)
