"""Things: inventory, equipment, get, drop, give, put, wear, wield, remove, examine.

Every command that moves something between owners holds an economy turn (``@economic``) from
its checks to its commit, and moves each thing in one transaction (``engine/economy.py``): the
database first, then the world in memory, then what anyone is told.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from mythos.commands.table import Ctx, command
from mythos.engine import itemviews
from mythos.engine.economy import BUSY, Busy, Txn
from mythos.engine.itemviews import equipment_text, inventory_text, look_at
from mythos.rules import items as rules
from mythos.world.items import SLOT_PLACE, Item, top_owner
from mythos.world.model import Character, Posture

Handler = Callable[[Ctx, str], Awaitable[None] | None]


@contextlib.asynccontextmanager
async def mine(ctx: Ctx) -> AsyncIterator[None]:
    """An economy turn for ``ctx.char`` and the room it stands in: what it carries and what
    lies there (also what others there carry: they stand in the same room). Taken again when
    the character was moved elsewhere while it waited (a teleport, a flight)."""
    while True:
        room = ctx.room
        async with ctx.game.economy.turn(ctx.char, room):
            if ctx.room is room:
                yield
                return


def economic(fn: Handler) -> Handler:
    """Run a command inside an economy turn (see ``Economy.turn``)."""

    @functools.wraps(fn)
    async def wrapper(ctx: Ctx, args: str) -> None:
        try:
            async with mine(ctx):
                result = fn(ctx, args)
                if inspect.isawaitable(result):
                    await result
        except Busy:
            ctx.send(BUSY)

    return wrapper


async def commit(ctx: Ctx, txn: Txn) -> bool:
    """Commit ``txn``; on failure tell the player (nothing moved) and return False."""
    problem = await ctx.game.economy.commit(txn)
    if problem is not None:
        ctx.send(problem)
        return False
    return True


def others(ctx: Ctx, text: str, *, exclude: tuple[Character, ...] = ()) -> None:
    ctx.game.to_room(ctx.room, text, exclude=(ctx.char, *exclude))


def _strip_article(text: str) -> str:
    words = text.split()
    if len(words) > 1 and words[0].lower() in ("the", "a", "an", "my"):
        return " ".join(words[1:])
    return text


def find_container(ctx: Ctx, text: str) -> Item | None:
    """A container (or, failing that, any thing) named ``text``, carried, worn or here."""
    return itemviews.find_container(ctx.char, ctx.room, text)


def pick_carried(ctx: Ctx, ref: rules.ItemRef, missing: str = "You aren't carrying that.",
                 but: Item | None = None) -> rules.Pick:
    """What ``ref`` names among the things in hand (not worn; never ``but`` for 'all')."""
    candidates = [i for i in rules.carried(ctx.char) if i is not but or not ref.all]
    picked = rules.pick(candidates, ref, missing)
    if picked.problem == missing and ref.words:
        worn = rules.find(rules.worn(ctx.char), ref.words)
        if worn:
            return rules.Pick(problem=f"You are using {rules.the(worn[0].name)}; remove it "
                                      "first.")
    return picked


# -- looking ---------------------------------------------------------------------------------

@command("inventory", "i", category="items")
def inventory(ctx: Ctx, args: str) -> None:
    """inventory

    List what you carry in hand ('equipment' lists what you wear). A stack shows its
    count: '20 coins'. Look into a bag with 'look in satchel'."""
    ctx.send(inventory_text(ctx.char))


@command("equipment", "eq", category="items")
def equipment(ctx: Ctx, args: str) -> None:
    """equipment

    List what you wear and wield."""
    ctx.send(equipment_text(ctx.char))


@command("examine", category="items")
def examine(ctx: Ctx, args: str) -> None:
    """examine <thing>

    Look closely at something you carry, wear or see here: what it is, what it weighs,
    what it holds. 'look in <container>' lists only what is inside."""
    target = args.strip()
    if not target:
        ctx.send("Examine what?")
        return
    text = look_at(ctx.char, ctx.room, target, ctx.session.width)
    ctx.send(text if text is not None else "You see nothing like that here.")


# -- taking and leaving ----------------------------------------------------------------------

def _hands_problem(problem: str, char: Character) -> str:
    if problem == rules.HANDS_FULL:
        return f"{char.name}'s hands are full."
    if problem == rules.TOO_HEAVY:
        return f"{char.name} can't carry that much weight."
    return problem


@command("get", "take", category="items", min_posture=Posture.SITTING)
@economic
async def get(ctx: Ctx, args: str) -> None:
    """get <thing> [from <container>]

    Pick something up: 'get lantern', 'get 2.candle' (the second one), 'get all',
    'get 5 coins'. From a container: 'get journal from satchel', 'get all from desk'.
    Also typed as 'take'."""
    if not args.strip():
        ctx.send("Get what?")
        return
    parts = rules.split_on(args, "from", "out")
    if parts is not None:
        await _get_from(ctx, *parts)
        return
    ref = rules.parse_ref(args)
    if ref is None:
        ctx.send("Get what?")
        return
    picked = rules.pick(ctx.room.items, ref, "There is nothing here to take."
                        if ref.all and not ref.words else "You don't see that here.")
    if picked.problem:
        ctx.send(picked.problem)
        return
    takeable = [(i, q) for i, q in picked.items if i.proto.takeable]
    if not takeable:
        item = picked.items[0][0]
        ctx.send(f"You can't take {rules.the(item.name)}." if not ref.all
                 else "There is nothing here you can take.")
        return
    await _take_each(ctx, takeable)


async def _take_each(ctx: Ctx, picked: Sequence[tuple[Item, int]], *, from_self: bool = False,
                     source: tuple[str, str] = ("", "")) -> None:
    """Into the character's hands, one transaction each, stopping at the first refusal.
    ``source`` ends the line for the taker and for onlookers (" from the desk")."""
    for item, qty in picked:
        refusal = rules.can_carry(ctx.char, item, qty, from_self=from_self)
        if refusal is not None:
            ctx.send(refusal)
            return
        txn = Txn()
        txn.move(item, qty, ctx.char)
        if not await commit(ctx, txn):
            return
        what = item.proto.named(qty)
        ctx.send(f"You get {what}{source[0]}.")
        others(ctx, f"{ctx.char.name} gets {what}{source[1]}.")


async def _get_from(ctx: Ctx, what: str, where: str) -> None:
    container = find_container(ctx, where)
    if container is None:
        ctx.send("You see no container like that here.")
        return
    refusal = (rules.closed_refusal(container)
               or ctx.game.npcs.loot_refusal(ctx.char, container))  # corpses: owner first
    if refusal is not None:
        ctx.send(refusal)
        return
    ref = rules.parse_ref(what)
    if ref is None:
        ctx.send("Get what?")
        return
    the_c = rules.the(container.name)
    picked = rules.pick(container.contents, ref, f"There is nothing like that in {the_c}."
                        if not ref.all or ref.words else f"{rules.cap(the_c)} is empty.")
    if picked.problem:
        ctx.send(picked.problem)
        return
    await _take_each(ctx, picked.items, from_self=top_owner(container) is ctx.char,
                     source=(f" from {the_c}", f" from {container.name}"))


@command("drop", category="items", min_posture=Posture.SITTING)
@economic
async def drop(ctx: Ctx, args: str) -> None:
    """drop <thing>

    Put something down here: 'drop lantern', 'drop all', 'drop 5 coins'. What you drop
    stays where it lies, even when Arkham sleeps, until someone takes it."""
    ref = rules.parse_ref(args)
    if ref is None:
        ctx.send("Drop what?")
        return
    missing = ("You aren't carrying anything." if ref.all and not ref.words
               else "You aren't carrying that.")
    picked = pick_carried(ctx, ref, missing)
    if picked.problem:
        ctx.send(picked.problem)
        return
    for item, qty in picked.items:
        if "no_drop" in item.proto.flags:
            ctx.send(f"You can't let go of {rules.the(item.name)}.")
            continue
        txn = Txn()
        txn.move(item, qty, ctx.room)
        if not await commit(ctx, txn):
            return
        what = item.proto.named(qty)
        ctx.send(f"You drop {what}.")
        others(ctx, f"{ctx.char.name} drops {what}.")


def _find_person(ctx: Ctx, name: str) -> Character | None:
    n = name.strip().lower()
    if not n:
        return None
    for other in ctx.room.characters:
        if other is not ctx.char and other.name.lower().startswith(n):
            return other
    return None


@command("give", category="items", min_posture=Posture.SITTING)
@economic
async def give(ctx: Ctx, args: str) -> None:
    """give <thing> to <person>

    Hand something to someone here: 'give lantern to Ashley', 'give 10 coins to Ashley'."""
    parts = rules.split_on(args, "to")
    if parts is None:
        words = args.split()
        if len(words) < 2:
            ctx.send("Give what to whom?")
            return
        parts = (" ".join(words[:-1]), words[-1])
    what, whom = parts
    target = _find_person(ctx, whom)
    if target is None:
        if whom.strip().lower() in ("me", "self", "myself") or (
                ctx.char.name.lower().startswith(whom.strip().lower()) and whom.strip()):
            ctx.send("You already have it.")
        else:
            ctx.send("There is no one like that here.")
        return
    ref = rules.parse_ref(what)
    if ref is None:
        ctx.send("Give what?")
        return
    picked = pick_carried(ctx, ref)
    if picked.problem:
        ctx.send(picked.problem)
        return
    for item, qty in picked.items:
        if "no_drop" in item.proto.flags:
            ctx.send(f"You can't let go of {rules.the(item.name)}.")
            continue
        refusal = rules.can_carry(target, item, qty)
        if refusal is not None:
            ctx.send(_hands_problem(refusal, target))
            return
        txn = Txn()
        txn.move(item, qty, target)
        if not await commit(ctx, txn):
            return
        what_s = item.proto.named(qty)
        ctx.send(f"You give {what_s} to {target.name}.")
        if target.link is not None:
            target.link.write(f"{ctx.char.name} gives you {what_s}.")
        others(ctx, f"{ctx.char.name} gives {what_s} to {target.name}.", exclude=(target,))


@command("put", category="items", min_posture=Posture.SITTING)
@economic
async def put(ctx: Ctx, args: str) -> None:
    """put <thing> in <container>

    Put something into a bag, a drawer, a chest: 'put journal in satchel', 'put all in
    backpack', 'put 10 coins in desk'. The container must be open."""
    parts = rules.split_on(args, "in", "into", "inside")
    if parts is None:
        ctx.send("Put what in what?")
        return
    what, where = parts
    container = find_container(ctx, where)
    if container is None:
        ctx.send("You see no container like that here.")
        return
    if not container.is_container:
        ctx.send(f"{rules.cap(rules.the(container.name))} is not a container.")
        return
    ref = rules.parse_ref(what)
    if ref is None:
        ctx.send("Put what?")
        return
    picked = pick_carried(ctx, ref, but=container)
    if picked.problem:
        ctx.send(picked.problem)
        return
    mine = top_owner(container) is ctx.char
    the_c = rules.the(container.name)
    for item, qty in picked.items:
        if "no_drop" in item.proto.flags and not mine:
            ctx.send(f"You can't let go of {rules.the(item.name)}.")
            continue
        refusal = rules.can_put(container, item, qty)
        if refusal is not None:
            ctx.send(refusal)
            if not ref.all:
                return
            continue
        txn = Txn()
        txn.move(item, qty, container)
        if not await commit(ctx, txn):
            return
        what_s = item.proto.named(qty)
        ctx.send(f"You put {what_s} in {the_c}.")
        others(ctx, f"{ctx.char.name} puts {what_s} in {container.name}.")


