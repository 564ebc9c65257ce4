"""Limits that keep one client (or one address) from taking the server: connection caps per
address and in total, and idle timeouts (shorter on the login screen than in the game).

Both front doors (telnet and WebSocket) go through ``Game.connect``, which asks ``admit``; the
pulse runs ``reap_idle`` once a second. Settings: ``max_connections``,
``max_connections_per_address``, ``login_idle_timeout``, ``idle_timeout``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from mythos.engine.game import Game
    from mythos.engine.session import Session

log = structlog.get_logger(__name__)

TOO_MANY = "Arkham is crowded tonight; too many are connected. Try again later."
TOO_MANY_HERE = "Too many connections from your address. Close one and try again."
IDLE_LOGIN = "You took too long to log in. Goodbye."
IDLE_GAME = "{y}You have been idle too long; the fog takes you. Goodbye.{x}"


def admit(game: Game, session: Session) -> str | None:
    """Why this new session (already counted in ``game.sessions``) must be turned away."""
    s = game.settings
    if s.max_connections and len(game.sessions) > s.max_connections:
        game.metrics.refused.labels("total").inc()
        log.warning("connection_refused", reason="total", peer=session.conn.peer)
        return TOO_MANY
    if s.max_connections_per_address:
        if game.per_host[session.peer_host] > s.max_connections_per_address:
            game.metrics.refused.labels("address").inc()
            log.warning("connection_refused", reason="address", peer=session.conn.peer)
            return TOO_MANY_HERE
    return None


def reap_idle(game: Game) -> None:
    """Hang up on sessions that have typed nothing for too long."""
    s = game.settings
    now = time.monotonic()
    for session in list(game.sessions):
        if session.closed:
            continue
        idle = now - session.last_input
        if session.state == "login":
            if s.login_idle_timeout and idle > s.login_idle_timeout:
                game.metrics.refused.labels("idle_login").inc()
                session.close(IDLE_LOGIN)
        elif s.idle_timeout and idle > s.idle_timeout:
            game.metrics.refused.labels("idle").inc()
            log.info("idle_disconnected", peer=session.conn.peer,
                     name=session.char.name if session.char else None)
            session.close(IDLE_GAME)
