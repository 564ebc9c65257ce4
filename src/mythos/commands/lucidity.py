"""The mind and the clock: time, explored, map, the recovery rites, ground, read; and the
staff's ``frighten`` (an encounter on demand, for testing horrors without an NPC)."""

from __future__ import annotations

from mythos.commands.items import commit, economic
from mythos.commands.table import Ctx, command
from mythos.engine.economy import Txn
from mythos.rules import exploration
from mythos.rules import items as item_rules
from mythos.rules import lucidity as rules
from mythos.rules import mythostime as mtime
from mythos.text import escape, sanitize
from mythos.world.model import Character


@command("time", category="information")
def time_(ctx: Ctx, args: str) -> None:
    """time

    What time it is in Arkham, in words. The Mythos clock runs faster than yours; day is six
    in the morning to six in the evening, and the night is worse for the mind."""
    now = ctx.game.lucidity.mythos_now()
    ctx.send(f"It is {mtime.in_words(now)}.")
    ctx.game.lucidity.send_time(ctx.session)


@command("explored", category="information")
def explored(ctx: Ctx, args: str) -> None:
    """explored

    How much of each part of Arkham you have walked, and a map of what you know around you."""
    mind = ctx.char.mind
    rows = exploration.zone_shares(ctx.game.world, mind.explored)
    lines = ["{Y}What you know of Arkham{x}"]
    for name, known, total in rows:
        lines.append(f"  {name:<28} {known:>3}/{total:<3} "
                     f"{exploration.percent(known, total):>3}%")
    ctx.send("\n".join(lines))
    _send_map(ctx)


@command("map", category="information")
def map_(ctx: Ctx, args: str) -> None:
    """map

    A small map of the rooms you know around you: @ is you, # a room you have seen, + a room
    with a way up or down."""
    _send_map(ctx)


def _send_map(ctx: Ctx) -> None:
    lines = exploration.draw_map(ctx.game.world, ctx.room, ctx.char.mind.explored)
    ctx.send("{c}" + "\n".join(lines) + "{x}\n" + f"{ctx.room.name}, {ctx.room.zone.name}")


# -- recovery rites --------------------------------------------------------------------------

def _ready(ctx: Ctx, rite: rules.Rite) -> bool:
    left = ctx.game.lucidity.cooldown_left(ctx.char, rite.name)
    if left <= 0:
        return True
    minutes = max(1, round(left / ctx.game.settings.minute_seconds))
    word = rite.name.replace("_", " ")
    ctx.send(f"You cannot find the calm for {word} again so soon ({minutes} more "
             f"minute{'s' if minutes != 1 else ''}).")
    return False


def _companions(ctx: Ctx) -> list[Character]:
    return [c for c in ctx.room.characters if c is not ctx.char and c.link is not None]


def _finish(ctx: Ctx, rite: rules.Rite, me: str, others: str) -> None:
    luc = ctx.game.lucidity
    luc.start_cooldown(ctx.char, rite)
    ctx.send(me)
    ctx.game.to_room(ctx.room, others, exclude=(ctx.char,))
    luc.adjust(ctx.char, rite.gain, cause=rite.name)


@command("pray", category="lucidity")
def pray(ctx: Ctx, args: str) -> None:
    """pray

    Pray, to whatever still listens. Steadies the mind (+8 lucidity; once in 15 minutes)."""
    rite = rules.RITES["pray"]
    if _ready(ctx, rite):
        _finish(ctx, rite, "You pray, and for a while the words hold the dark at bay.",
                f"{ctx.char.name} bows their head in prayer.")


@command("meditate", category="lucidity")
def meditate(ctx: Ctx, args: str) -> None:
    """meditate

    Sit with your breath until the world is only the world (+6 lucidity; once in 10
    minutes)."""
    rite = rules.RITES["meditate"]
    if _ready(ctx, rite):
        _finish(ctx, rite, "You breathe slowly and let the whispers pass you by.",
                f"{ctx.char.name} closes their eyes and breathes slowly.")


@command("group_solace", "solace", category="lucidity")
def group_solace(ctx: Ctx, args: str) -> None:
    """group_solace

    Share what you have seen with the people here: everyone present is steadied (+4
    lucidity each; once in 20 minutes). Needs company."""
    rite = rules.RITES["group_solace"]
    if not _ready(ctx, rite):
        return
    present = _companions(ctx)
    if not present:
        ctx.send("There is no one here to share it with.")
        return
    luc = ctx.game.lucidity
    luc.start_cooldown(ctx.char, rite)
    ctx.send("You talk it through with the others here; saying it aloud makes it smaller.")
    for other in present:
        if other.link is not None:
            other.link.write(f"{ctx.char.name} talks through what they have seen with you; "
                             "it helps, a little.")
    for c in (ctx.char, *present):
        luc.adjust(c, rite.gain, cause="group_solace")


