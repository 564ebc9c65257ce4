"""Fighting and dying: attack, flee, consider, respawn; and the staff's spawn, npc, purge.

The fights themselves run on the pulse (``engine/npcs.py``); these commands start and leave
them. Numbers live in ``rules/combat.py``.
"""

from __future__ import annotations

from mythos.commands.table import Ctx, command
from mythos.rules import combat as R
from mythos.world.model import Posture


@command("attack", "kill", "hit", category="combat", min_posture=Posture.STANDING)
def attack(ctx: Ctx, args: str) -> None:
    """attack <target>

    Start fighting something (or someone's foe) in the room: 'attack rat', 'kill 2.rat'.
    Blows are exchanged every round until one of you falls or flees. Shopkeepers and
    quest givers cannot be attacked."""
    npcs, char = ctx.game.npcs, ctx.char
    if not args.strip():
        ctx.send("Attack what?")
        return
    if char.room_id == ctx.game.world.limbo_room:
        ctx.send("There is nothing here to fight but the grey.")
        return
    mob = npcs.in_room(ctx.room, args.strip())
    if mob is None:
        if any(c.name.lower().startswith(args.strip().lower()) for c in ctx.room.characters):
            ctx.send("Arkham has enough troubles; you cannot attack other investigators.")
        else:
            ctx.send("You see nothing like that here to attack.")
        return
    if not mob.proto.attackable:
        ctx.send(f"You think better of it: {mob.name} is no enemy of yours, and half of "
                 "Arkham would hear of it.")
        return
    if npcs.fighting.get(char) is mob:
        ctx.send(f"You are already fighting {mob.name}!")
        return
    ctx.send(f"You attack {mob.name}!")
    ctx.game.to_room(ctx.room, f"{char.name} attacks {mob.name}!", exclude=(char,))
    npcs.engage(char, mob)


@command("flee", category="combat", min_posture=Posture.STANDING)
def flee(ctx: Ctx, args: str) -> None:
    """flee

    Try to run from a fight through a random open exit. Quick feet help; it may fail."""
    npcs, char = ctx.game.npcs, ctx.char
    if not npcs.in_fight(char):
        ctx.send("You are not fighting anyone.")
        return
    direction = npcs.flee(char)
    if direction is None:
        ctx.send("{y}You try to flee, but cannot get away!{x}")
        ctx.game.to_room(ctx.room, f"{char.name} tries to flee, but fails.", exclude=(char,))
        return
    ctx.send("{y}You flee head over heels!{x}")
    from mythos.commands.movement import walk

    walk(ctx, direction)


@command("consider", "con", category="combat")
def consider(ctx: Ctx, args: str) -> None:
    """consider <target>

    Size up something in the room before you pick a fight with it."""
    mob = ctx.game.npcs.in_room(ctx.room, args.strip()) if args.strip() else None
    if mob is None:
        ctx.send("Consider what?" if not args.strip() else "You see nothing like that here.")
        return
    if not mob.proto.attackable:
        ctx.send(f"{mob.name[:1].upper()}{mob.name[1:]} is not someone you fight.")
        return
    ctx.send(R.consider(ctx.char.level, ctx.char.hp, mob.level, mob.hp) + " "
             f"({mob.name[:1].upper()}{mob.name[1:]} {R.health_word(mob.hp, mob.max_hp)}.)")


@command("respawn", category="combat")
def respawn(ctx: Ctx, args: str) -> None:
    """respawn

    In Limbo, after death: return to the waking world, whole again."""
    if ctx.char.room_id != ctx.game.world.limbo_room:
        ctx.send("You are not dead. Not yet.")
        return
    ctx.send("{W}You gasp awake, whole again.{x}")
    ctx.game.npcs.respawn(ctx.char)


# -- staff ----------------------------------------------------------------------------------

@command("spawn", category="staff", role="admin")
async def spawn(ctx: Ctx, args: str) -> None:
    """spawn <npc id>

    Make an NPC (by its id in the world files) appear in this room."""
    proto = ctx.game.world.npc_protos.get(args.strip().lower())
    if proto is None:
        ctx.send("No NPC has that id. 'npc list' shows them.")
        return
    mob = ctx.game.npcs.spawn(proto, ctx.room)
    ctx.send(f"You spawn {mob.name} (#{mob.id}).")
    await ctx.game.social.audit(ctx.session, ctx.char.name, "spawn", proto.id,
                                room=ctx.room.id)


@command("npc", category="staff", role="builder")
def npc(ctx: Ctx, args: str) -> None:
    """npc list

    The NPC definitions, with how many of each are alive (and the most there may be)."""
    if args.strip().lower() not in ("list", ""):
        ctx.send("Usage: npc list")
        return
    npcs = ctx.game.npcs
    lines = ["{Y}NPCs{x}", f"  {'id':<20} {'kind':<15} {'alive':>5}  home"]
    for p in ctx.game.world.npc_protos.values():
        lines.append(f"  {p.id:<20} {p.kind:<15} {npcs.population[p.id]:>2}/{p.max_population:<2}"
                     f"  {p.home}")
    lines.append(f"{len(npcs.mobs)} NPCs alive; {len(npcs.fighting)} fighting.")
    ctx.send("\n".join(lines))


@command("purge", category="staff", role="admin")
async def purge(ctx: Ctx, args: str) -> None:
    """purge <npc>

    Remove an NPC in this room from the world, without a corpse (it respawns as usual)."""
    mob = ctx.game.npcs.in_room(ctx.room, args.strip()) if args.strip() else None
    if mob is None:
        ctx.send("Purge what? Name an NPC in this room.")
        return
    ctx.game.npcs.purge(mob)
    ctx.send(f"You purge {mob.name}.")
    ctx.game.to_room(ctx.room, f"{mob.name[:1].upper()}{mob.name[1:]} vanishes.",
                     exclude=(ctx.char,))
    await ctx.game.social.audit(ctx.session, ctx.char.name, "purge", mob.proto.id,
                                room=ctx.room.id)


@command("aid", category="combat", min_posture=Posture.SITTING)
def aid(ctx: Ctx, args: str) -> None:
    """aid <player>

    Bind the wounds of a mortally wounded player here, so they stop bleeding (they come round
    with 1 HP, lying down)."""
    name = args.strip().lower()
    target = next((c for c in ctx.room.characters
                   if name and c is not ctx.char and c.name.lower().startswith(name)), None)
    if target is None:
        ctx.send("Aid whom?" if not name else "Nobody like that is here.")
        return
    if target.hp > R.MORTAL_HP:
        ctx.send(f"{target.name} is not mortally wounded.")
        return
    ctx.game.npcs.stabilize(target)
    ctx.send(f"You bind {target.name}'s wounds; the bleeding stops.")
    ctx.game.npcs.tell(target, f"{{g}}{ctx.char.name} binds your wounds. You come round, "
                               "weak but alive.{x}")
    ctx.game.to_room(ctx.room, f"{ctx.char.name} binds {target.name}'s wounds.",
                     exclude=(ctx.char, target))
