"""Shops: list, buy, sell, value.

A shop belongs to a room in the world files (``shop:`` in a zone file) and speaks through its
keeper's name. Money is the buyer's stack of coins; the coins and the goods change hands in the
same transaction (``engine/economy.py``), so a purchase is never half made.
"""

from __future__ import annotations

import re

from mythos.commands.items import commit, economic, others, pick_carried
from mythos.commands.table import Ctx, command
from mythos.engine.economy import Txn
from mythos.rules import items as rules
from mythos.world.items import Item, Shop
from mythos.world.model import Posture

_COUNT_FIRST = re.compile(r"^(\d+)\s+(\S.*)$")
_COUNT_LAST = re.compile(r"^(\S.*?)\s+(\d+)$")


def find_shop(ctx: Ctx) -> Shop | None:
    """The shop of the room the player stands in, open for business; else tells why not.

    (The one place that decides whether a shop trades: when shopkeepers are NPCs, this is
    where the keeper's presence is checked.)"""
    shop = ctx.game.world.shops.get(ctx.char.room_id)
    if shop is None:
        ctx.send("There is nothing for sale here.")
        return None
    if rules.MONEY not in ctx.game.world.protos:
        ctx.send(f"{shop.keeper} isn't trading today.")
        return None
    if shop.keeper_npc is not None and not ctx.game.npcs.present(shop.keeper_npc, shop.room):
        ctx.send(f"{shop.keeper} is not here; nobody minds the counter.")
        return None
    return shop


def says(shop: Shop, text: str) -> str:
    return f"{{c}}{shop.keeper} says, '{text}'{{x}}"


@command("list", category="shops")
def list_(ctx: Ctx, args: str) -> None:
    """list

    In a shop: what is for sale, and for how much (in coins)."""
    shop = find_shop(ctx)
    if shop is None:
        return
    lines = [f"{{Y}}{shop.keeper}'s wares{{x}}", f"  {'price':>6}  item"]
    for stock in shop.stock:
        left = stock.available()
        if left == 0:
            note = "  (sold out)"
        elif left is not None:
            note = f"  ({left} left)"
        else:
            note = ""
        lines.append(f"  {stock.price:>6}  {stock.proto.name}{note}")
    lines.append(f"You have {rules.money(ctx.char)} coins. 'buy <item>' to buy one.")
    ctx.send("\n".join(lines))


def _count_and_words(args: str) -> tuple[int, str]:
    text = args.strip()
    if m := _COUNT_FIRST.match(text):
        return int(m[1]), m[2]
    if m := _COUNT_LAST.match(text):
        return int(m[2]), m[1]
    return 1, text


@command("buy", category="shops", min_posture=Posture.SITTING)
@economic
async def buy(ctx: Ctx, args: str) -> None:
    """buy <item> [count]

    In a shop: buy something on its list: 'buy lantern', 'buy 3 candles', 'buy cartridges 6'.
    The price is taken from the coins you carry."""
    shop = find_shop(ctx)
    if shop is None:
        return
    count, words = _count_and_words(args)
    if not words:
        ctx.send("Buy what? Type 'list' to see what is for sale.")
        return
    if not 1 <= count <= 100:
        ctx.send(says(shop, "One at a time, or a sensible number at least."))
        return
    stock = rules.find_stock(shop, words)
    if stock is None:
        ctx.send(says(shop, "I don't carry anything like that."))
        return
    left = stock.available()
    if left is not None and left < count:
        ctx.send(says(shop, "I'm out of those just now." if left == 0
                      else f"I've only {left} of those left."))
        return
    proto = stock.proto
    cost = stock.price * count
    purse = rules.purse(ctx.char)
    if cost > rules.money(ctx.char):
        ctx.send(says(shop, f"That comes to {cost} coins, and you haven't got it."))
        return
    refusal = rules.can_carry_new(ctx.char, proto, count if proto.stack else 1,
                                  1 if proto.stack else count)
    if refusal is not None:
        ctx.send(refusal)
        return
    txn = Txn()
    if cost and purse is not None:
        txn.destroy(purse, cost)
    txn.create(proto, count, ctx.char)
    if not await commit(ctx, txn):
        return
    stock.sold(count)
    what = proto.named(count)
    ctx.send(f"You buy {what} for {cost} coin{'s' if cost != 1 else ''}.")
    others(ctx, f"{ctx.char.name} buys {what}.")


def _pick_own(ctx: Ctx, args: str, verb: str) -> tuple[Item, int] | None:
    ref = rules.parse_ref(args)
    if ref is None or ref.all:
        ctx.send(f"{verb.capitalize()} what?" if ref is None else f"{verb.capitalize()} one "
                 "thing at a time.")
        return None
    picked = pick_carried(ctx, ref)
    if picked.problem:
        ctx.send(picked.problem)
        return None
    if len(picked.items) != 1:
        ctx.send(f"{verb.capitalize()} one thing at a time.")
        return None
    return picked.items[0]


def _offer(ctx: Ctx, args: str, verb: str) -> tuple[Shop, Item, int, int] | None:
    """The shop here, the thing of yours named and what the keeper would pay for it; None
    (and the player told why) when any of them is missing."""
    shop = find_shop(ctx)
    if shop is None:
        return None
    chosen = _pick_own(ctx, args, verb)
    if chosen is None:
        return None
    item, qty = chosen
    price, why = rules.sell_price(shop, item, qty)
    if not price:
        ctx.send(why)
        return None
    return shop, item, qty, price


@command("sell", category="shops", min_posture=Posture.SITTING)
@economic
async def sell(ctx: Ctx, args: str) -> None:
    """sell <item>

    In a shop: sell something you carry for coins: 'sell watch', 'sell 6 cartridges'.
    'value <item>' tells what you would get first."""
    offer = _offer(ctx, args, "sell")
    if offer is None:
        return
    shop, item, qty, price = offer
    money = ctx.game.world.protos[rules.MONEY]
    if rules.stack_at(ctx.char.items, money) is None and (
            len(rules.carried(ctx.char)) - (1 if qty >= item.quantity else 0)
            >= rules.carry_slots(ctx.char)):
        ctx.send(rules.HANDS_FULL)
        return
    txn = Txn()
    txn.destroy(item, qty)
    txn.create(money, price, ctx.char)
    if not await commit(ctx, txn):
        return
    what = item.proto.named(qty)
    ctx.send(f"You sell {what} to {shop.keeper} for {price} coin{'s' if price != 1 else ''}.")
    others(ctx, f"{ctx.char.name} sells {what}.")


@command("value", category="shops")
def value(ctx: Ctx, args: str) -> None:
    """value <item>

    In a shop: what the keeper would pay for something you carry."""
    offer = _offer(ctx, args, "value")
    if offer is None:
        return
    shop, item, qty, price = offer
    ctx.send(says(shop, f"I'd give you {price} coin{'s' if price != 1 else ''} for "
                        f"{rules.the(item.proto.named(qty))}."))