@command("therapy", category="lucidity")
def therapy(ctx: Ctx, args: str) -> None:
    """therapy

    A session with the Sanitarium's doctor, in the doctor's office (+15 lucidity; once in 12
    hours)."""
    rite = rules.RITES["therapy"]
    if not _doctor_here(ctx):
        ctx.send("Therapy needs a doctor; the Sanitarium's sees patients in the office.")
        return
    if _ready(ctx, rite):
        _finish(ctx, rite, "The doctor listens, writes, and asks the right questions. You "
                           "leave lighter than you came.",
                f"{ctx.char.name} speaks quietly with the doctor.")


def _doctor_here(ctx: Ctx) -> bool:
    """A doctor NPC is here; or, in a world run without NPCs, this is the doctor's office."""
    room = ctx.room
    if any("doctor" in m.proto.keywords for m in getattr(room, "npcs", ())):
        return True
    return room.id == rules.THERAPY_ROOM and not ctx.game.settings.npcs


@command("folk_tonic", "tonic", category="lucidity")
@economic
async def folk_tonic(ctx: Ctx, args: str) -> None:
    """folk_tonic

    Drink a bottle of folk tonic you carry; it is used up (+3 lucidity; once in 30
    minutes)."""
    rite = rules.RITES["folk_tonic"]
    bottle = next((i for i in item_rules.carried(ctx.char)
                   if i.proto.id == rite.consumes), None)
    if bottle is None:
        ctx.send("You have no folk tonic in hand.")
        return
    if not _ready(ctx, rite):
        return
    txn = Txn()
    txn.destroy(bottle, 1)
    if not await commit(ctx, txn):  # the bottle is gone in the database before it helps
        return
    _finish(ctx, rite, "You drink the tonic. Anise, gin, something green; the edges soften.",
            f"{ctx.char.name} drinks a bottle of folk tonic.")


# -- catatonia -------------------------------------------------------------------------------

@command("ground", category="lucidity")
def ground(ctx: Ctx, args: str) -> None:
    """ground <player>

    Bring back someone here who has gone catatonic: hold their hands, say their name, until
    they return (to lucidity 1)."""
    word = args.strip().lower()
    if not word:
        ctx.send("Ground whom?")
        return
    target = next((c for c in ctx.room.characters if c.name.lower().startswith(word)), None)
    if target is None:
        ctx.send("There is no one like that here.")
        return
    problem = ctx.game.lucidity.ground(ctx.char, target)
    if problem:
        ctx.send(problem)
        return
    ctx.send(f"You hold {target.name}'s hands and say their name until their eyes find "
             "yours.")
    if target.link is not None:
        target.link.write(f"{{c}}A voice, {ctx.char.name}'s, calls your name from very far "
                          "away. You follow it back.{x}")
    ctx.game.to_room(ctx.room, f"{ctx.char.name} brings {target.name} back to themselves.",
                     exclude=(ctx.char, target))


# -- reading ---------------------------------------------------------------------------------

@command("read", category="items")
def read(ctx: Ctx, args: str) -> None:
    """read <book>

    Read something you carry. Some books cost more than time."""
    if not args.strip():
        ctx.send("Read what?")
        return
    item = item_rules.find_one(ctx.char.items, args.strip())
    if item is None:
        ctx.send("You aren't carrying that.")
        return
    if item.proto.id == rules.FORBIDDEN_BOOK:
        ctx.send("You read. The Latin is easy; it is what it says that is hard. Diagrams of "
                 "angles that should not meet. A name, repeated, that your mouth shapes on its "
                 "own.")
        ctx.game.to_room(ctx.room, f"{ctx.char.name} reads from a worm-eaten folio, lips "
                                   "moving.", exclude=(ctx.char,))
        ctx.game.lucidity.encounter(ctx.char, rules.FORBIDDEN_BOOK_HORROR, rules.FORBIDDEN_BOOK)
        return
    if item.proto.type in ("book", "paper"):
        ctx.send(f"You read {item_rules.the(item.name)} a while; nothing in it troubles you.")
        return
    ctx.send("There is nothing to read on that.")


# -- staff -----------------------------------------------------------------------------------

@command("frighten", category="staff", role="admin")
async def frighten(ctx: Ctx, args: str) -> None:
    """frighten <player> <disturbing|horrific|cosmic> [kind]

    Make an online player meet a horror, as if they had seen one (an NPC kind id, 'ghoul' by
    default): counted and costed like any encounter."""
    words = args.split()
    if len(words) < 2 or words[1].lower() not in rules.ENCOUNTER_LOSS:
        ctx.send("Usage: frighten <player> <disturbing|horrific|cosmic> [kind]")
        return
    target = ctx.game.social.find_online(words[0])
    if target is None:
        ctx.send("Nobody by that name walks Arkham just now.")
        return
    category = words[1].lower()
    kind = sanitize(words[2]).lower()[:64] if len(words) > 2 else "ghoul"
    loss = ctx.game.lucidity.encounter(target, category, kind)
    ctx.send(f"{target.name} meets a {category} horror ({escape(kind)}): -{loss} lucidity, "
             f"now {target.lucidity}.")
    await ctx.game.social.audit(ctx.session, ctx.char.name, "frighten", target.name,
                                category=category, kind=kind, loss=loss)
