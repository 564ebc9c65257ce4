"""Aliases (RULES.md, Aliases): a player's own words for commands, with ``$1``..``$9`` and
``$*``. The limits live here; expansion is a pure function the command table calls once per
line. No IO."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: At most this many aliases per character.
MAX_COUNT = 50
#: At most this many characters in one alias's command.
MAX_LENGTH = 500
#: An alias may name another alias, at most this many expansions deep.
MAX_DEPTH = 10
#: Alias names: a letter, then letters, digits, '_' or '-'; 1 to 20 in all.
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,19}$")
#: Names that stay the built-in commands, so a player can always undo an alias.
PROTECTED = frozenset({"alias", "unalias", "aliases"})

_VAR = re.compile(r"\$(\$|\*|[1-9])")


def substitute(template: str, args: str) -> str:
    """Fill ``$1``..``$9`` with the words of ``args`` (missing ones are empty), ``$*`` with all
    of it, ``$$`` with a dollar sign. A template without any of them gets ``args`` appended."""
    words = args.split()
    used = False

    def sub(m: re.Match[str]) -> str:
        nonlocal used
        token = m.group(1)
        if token == "$":
            return "$"
        used = True
        if token == "*":
            return args
        i = int(token) - 1
        return words[i] if i < len(words) else ""

    out = _VAR.sub(sub, template)
    if not used and args:
        out = f"{out} {args}"
    return " ".join(out.split()) if used else out


@dataclass(frozen=True)
class Expansion:
    line: str
    error: str | None = None
    used: tuple[str, ...] = ()  # the aliases expanded, in order


def _first_word(line: str) -> str:
    parts = line.split(None, 1)
    return parts[0].lower() if parts else ""


def expand(aliases: Mapping[str, str], line: str, *, max_length: int = 4096) -> Expansion:
    """The command ``line`` stands for: while its first word names an alias, replace it.
    More than ``MAX_DEPTH`` expansions (a loop made through ``$1``, say) or a line longer than
    ``max_length`` is an error, and nothing should run."""
    used: list[str] = []
    while True:
        head = _first_word(line)
        if head not in aliases:
            return Expansion(line, used=tuple(used))
        if len(used) >= MAX_DEPTH:
            chain = " -> ".join([*used, head])
            return Expansion(line, f"Your aliases go more than {MAX_DEPTH} deep ({chain}); "
                                   "nothing was done.", tuple(used))
        used.append(head)
        rest = line.split(None, 1)
        line = substitute(aliases[head], rest[1].strip() if len(rest) > 1 else "")
        if len(line) > max_length:
            return Expansion(line[:max_length], "That alias makes a line too long; nothing "
                                                "was done.", tuple(used))


def _chain(aliases: Mapping[str, str], start: str) -> tuple[list[str], bool]:
    """The aliases ``start`` leads through by its first words (as far as that is known without
    arguments), and whether it comes back to one of them (a loop)."""
    chain = [start]
    cur = start
    while True:
        nxt = _first_word(aliases[cur])
        if nxt.startswith("$") or nxt not in aliases:
            return chain, False
        if nxt in chain:
            chain.append(nxt)
            return chain, True
        chain.append(nxt)
        cur = nxt
        if len(chain) > MAX_DEPTH + 1:
            return chain, False


def check(aliases: Mapping[str, str], name: str, command: str) -> str | None:
    """Why ``alias name command`` cannot be made (a message for the player), or None."""
    if not NAME_RE.match(name):
        return ("An alias name is 1 to 20 letters, digits, '_' or '-', beginning with a "
                "letter.")
    if name in PROTECTED:
        return f"'{name}' stays what it is; choose another name."
    if not command.strip():
        return "Alias it to what?"
    if len(command) > MAX_LENGTH:
        return f"An alias may be at most {MAX_LENGTH} characters long."
    if name not in aliases and len(aliases) >= MAX_COUNT:
        return f"You have {MAX_COUNT} aliases already; remove one with 'unalias' first."
    trial = {**aliases, name: command}
    for start in [name, *(a for a in trial if a != name)]:  # a new loop goes through name
        chain, loop = _chain(trial, start)
        if loop:
            return f"That alias would loop: {' -> '.join(chain)}."
        if len(chain) > MAX_DEPTH:
            return (f"That alias would make a chain more than {MAX_DEPTH} deep: "
                    f"{' -> '.join(chain[:MAX_DEPTH + 1])}.")
    return None
