"""The browser's front door: the login API and the one-use tokens that let a page onto ``/ws``.

``POST /api/login {"name", "password"}`` and ``POST /api/create {"name", "password",
"profession"}`` check a player with the very rules and messages of the telnet login (the
functions of ``engine/login.py``, asked of the world over the bus: ``Gateway.auth``).
Success answers ``{"ok": true, "name", "token"}``: a random token good for one WebSocket
login, within ``web_ticket_seconds``, from the same address. The page sends it in the first
frame on ``/ws``, never in a URL (so it is in no log or history).

The same answer sets an HttpOnly, SameSite=Strict cookie ``mythos_resume`` (path ``/api/``), a
longer-lived secret that ``POST /api/resume`` exchanges for a fresh token (and a fresh secret):
the page reconnects after a dropped connection, or comes back after a reload, without asking for
the password again. The secret ends with ``quit``, when another login takes the character over,
with ``POST /api/logout``, or after ``RESUME_SECONDS``. Tokens and secrets live in the
gateway's memory only: they outlive a restart of the world, not of the gateway.

Every request here must come from our own page: its ``Origin`` must name this very host.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from mythos.net.gateway import Gateway
from mythos.rules.character import DEFAULT_PROFESSION, PROFESSIONS, find_profession

log = structlog.get_logger(__name__)

RESUME_COOKIE = "mythos_resume"
#: How long a resume secret lasts (it is renewed each time it is used).
RESUME_SECONDS = 12 * 3600
#: Resume secrets kept per character (a browser each); the oldest goes first.
RESUMES_PER_NAME = 8
#: HTTP status for each reason a login is refused.
STATUS = {"failed": 401, "banned": 403, "invalid": 400, "taken": 409, "no_character": 409,
          "unavailable": 503}

GATEWAY_KEY = web.AppKey("mythos_gateway", Gateway)


# -- tokens --------------------------------------------------------------------------------------

@dataclass
class Ticket:
    """One WebSocket login, for one character, from one address, once."""

    name: str
    host: str
    expires: float
    resume: str  # the resume secret it was issued with (revoked when the session is quit)
    new: bool  # a character just created (the welcome says so)


@dataclass
class _Resume:
    name: str
    expires: float


@dataclass
class TicketBook:
    """The tokens and resume secrets handed out, in memory. Both kinds expire in the order they
    were made (a fixed lifetime each), so pruning looks only at the oldest."""

    ticket_seconds: float = 30.0
    resume_seconds: float = RESUME_SECONDS
    _tickets: dict[str, Ticket] = field(default_factory=dict)
    _resumes: dict[str, _Resume] = field(default_factory=dict)
    _by_name: dict[str, list[str]] = field(default_factory=dict)

    def _prune(self, now: float) -> None:
        for book in (self._tickets, self._resumes):
            while book:
                key = next(iter(book))
                if book[key].expires > now:
                    break
                if book is self._resumes:
                    self.revoke(key)
                else:
                    del book[key]

    def issue(self, name: str, host: str, *, new: bool = False) -> tuple[str, str]:
        """A token for ``name`` used from ``host``, and a new resume secret: (token, secret)."""
        now = time.monotonic()
        self._prune(now)
        secret = secrets.token_urlsafe(32)
        self._resumes[secret] = _Resume(name, now + self.resume_seconds)
        mine = self._by_name.setdefault(name.lower(), [])
        mine.append(secret)
        while len(mine) > RESUMES_PER_NAME:
            self.revoke(mine[0])
        return self._ticket(name, host, secret, new, now), secret

    def _ticket(self, name: str, host: str, secret: str, new: bool, now: float) -> str:
        token = secrets.token_urlsafe(32)
        self._tickets[token] = Ticket(name, host, now + self.ticket_seconds, secret, new)
        return token

    def take(self, token: str, host: str) -> Ticket | None:
        """The ticket of ``token``, used up; None when unknown, used, expired, or presented from
        another address than the one it was given to (it stays good for its owner then)."""
        now = time.monotonic()
        self._prune(now)
        ticket = self._tickets.get(token)
        if ticket is None or ticket.host != host:
            return None
        del self._tickets[token]
        return ticket

    def resume(self, secret: str, host: str) -> tuple[str, str, str] | None:
        """Exchange a resume secret for (name, token, new secret); None when it is not good."""
        now = time.monotonic()
        self._prune(now)
        entry = self._resumes.get(secret)
        if entry is None:
            return None
        self.revoke(secret)
        token, new_secret = self.issue(entry.name, host)
        return entry.name, token, new_secret

    def revoke(self, secret: str) -> None:
        entry = self._resumes.pop(secret, None)
        if entry is None:
            return
        mine = self._by_name.get(entry.name.lower())
        if mine is not None:
            if secret in mine:
                mine.remove(secret)
            if not mine:
                del self._by_name[entry.name.lower()]

    @property
    def counts(self) -> tuple[int, int]:
        return len(self._tickets), len(self._resumes)


TICKETS_KEY = web.AppKey("mythos_tickets", TicketBook)


# -- helpers -------------------------------------------------------------------------------------

def same_origin(request: web.Request) -> bool:
    """Whether the request comes from a page of this very host (its ``Origin`` says so)."""
    origin = request.headers.get("Origin", "")
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.netloc)
            and parts.netloc.lower() == (request.host or "").lower())


def client_host(request: web.Request) -> str:
    return request.remote or "?"


def answer(body: dict[str, Any], status: int = 200) -> web.Response:
    resp = web.json_response(body, status=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def problem(error: str, message: str, status: int) -> web.Response:
    return answer({"ok": False, "error": error, "message": message}, status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def from_our_page(handler: Handler) -> Handler:
    """Refuse a request whose Origin is not this host: another site's page may not log its
    visitors in, out, or anywhere."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return problem("bad_origin", "Requests must come from this server's own page.", 403)
        return await handler(request)

    return guarded


