"""A real MUD client against the real server: TinTin++ logs in, walks, and keeps the GMCP.

``tests/tintin/login.tin`` is a template: the test fills in the port, a name, a password and a
log file, and runs ``tt++ -G -H script < /dev/null`` (no greeting, nohup mode: no terminal
needed). The script accepts GMCP, logs in with ``create``, looks, walks the first exit that
Room.Info lists, quits and exits; every GMCP message it received is one line of the log."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).parent / "tintin" / "login.tin"
TT = shutil.which("tt++") or next(
    (p for p in ("/usr/games/tt++", "/usr/bin/tt++") if os.access(p, os.X_OK)), None)

pytestmark = pytest.mark.skipif(
    TT is None, reason="TinTin++ (tt++) is not installed; `make test` installs it (Debian "
    "package tintin++)")


def parse_log(text: str) -> tuple[list[tuple[str, object]], list[str]]:
    """GMCP lines ("Package {json}") and the script's own notes ("WALK e", "GAVE UP")."""
    gmcp: list[tuple[str, object]] = []
    notes: list[str] = []
    for line in text.splitlines():
        package, _, data = line.strip().partition(" ")
        if "." in package:
            gmcp.append((package, json.loads(data) if data else None))
        elif line.strip():
            notes.append(line.strip())
    return gmcp, notes


async def run_tintin(script: Path, cwd: Path, timeout: float = 30.0) -> tuple[int, str]:
    assert TT is not None
    proc = await asyncio.create_subprocess_exec(
        TT, "-G", "-H", str(script), cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm",
             "HOME": str(cwd)})
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        pytest.fail(f"tt++ did not finish within {timeout}s; it printed:\n"
                    f"{out.decode(errors='replace')[-3000:]}")
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_tintin_logs_in_walks_and_receives_gmcp(server, tmp_path: Path):
    log_file = tmp_path / "gmcp.log"
    template = await asyncio.to_thread(TEMPLATE.read_text)
    script = (template.replace("@PORT@", str(server.telnet_port))
              .replace("@NAME@", "Tintin").replace("@PASSWORD@", "eldersign1926")
              .replace("@LOG@", str(log_file)))
    script_file = tmp_path / "login.tin"
    await asyncio.to_thread(script_file.write_text, script)

    code, output = await run_tintin(script_file, tmp_path)

    exists = await asyncio.to_thread(log_file.exists)
    assert exists, f"tt++ (exit {code}) logged no GMCP; it printed:\n{output[-3000:]}"
    gmcp, notes = parse_log(await asyncio.to_thread(log_file.read_text))
    assert "GAVE UP" not in notes, (notes, output[-3000:])

    rooms = [data for package, data in gmcp if package == "Room.Info"]
    assert rooms, gmcp
    first = rooms[0]
    assert isinstance(first, dict)
    assert first["num"] == "arkham.square"
    assert first["name"] == "Independence Square"
    assert {"area", "exits", "coords"} <= first.keys()
    assert first["exits"], first

    walked = [n.split()[1] for n in notes if n.startswith("WALK ")]
    assert walked and walked[0] in first["exits"], notes
    assert any(isinstance(r, dict) and r["num"] == first["exits"][walked[0]] for r in rooms[1:]), \
        rooms

    vitals = [data for package, data in gmcp if package == "Char.Vitals"]
    assert vitals, gmcp
    v = vitals[0]
    assert isinstance(v, dict)
    assert {"hp", "maxhp", "lucidity", "maxlucidity"} <= v.keys()
    assert 0 < v["hp"] <= v["maxhp"]
