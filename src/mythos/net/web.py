"""HTTP on the game's own loop (aiohttp): ``/health`` and ``/metrics``, and the browser client:
the page (``net/static.py``), its login API (``net/webauth.py``) and ``/ws``
(``net/websocket.py``)."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from mythos.net import static, webauth, websocket

if TYPE_CHECKING:
    from mythos.app import App

APP_KEY = web.AppKey("mythos", object)


async def health(request: web.Request) -> web.Response:
    app: App = request.app[APP_KEY]  # type: ignore[assignment]
    db_ok = await app.store.ping()
    loop_lag = app.lag.last_lag
    ok = db_ok and app.writebehind.healthy and loop_lag < 1.0
    body = {
        "status": "ok" if ok else "degraded",
        "uptime": round(time.time() - app.game.started_at, 1),
        "players_online": len(app.game.online),
        "sessions": len(app.game.sessions),
        "database": {"reachable": db_ok, "flushing": app.writebehind.healthy,
                     "unsaved": app.writebehind.dirty_count},
        "loop_lag_seconds": round(loop_lag, 4),
    }
    return web.json_response(body, status=200 if ok else 503)


LOOPBACK = ("127.", "::1", "::ffff:127.")


async def metrics(request: web.Request) -> web.Response:
    app: App = request.app[APP_KEY]  # type: ignore[assignment]
    s = app.settings
    if s.metrics_loopback_only and not (request.remote or "").startswith(LOOPBACK):
        raise web.HTTPForbidden(text="Metrics are for this machine only.")
    if s.metrics_token and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(),
            f"Bearer {s.metrics_token}".encode()):
        raise web.HTTPUnauthorized(text="A metrics token is needed.",
                                   headers={"WWW-Authenticate": "Bearer"})
    resp = web.Response(body=app.metrics.render())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp


class WebListener:
    def __init__(self, runner: web.AppRunner, site: web.TCPSite,
                 sockets: set[websocket.WebSocketConnection] | None = None) -> None:
        self.runner = runner
        self.site = site
        self.sockets = sockets if sockets is not None else set()

    @property
    def port(self) -> int:
        server = self.site._server
        assert server is not None and server.sockets
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        await websocket.close_sockets(self.sockets)
        await self.runner.cleanup()


async def start_web(app: App, host: str, port: int) -> WebListener:
    webapp = web.Application(client_max_size=64 * 1024)
    webapp[APP_KEY] = app
    webapp.router.add_get("/health", health)
    webapp.router.add_get("/metrics", metrics)
    static.add_routes(webapp, await asyncio.to_thread(static.read_client))
    webauth.add_routes(webapp, app.game)
    sockets = websocket.add_routes(webapp)
    # keepalive_timeout also bounds the wait for a connection's first complete request head
    # (aiohttp arms it at connect): a slow-loris client is cut off after it.
    runner = web.AppRunner(webapp, access_log=None, handle_signals=False,
                           keepalive_timeout=app.settings.http_idle_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return WebListener(runner, site, sockets)
