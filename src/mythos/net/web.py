"""HTTP on the process's own loop (aiohttp): ``/health`` and ``/metrics`` in every process, and
on a gateway the browser client: the page (``net/static.py``), its login API
(``net/webauth.py``) and ``/ws`` (``net/websocket.py``)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from mythos.config import Settings
from mythos.metrics import Metrics
from mythos.net import forwarded, static, webauth, websocket
from mythos.net.gateway import Gateway

#: ``(healthy, body)`` of the process, for ``/health``.
Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]

LOOPBACK = ("127.", "::1", "::ffff:127.")


def _health_page(health: Health) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        ok, body = await health()
        return web.json_response(body, status=200 if ok else 503)
    return page


def _metrics_page(settings: Settings,
                  metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        s = settings
        if s.metrics_loopback_only and not (request.remote or "").startswith(LOOPBACK):
            raise web.HTTPForbidden(text="Metrics are for this machine only.")
        if s.metrics_token and not hmac.compare_digest(
                request.headers.get("Authorization", "").encode(),
                f"Bearer {s.metrics_token}".encode()):
            raise web.HTTPUnauthorized(text="A metrics token is needed.",
                                       headers={"WWW-Authenticate": "Bearer"})
        resp = web.Response(body=metrics.render())
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        resp.charset = "utf-8"
        return resp
    return page


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


async def start_web(settings: Settings, metrics: Metrics, health: Health, host: str, port: int,
                    *, gateway: Gateway | None = None) -> WebListener:
    proxies = forwarded.networks(settings.trusted_proxies)
    webapp = web.Application(client_max_size=64 * 1024,
                             middlewares=[forwarded.middleware(proxies)] if proxies else [])
    webapp.router.add_get("/health", _health_page(health))
    webapp.router.add_get("/metrics", _metrics_page(settings, metrics))
    sockets = None
    if gateway is not None:
        static.add_routes(webapp, await asyncio.to_thread(static.read_client))
        webauth.add_routes(webapp, gateway)
        sockets = websocket.add_routes(webapp)
    # keepalive_timeout also bounds the wait for a connection's first complete request head
    # (aiohttp arms it at connect): a slow-loris client is cut off after it.
    runner = web.AppRunner(webapp, access_log=None, handle_signals=False,
                           keepalive_timeout=settings.http_idle_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return WebListener(runner, site, sockets)