# -- wearing ---------------------------------------------------------------------------------

@command("wear", category="items", min_posture=Posture.SITTING)
@economic
async def wear(ctx: Ctx, args: str) -> None:
    """wear <thing>

    Put on something you carry: a hat, a coat, a backpack (a worn bag keeps its contents
    with you and frees your hands). A lantern or a candle is held in the off hand."""
    item = rules.find_one(rules.carried(ctx.char), _strip_article(args))
    if item is None:
        ctx.send("Wear what?" if not args.strip() else "You aren't carrying that.")
        return
    slot, why = rules.wear_slot(ctx.char, item)
    if slot is None:
        ctx.send(why)
        return
    txn = Txn()
    txn.set_slot(item, slot)
    if not await commit(ctx, txn):
        return
    if slot == "off_hand":
        ctx.send(f"You hold {rules.the(item.name)} {SLOT_PLACE[slot]}.")
        others(ctx, f"{ctx.char.name} holds {item.name}.")
    else:
        ctx.send(f"You wear {rules.the(item.name)} {SLOT_PLACE[slot]}.")
        others(ctx, f"{ctx.char.name} wears {item.name}.")


@command("wield", category="items", min_posture=Posture.SITTING)
@economic
async def wield(ctx: Ctx, args: str) -> None:
    """wield <weapon>

    Take a weapon in your main hand: a knife, a crowbar, a revolver."""
    item = rules.find_one(rules.carried(ctx.char), _strip_article(args))
    if item is None:
        ctx.send("Wield what?" if not args.strip() else "You aren't carrying that.")
        return
    refusal = rules.wield_refusal(ctx.char, item)
    if refusal is not None:
        ctx.send(refusal)
        return
    txn = Txn()
    txn.set_slot(item, "main_hand")
    if not await commit(ctx, txn):
        return
    ctx.send(f"You wield {rules.the(item.name)}.")
    others(ctx, f"{ctx.char.name} wields {item.name}.")


