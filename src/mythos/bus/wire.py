"""What travels between gateways and the world, and on which subjects (``prefix`` from the
``bus_prefix`` setting, so that several games can share one NATS server).

Gateway -> world, one subject per session, ``<prefix>.in.<gateway>.<session>``; a dict with
``k``, the kind:

- ``connect``: a new client, or one taken up again after a world restart. ``wire``: the
  version of these messages the gateway speaks (``WIRE``; missing: 1), ``kind`` ("telnet"
  or "websocket"), ``peer`` ("host:port"), ``term`` (width, height, ttype, ansi, charset),
  ``oob`` (the client's Core.Hello and Core.Supports.* so far, to replay), and ``login`` when the
  player is logged in already: ``{"name", "new", "resume"}`` (the browser's login API, or a
  player who was in the game when the world restarted; in a resume also ``epoch``: the world
  the player was last in; another world's means it comes back from a restart, without
  fanfare; this world's, that it had been let go and comes back in).
- ``line`` (``t``: one line typed; ``n``: its number, counted by the gateway per session from
  1, wire 4 and later), ``oob`` (``p`` package, ``d`` data), ``term`` (facts that changed),
  ``gone`` (the socket closed), ``resync`` (what the world sent while it or the gateway was
  off NATS may be lost: ``after``, wire 5 and later, is the number of the last ``s`` op the
  gateway got for the session, and the world sends again those after it that it still keeps;
  when it does not keep them all, or without ``after``, it sends the session's state again,
  its GMCP vitals, status, room and inventory).

Lines typed while a world dies or NATS is away are not lost: the world says which line of a
session it has begun (``n``, below), and the gateway keeps each line it sent that the world has
not yet said it began. When a world takes the session up again (after a restart, a crash, the
world's ``x``) the gateway sends those lines again, in order, then the ones that waited; so it
does when NATS comes back after it was away (what was published meanwhile may be lost), once
it hears the world again, holding lines typed until then, and when the world says it was off
NATS for a moment (its ``link``, below). A line the world said it began is
never sent again (a crash may have cut it short). One it began without having said so yet may
run twice; so before an economy action changes the database the world makes sure the gateway
has heard that its line began (``n``, flushed to NATS): an item or money move is never made
twice. (If NATS does not confirm that within ``BEGUN_TIMEOUT``, the action is refused and
nothing moves.) A world sent a line again that it has begun or has waiting already skips it.

World -> gateway, batched: ``<prefix>.out.<gateway>`` carries ``{"ops": [...]}``, every op a list
naming its session (output of one pulse to thousands of clients is one message, not thousands):

- ``["s", sid, text, prompt, gmcp]``: what a session is sent at once (a pulse's news, a
  command's answer), to be written in one go: rendered ``text`` ("" for none), ``prompt``: it
  ends with a prompt (telnet GA/EOR), then its GMCP messages as one flat list ``[package,
  json, package, json, ...]``, each message's data as JSON text (or null: none), encoded once
  by the world for everyone who gets it (to a gateway of wire 3 and later); to a gateway of
  wire 4 and later a sixth item: the number of the last line of this session the world began;
  to a gateway of wire 5 and later a seventh: the op's own number, counted per session from 1
  by the world (on NATS the world keeps those of the last ``REPLAY_SECONDS``, at most
  ``REPLAY_OPS``, to send again at a ``resync``; the gateway skips one it has had already, so
  none is written twice)
- ``["n", sid, line]``: the world began that line (wire 4), sent before an economy action
  commits; otherwise the count rides on ``s``
- ``["t", sid, text, prompt]``: rendered text; ``prompt``: it ends with a prompt (to a
  gateway of wire 1 or 2)
- ``["j", sid, package, json]``: one GMCP message, its data as JSON text (or null: none), to a
  gateway of wire 2
- ``["o", sid, package, data]``: one GMCP message, its data as is (to a gateway of wire 1)
- ``["e", sid, on]``: echo on or off (password prompts)
- ``["b", sid, name, epoch]``: the session is now playing ``name`` in the world of ``epoch``
  (kept by the gateway for restarts)
- ``["r", sid, code, message]``: a login was refused (the browser shows it)
- ``["c", sid, message, reconnect]``: hang up, after ``message``
- ``["w", sid, message]``: the world is going down for a restart: say ``message``, keep the
  connection, take the session up again when the world is back
- ``["x", sid, epoch]``: the world of ``epoch`` does not know this session (it restarted):
  take it up again (once: the world's status that follows does not take it up a second time)

Presence: ``<prefix>.world.status`` (``{"state": "up"|"down", "epoch", "wire", "link",
"restarting", "mssp"}``, every second and at each change; ``wire``: the version the world
speaks, missing: 1; a gateway keeps lines to send again only for a world of wire 4 and later;
``link``: how many times the world has (re)connected to NATS: when it changes, the world was
off NATS for a moment, and gateways send again what it has not begun) and
``<prefix>.gateway.status`` (``{"gateway", "state", "sessions"}``, every second). Requests:
``<prefix>.world.auth`` (the browser's login API).
"""

