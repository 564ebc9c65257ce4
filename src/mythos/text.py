"""Text helpers shared by every layer: colour markup, sanitizing player text, wrapping.

Markup: ``{r}`` red, ``{g}`` green, ``{y}`` yellow, ``{b}`` blue, ``{m}`` magenta, ``{c}`` cyan,
``{w}`` white, upper case for the bright form (``{R}``), ``{x}`` reset, ``{{`` a literal brace.
The game writes markup; each session renders it as ANSI or strips it, as its client can show.
"""

from __future__ import annotations

import re

_ANSI = {
    "r": "\x1b[31m", "g": "\x1b[32m", "y": "\x1b[33m", "b": "\x1b[34m",
    "m": "\x1b[35m", "c": "\x1b[36m", "w": "\x1b[37m",
    "R": "\x1b[1;31m", "G": "\x1b[1;32m", "Y": "\x1b[1;33m", "B": "\x1b[1;34m",
    "M": "\x1b[1;35m", "C": "\x1b[1;36m", "W": "\x1b[1;37m",
    "x": "\x1b[0m",
}
_MARKUP = re.compile(r"\{\{|\{([rgybmcwxRGYBMCWX])\}")

#: ANSI/VT escape sequences (CSI, OSC, and two-byte escapes) and the C0/C1 controls.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"        # CSI ... final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST
    r"|\x1b[@-Z\\-_]"                 # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"         # 8-bit CSI
)
_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


#: What each markup token becomes: with ANSI colour, and as plain text.
_TO_ANSI = {"{{": "{", **{f"{{{k}}}": v for k, v in _ANSI.items()}, "{X}": _ANSI["x"]}
_TO_PLAIN = {k: ("{" if k == "{{" else "") for k in _TO_ANSI}


def _sub_ansi(m: re.Match[str]) -> str:
    return _TO_ANSI[m.group(0)]


def _sub_plain(m: re.Match[str]) -> str:
    return _TO_PLAIN[m.group(0)]


def render(text: str, *, ansi: bool) -> str:
    """Turn markup into ANSI colour (``ansi=True``) or into plain text."""
    if "{" not in text:
        out = text  # no markup (player text is escaped: a brace in it is "{{")
    else:
        out = _MARKUP.sub(_sub_ansi if ansi else _sub_plain, text)
    if ansi:
        last = out.rfind("\x1b[")
        if last >= 0 and not out.startswith("\x1b[0m", last):
            out += "\x1b[0m"  # never leave the client's terminal coloured
    return out


class Shared:
    """Markup many sessions are sent (a room's, a channel's line): rendered once per colour
    mode for all of them, not once per listener. ``Session.write(Shared(markup))``."""

    __slots__ = ("_ansi", "_plain", "markup")

    def __init__(self, markup: str) -> None:
        self.markup = markup
        self._ansi: str | None = None
        self._plain: str | None = None

    def rendered(self, ansi: bool) -> str:
        """The text, ending in a new line."""
        if ansi:
            if self._ansi is None:
                self._ansi = _line(render(self.markup, ansi=True))
            return self._ansi
        if self._plain is None:
            self._plain = _line(render(self.markup, ansi=False))
        return self._plain

    def __repr__(self) -> str:
        return f"Shared({self.markup[:60]!r})"


def _line(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def rendered_line(text: str | Shared, ansi: bool) -> str:
    """Markup (or a ``Shared``) rendered, ending in a new line."""
    if isinstance(text, Shared):
        return text.rendered(ansi)
    return _line(render(text, ansi=ansi))


def escape(text: str) -> str:
    """Make player text inert as markup: a brace stays a brace."""
    return text.replace("{", "{{")


def sanitize(text: str) -> str:
    """Strip escape sequences and control characters (tabs become spaces) from player text."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\t", " ")
    text = _CONTROLS.sub("", text)
    return text.strip()


def player_text(text: str) -> str:
    """What another player may be shown of a player's words: sanitized and markup-escaped."""
    return escape(sanitize(text))


def strip_markup(text: str) -> str:
    return render(text, ansi=False)