@command("remove", category="items", min_posture=Posture.SITTING)
@economic
async def remove(ctx: Ctx, args: str) -> None:
    """remove <thing>

    Take off something you wear, or put away what you wield or hold. It goes into your
    hands, so they must have room."""
    item = rules.find_one(rules.worn(ctx.char), _strip_article(args))
    if item is None:
        ctx.send("Remove what?" if not args.strip() else "You aren't using anything like that.")
        return
    if len(rules.carried(ctx.char)) >= rules.carry_slots(ctx.char):
        ctx.send(rules.HANDS_FULL)
        return
    txn = Txn()
    txn.set_slot(item, None)
    if not await commit(ctx, txn):
        return
    ctx.send(f"You stop using {rules.the(item.name)}.")
    others(ctx, f"{ctx.char.name} stops using {item.name}.")


# -- staff ---------------------------------------------------------------------------------------

#: The most a single ``summon`` makes.
SUMMON_MAX = 100


@command("summon", category="staff", role="admin")
async def summon(ctx: Ctx, args: str) -> None:
    """summon <item id> [count]

    Make things out of thin air into your hands: 'summon lantern', 'summon coins 50'. The item
    id is a prototype of the world files (a keyword works if it names one). Written to the
    audit log."""
    words = args.split()
    if not words:
        ctx.send("Summon what? (an item prototype id, e.g. 'summon lantern')")
        return
    count = 1
    if len(words) > 1 and words[-1].isdigit():
        count = int(words[-1])
        words = words[:-1]
    if not 1 <= count <= SUMMON_MAX:
        ctx.send(f"Summon between 1 and {SUMMON_MAX} at a time.")
        return
    protos = ctx.game.world.protos
    word = "_".join(words).lower()
    proto = protos.get(word) or next(
        (p for p in protos.values() if rules.matches(p, words)), None)
    if proto is None:
        ctx.send(f"There is no item prototype {word!r}.")
        return
    try:
        async with mine(ctx):
            txn = Txn()
            txn.create(proto, count, ctx.char)
            if not await commit(ctx, txn):
                return
    except Busy:
        ctx.send(BUSY)
        return
    what = proto.named(count)
    ctx.send(f"You summon {what}.")
    others(ctx, f"{rules.cap(what)} appears in {ctx.char.name}'s hands.")
    await ctx.game.social.audit(ctx.session, ctx.char.name, "summon", proto.id, count=count,
                                room=ctx.char.room_id)
