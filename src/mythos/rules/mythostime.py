"""Mythos time (RULES.md, Mythos time): a clock faster than ours, told in words. Pure: every
function takes the real time it needs; nothing here reads a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Mythos hours per real hour (the reference: 9.6).
RATE = 9.6
#: 1 Jan 2025 real = 1 Jan 1930 Mythos.
REAL_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
MYTHOS_EPOCH = datetime(1930, 1, 1)
#: Day is DAY_START:00 to DAY_END:00 (lucidity's day and night, dawn and dusk).
DAY_START, DAY_END = 6, 18

_HOURS = ("twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven")
_PAST = {5: "five past", 10: "ten past", 15: "a quarter past", 20: "twenty past",
         25: "twenty-five past", 30: "half past", 35: "twenty-five to", 40: "twenty to",
         45: "a quarter to", 50: "ten to", 55: "five to"}


@dataclass(frozen=True)
class MythosClock:
    """Maps real time (a Unix timestamp) to Mythos time: ``anchor_real`` is ``anchor_mythos``,
    and Mythos time runs ``rate`` times as fast."""

    rate: float = RATE
    anchor_real: float = REAL_EPOCH.timestamp()
    anchor_mythos: datetime = MYTHOS_EPOCH

    @classmethod
    def starting(cls, real_now: float, mythos_now: datetime, rate: float = RATE) -> MythosClock:
        """A clock that reads ``mythos_now`` at real time ``real_now``."""
        return cls(rate, real_now, mythos_now.replace(tzinfo=None))

    def at(self, real: float) -> datetime:
        return self.anchor_mythos + timedelta(seconds=(real - self.anchor_real) * self.rate)


def is_day(dt: datetime) -> bool:
    return DAY_START <= dt.hour < DAY_END


def period(dt: datetime) -> str:
    return "day" if is_day(dt) else "night"


def hour_key(dt: datetime) -> tuple[int, int, int, int]:
    return (dt.year, dt.month, dt.day, dt.hour)


def crossings(before: datetime, after: datetime) -> list[str]:
    """"dawn" and/or "dusk" for each start of day or night passed from ``before`` (exclusive)
    to ``after`` (inclusive); at most one of each, newest last."""
    if after <= before:
        return []
    out: list[tuple[datetime, str]] = []
    day = datetime(before.year, before.month, before.day)
    while day <= after:
        for hour, name in ((DAY_START, "dawn"), (DAY_END, "dusk")):
            t = day + timedelta(hours=hour)
            if before < t <= after:
                out.append((t, name))
        day += timedelta(days=1)
    seen: dict[str, datetime] = {}
    for t, name in out:
        seen[name] = t
    return [name for name, _ in sorted(seen.items(), key=lambda kv: kv[1])]


DAWN = "{y}The sky over the gambrel roofs greys, then pales: dawn comes to Arkham.{x}"
DUSK = "{b}The light drains out of the sky, and the long shadows join: night falls.{x}"


def part_of_day(hour: int) -> str:
    if hour < 5 or hour >= 22:
        return "at night"
    if hour < 12:
        return "in the morning"
    if hour < 18:
        return "in the afternoon"
    return "in the evening"


def in_words(dt: datetime) -> str:
    """'a quarter past nine in the evening, Tuesday, 14 March 1930' (to the nearest five
    minutes)."""
    total = (dt.hour * 60 + dt.minute + 2) // 5 * 5  # nearest five minutes
    hour, minute = divmod(total % (24 * 60), 60)
    shown = hour if minute <= 30 else (hour + 1) % 24
    if minute == 0 and shown == 0:
        clock = "midnight"
    elif minute == 0 and shown == 12:
        clock = "noon"
    else:
        name = _HOURS[shown % 12]
        clock = (f"{name} o'clock" if minute == 0 else f"{_PAST[minute]} {name}")
        clock += " " + part_of_day(shown if minute > 30 else hour)
    date = dt + timedelta(minutes=total - (dt.hour * 60 + dt.minute))
    return f"{clock}, {date.strftime('%A')}, {date.day} {date.strftime('%B %Y')}"


def gmcp_time(dt: datetime) -> dict[str, object]:
    """``Mythos.Time`` (GMCP.md)."""
    return {"year": dt.year, "month": dt.month, "day": dt.day, "hour": dt.hour,
            "minute": dt.minute, "period": period(dt)}