from __future__ import annotations

import re

#: The version of these messages, sent by gateways with each ``connect``: a world of a newer
#: release sends a gateway of an older one only what it understands, so the world can be
#: restarted on a new release while the gateways keep their players. 2: the ``j`` op; 3: the
#: ``s`` op (a session's text and GMCP in one op, one write); 4: lines numbered, the ``n`` op and
#: the line begun on ``s``; 5: ``s`` ops numbered, sent again after ``resync``.
WIRE = 5
#: Seconds between heartbeats, both ways.
HEARTBEAT = 1.0
#: A world or gateway not heard from for this long is taken for dead.
SILENCE = 3.5
#: How long the world keeps a session's ``s`` ops (on NATS) to send again at a ``resync``, and
#: at most how many: a NATS outage the players outlive in the world lasts at most ``SILENCE``
#: (then the world lets them go), and the gateway asks within a heartbeat of hearing it again.
REPLAY_SECONDS = SILENCE + 2 * HEARTBEAT
REPLAY_OPS = 32
#: How long an item move waits for NATS to confirm that its gateway heard which line began
#: (the ``n`` op) before it is refused, nothing moved.
BEGUN_TIMEOUT = 2.0
#: Lines a session may have waiting (in the world, or in the gateway while the world is down).
MAX_QUEUED_LINES = 64
#: The world's ops for one gateway go out in messages of about this many bytes at most (far
#: under NATS's 1 MiB limit on one message).
BATCH_BYTES = 256 * 1024

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_token(value: str, what: str, *, dots: bool = False) -> str:
    """A subject token (a gateway name): letters, digits, '-' and '_'; with ``dots``, several
    tokens joined by '.' (the prefix)."""
    for part in value.split(".") if dots else [value]:
        if not _TOKEN.match(part):
            raise ValueError(f"{what} {value!r}: use letters, digits, '-' and '_'"
                             + (" (and '.' between them)" if dots else ""))
    return value


class Subjects:
    def __init__(self, prefix: str = "mythos") -> None:
        self.prefix = check_token(prefix, "bus prefix", dots=True)
        p = self.prefix
        self.inbound_all = f"{p}.in.>"
        self._in = f"{p}.in."
        self.world_status = f"{p}.world.status"
        self.gateway_status = f"{p}.gateway.status"
        self.auth = f"{p}.world.auth"

    def inbound(self, gateway: str, sid: str) -> str:
        return f"{self._in}{gateway}.{sid}"

    def split_inbound(self, subject: str) -> tuple[str, str] | None:
        """``<prefix>.in.<gateway>.<sid>`` -> (gateway, sid)."""
        if not subject.startswith(self._in):
            return None
        parts = subject[len(self._in):].split(".")
        if len(parts) != 2:
            return None
        return parts[0], parts[1]

    def outbound(self, gateway: str) -> str:
        return f"{self.prefix}.out.{gateway}"
