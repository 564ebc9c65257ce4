"""Talking (RULES.md, Communication): the channels, who they reach, how fast one may talk on
them, how long a mute may last. Every number of it lives here. No IO."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    name: str
    caption: str
    #: "room" (everyone here), "zone" (the room's zone), "world" (everyone online),
    #: "private" (one player).
    reach: str
    #: Lines a character may send per minute; None: no limit.
    per_minute: int | None
    #: Whether a player may mute it or turn it off.
    mutable: bool = True
    #: Only staff (builder and admin) may talk on it.
    staff: bool = False


#: Every channel, in the order ``channels`` lists them. RULES.md gives say 15, local 20,
#: global 10 and whisper 5 lines a minute; emote and pose take say's number.
CHANNELS: dict[str, Channel] = {c.name: c for c in (
    Channel("say", "Say", "room", 15),
    Channel("emote", "Emote", "room", 15),
    Channel("pose", "Pose", "room", 15),
    Channel("local", "Local", "zone", 20),
    Channel("global", "Global", "world", 10),
    Channel("whisper", "Whisper", "private", 5),
    Channel("announce", "Announcements", "world", None, mutable=False, staff=True),
)}

#: The longest mute or silence, in minutes (a year). Without a number they last until lifted.
MAX_MINUTES = 525_600
#: The longest pose, in characters.
POSE_MAX = 160


#: The roles that count as staff: they may talk on staff channels and use staff commands.
STAFF_ROLES = frozenset({"builder", "admin"})


def is_staff(role: str) -> bool:
    return role in STAFF_ROLES


def find_channel(word: str) -> Channel | None:
    return CHANNELS.get(word.strip().lower())


def parse_minutes(word: str) -> int | None:
    """'15' -> 15; None for anything that is not a whole number of minutes in range."""
    w = word.strip()
    if not w.isdigit():
        return None
    n = int(w)
    return n if 1 <= n <= MAX_MINUTES else None


def describe_left(seconds: float, minute_seconds: float = 60.0) -> str:
    """Time left in words, counted in (possibly shortened) minutes: 'for 3 more minutes',
    'for less than a minute more', or 'until lifted' for ``inf``."""
    if math.isinf(seconds):
        return "until lifted"
    minutes = math.ceil(max(0.0, seconds) / minute_seconds)
    if minutes <= 1:
        return "for about a minute more"
    return f"for {minutes} more minutes"


class RateLimiter:
    """At most ``limit`` lines in any ``window`` seconds, per key (a sliding window)."""

    def __init__(self, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._sent: dict[Hashable, deque[float]] = {}

    def take(self, key: Hashable, limit: int) -> float:
        """Count one line for ``key`` and return 0.0 when it is allowed; else the seconds until
        it would be (nothing is counted)."""
        now = self.clock()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) >= limit:
            return max(0.001, sent[0] + self.window - now)
        sent.append(now)
        return 0.0

    def prune(self) -> None:
        """Forget keys with nothing inside the window."""
        cutoff = self.clock() - self.window
        for key in [k for k, d in self._sent.items() if not d or d[-1] <= cutoff]:
            del self._sent[key]

    def __len__(self) -> int:
        return len(self._sent)
