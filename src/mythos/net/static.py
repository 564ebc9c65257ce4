"""The browser client's files (``src/mythos/web/``, shipped inside the package): read once at
start-up in a worker thread and served from memory, so a page view never touches the disk on
the event loop. No build step: plain HTML, CSS and ES modules.

``GET /`` is the page; ``GET /client/<file>`` its scripts and styles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

TYPES = {
    ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
    ".json": "application/json", ".webmanifest": "application/manifest+json",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def read_client() -> dict[str, StaticFile]:
    """Every file of the client by name (blocking: call it in a thread)."""
    root = resources.files("mythos") / "web"
    files: dict[str, StaticFile] = {}
    for entry in root.iterdir():
        name = entry.name
        suffix = name[name.rfind("."):] if "." in name else ""
        if not entry.is_file() or suffix not in TYPES:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[name] = StaticFile(body, TYPES[suffix], etag)
    return files


FILES_KEY = web.AppKey("mythos_client_files", dict)


def _csp(request: web.Request) -> str:
    host = request.host
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'; object-src 'none'")


def _serve(request: web.Request, name: str) -> web.Response:
    files: dict[str, StaticFile] = request.app[FILES_KEY]
    f = files.get(name)
    if f is None:
        raise web.HTTPNotFound(text="Not here.")
    headers = {
        "ETag": f.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if f.content_type == "text/html":
        headers["Content-Security-Policy"] = _csp(request)
        headers["X-Frame-Options"] = "DENY"
    if request.headers.get("If-None-Match") == f.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=f.body, content_type=f.content_type,
                        charset="utf-8" if not f.content_type.startswith("image/png") else None,
                        headers=headers)


async def index(request: web.Request) -> web.Response:
    return _serve(request, "index.html")


async def asset(request: web.Request) -> web.Response:
    return _serve(request, request.match_info["name"])


def add_routes(webapp: web.Application, files: dict[str, StaticFile]) -> None:
    webapp[FILES_KEY] = files
    webapp.router.add_get("/", index)
    webapp.router.add_get("/client/{name}", asset)