async def _fields(request: web.Request, *names: str) -> dict[str, str] | web.Response:
    try:
        body = await request.json()
    except Exception:
        return problem("bad_request", "Send a JSON object.", 400)
    if not isinstance(body, dict):
        return problem("bad_request", "Send a JSON object.", 400)
    out: dict[str, str] = {}
    for name in names:
        value = body.get(name, "")
        if not isinstance(value, str):
            return problem("bad_request", f"'{name}' must be text.", 400)
        out[name] = value.strip() if name != "password" else value
    return out


def _admit(request: web.Request, name: str, *, new: bool) -> web.Response:
    book = request.app[TICKETS_KEY]
    token, secret = book.issue(name, client_host(request), new=new)
    return _with_resume(request, answer({"ok": True, "name": name, "token": token,
                                         "expires_in": book.ticket_seconds}), secret)


def _with_resume(request: web.Request, resp: web.Response, secret: str) -> web.Response:
    resp.set_cookie(RESUME_COOKIE, secret, max_age=int(RESUME_SECONDS), path="/api/",
                    httponly=True, samesite="Strict", secure=request.secure)
    return resp


def _answer_of_world(request: web.Request, reply: dict[str, Any], *,
                     new: bool) -> web.Response:
    """The world's answer to a login or a creation, as the API gives it."""
    if reply.get("ok") and isinstance(reply.get("name"), str):
        return _admit(request, reply["name"], new=new)
    reason = str(reply.get("reason", "unavailable"))
    if reason == "unavailable":
        log.warning("login_world_unavailable", peer=client_host(request))
    return problem(reason, str(reply.get("message", "")), STATUS.get(reason, 400))


# -- the endpoints -------------------------------------------------------------------------------

@from_our_page
async def api_login(request: web.Request) -> web.StreamResponse:
    fields = await _fields(request, "name", "password")
    if isinstance(fields, web.Response):
        return fields
    reply = await request.app[GATEWAY_KEY].auth("login", fields["name"], fields["password"],
                                                client_host(request))
    return _answer_of_world(request, reply, new=False)


@from_our_page
async def api_create(request: web.Request) -> web.StreamResponse:
    fields = await _fields(request, "name", "password", "profession")
    if isinstance(fields, web.Response):
        return fields
    prof = (find_profession(fields["profession"]) if fields["profession"]
            else PROFESSIONS[DEFAULT_PROFESSION])
    if prof is None:
        return problem("invalid", "No such profession.", 400)
    reply = await request.app[GATEWAY_KEY].auth("create", fields["name"], fields["password"],
                                                client_host(request), prof.id)
    return _answer_of_world(request, reply, new=True)


@from_our_page
async def api_resume(request: web.Request) -> web.StreamResponse:
    book = request.app[TICKETS_KEY]
    secret = request.cookies.get(RESUME_COOKIE, "")
    found = book.resume(secret, client_host(request)) if secret else None
    if found is None:
        resp = problem("no_session", "Your session has ended; log in again.", 401)
        resp.del_cookie(RESUME_COOKIE, path="/api/")
        return resp
    name, token, new_secret = found
    return _with_resume(request, answer({"ok": True, "name": name, "token": token,
                                         "expires_in": book.ticket_seconds}), new_secret)


@from_our_page
async def api_logout(request: web.Request) -> web.StreamResponse:
    secret = request.cookies.get(RESUME_COOKIE, "")
    if secret:
        request.app[TICKETS_KEY].revoke(secret)
    resp = answer({"ok": True})
    resp.del_cookie(RESUME_COOKIE, path="/api/")
    return resp


async def api_info(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY_KEY]
    return answer({
        "name": gateway.settings.name,
        "professions": [{"id": p.id, "name": p.name} for p in PROFESSIONS.values()],
        "default_profession": DEFAULT_PROFESSION,
    })


def add_routes(webapp: web.Application, gateway: Gateway) -> None:
    webapp[GATEWAY_KEY] = gateway
    webapp[TICKETS_KEY] = TicketBook(ticket_seconds=gateway.settings.web_ticket_seconds)
    webapp.router.add_post("/api/login", api_login)
    webapp.router.add_post("/api/create", api_create)
    webapp.router.add_post("/api/resume", api_resume)
    webapp.router.add_post("/api/logout", api_logout)
    webapp.router.add_get("/api/info", api_info)


__all__ = ["GATEWAY_KEY", "TICKETS_KEY", "Ticket", "TicketBook", "add_routes", "same_origin"]
