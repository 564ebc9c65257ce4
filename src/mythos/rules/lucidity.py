"""Lucidity (LCD) tiers (RULES.md, Lucidity). The flux and rites come with the lucidity issue."""

from __future__ import annotations

LCD_MIN, LCD_MAX = -100, 100

#: (lowest LCD of the tier, name), best first.
TIERS: tuple[tuple[int, str], ...] = (
    (70, "lucid"), (40, "uneasy"), (20, "fractured"), (1, "deranged"), (LCD_MIN, "catatonic"))


def tier(lucidity: int) -> str:
    for floor, name in TIERS:
        if lucidity >= floor:
            return name
    return "catatonic"
