"""What a character's mind keeps besides its LCD: the rooms it has explored, the horrors it has
met, its liabilities and the cooldowns of its recovery rites; and, transient, the flux state.

Plain data owned by the loop. Changes are queued in ``pending`` and written behind with the
character's progress (``store/mind.py``, ``store/writebehind.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class MindChanges:
    """Rows not yet saved: new explored rooms, encounter counts, cooldowns, liabilities."""

    explored: set[str] = field(default_factory=set)
    encounters: dict[str, int] = field(default_factory=dict)
    cooldowns: dict[str, datetime] = field(default_factory=dict)
    liabilities: dict[str, datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.explored or self.encounters or self.cooldowns or self.liabilities)

    def merge_under(self, newer: MindChanges) -> MindChanges:
        """These (older, unsaved) changes with ``newer`` ones on top."""
        return MindChanges(self.explored | newer.explored,
                           {**self.encounters, **newer.encounters},
                           {**self.cooldowns, **newer.cooldowns},
                           {**self.liabilities, **newer.liabilities})


@dataclass(eq=False)
class Mind:
    explored: set[str] = field(default_factory=set)
    encounters: dict[str, int] = field(default_factory=dict)  # kind -> meetings
    cooldowns: dict[str, datetime] = field(default_factory=dict)  # rite -> ready again at
    liabilities: dict[str, datetime] = field(default_factory=dict)  # name -> gained at
    pending: MindChanges = field(default_factory=MindChanges)
    # -- transient (never saved) --
    flux_fraction: float = 0.0
    flux_room: str = ""
    flux_ticks_in_room: int = 0
    #: NPC instances already met this session (a sight counts once per instance).
    seen_npcs: set[int] = field(default_factory=set)

    def explore(self, room_id: str) -> bool:
        """Record a visit; True when it is the first."""
        if room_id in self.explored:
            return False
        self.explored.add(room_id)
        self.pending.explored.add(room_id)
        return True

    def met(self, kind: str) -> int:
        """Count one more meeting with ``kind``; the meetings before this one."""
        before = self.encounters.get(kind, 0)
        self.encounters[kind] = before + 1
        self.pending.encounters[kind] = before + 1
        return before

    def set_cooldown(self, rite: str, until: datetime) -> None:
        self.cooldowns[rite] = until
        self.pending.cooldowns[rite] = until

    def gain_liability(self, name: str, at: datetime) -> None:
        self.liabilities[name] = at
        self.pending.liabilities[name] = at

    def take_pending(self) -> MindChanges:
        out, self.pending = self.pending, MindChanges()
        return out

    def restore_pending(self, changes: MindChanges) -> None:
        """A write failed: keep ``changes`` unsaved (under anything newer)."""
        self.pending = changes.merge_under(self.pending)
