"""The player's own account: ``password OLD NEW``."""

from __future__ import annotations

import asyncio

import structlog

from mythos.commands.table import Ctx, command
from mythos.engine.auth import password_problem

log = structlog.get_logger(__name__)

UNREACHABLE = "{y}The archives are unreachable just now; your password is unchanged.{x}"
WRONG = "That is not your current password; nothing changed."


@command("password", category="general", hidden=False)
async def password(ctx: Ctx, args: str) -> None:
    """password <old password> <new password>

    Change your password. Give the one you have now, then the new one (at least 8
    characters). Neither is ever shown to anyone or written to a log."""
    words = args.split()
    if len(words) != 2:
        ctx.send("Usage: password <old password> <new password>")
        return
    old, new = words
    problem = password_problem(new)
    if problem:
        ctx.send(problem + " Nothing changed.")
        return
    game = ctx.game
    name = ctx.char.name
    key = "account:" + name.lower()  # wrong guesses slow this account down, as at login
    delay = game.throttle.delay(key)
    if delay:
        await asyncio.sleep(delay)
    try:
        account = await game.store.get_account(name)
        if account is None or account.id != ctx.char.account_id:
            ctx.send("Your account could not be found; nothing changed.")
            return
        if not await game.hasher.verify(account.password_hash, old):
            game.throttle.failed(key)
            log.info("password_change_refused", name=name)
            ctx.send(WRONG)
            return
        new_hash = await game.hasher.hash(new)
        changed = await game.store.set_password(name, account.password_hash, new_hash)
    except Exception as exc:  # the database is away: say so, change nothing
        log.warning("password_change_failed", name=name, error=type(exc).__name__)
        ctx.send(UNREACHABLE)
        return
    if not changed:
        ctx.send("Your password was changed elsewhere meanwhile; nothing changed.")
        return
    game.throttle.succeeded(key)
    log.info("password_changed", name=name)
    ctx.send("{G}Your password is changed.{x} Use the new one from now on.")
